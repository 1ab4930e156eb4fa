/**
 * The typed message protocol between the page (client) and the engine worker. Every AdapterEngine
 * method except `subscribe` becomes a 'call' message with a numeric id answered by exactly one
 * 'result' message; engine events flow back as 'event' messages. Errors cross as EngineErrorInfo
 * (code + message) and are re-thrown as EngineError on the client side.
 */
import { isEngineErrorCode, type AdapterEngine, type EngineErrorInfo, type EngineEvent } from '../engine/types.ts';

/** AdapterEngine methods that travel as calls (subscribe is local to each side). */
export type EngineMethod = Exclude<keyof AdapterEngine, 'subscribe'>;

export type MethodArgs<M extends EngineMethod> = Parameters<NonNullable<AdapterEngine[M]>>;
export type MethodResult<M extends EngineMethod> = Awaited<ReturnType<NonNullable<AdapterEngine[M]>>>;

export type CallMessage = { [M in EngineMethod]: { type: 'call'; id: number; method: M; args: MethodArgs<M> } }[EngineMethod];

export type ResultMessage =
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: EngineErrorInfo };

export interface EventMessage {
  type: 'event';
  event: EngineEvent;
}

/** Sent once by the worker when its engine is constructed and listening. */
export interface ReadyMessage {
  type: 'ready';
}

export type ToEngineMessage = CallMessage;
export type FromEngineMessage = ResultMessage | EventMessage | ReadyMessage;

const ENGINE_METHODS: readonly EngineMethod[] = [
  'probe',
  'loadGenerator',
  'loadEncoder',
  'unloadEncoder',
  'setReference',
  'start',
  'pause',
  'resume',
  'cancel',
  'checkpoint',
  'exportSafetensors',
  'exportPickle',
  'importAdapted',
  'mixAdapted',
  'loadVocabulary',
  'detectFace',
  'render',
  'extractMesh',
  'cancelMesh',
  'evaluate',
  'cancelEvaluation',
  'renderVideo',
  'cancelVideo',
  'dispose',
];

/** The error codes that cross the boundary are exactly the AppError kinds (src/core/errors.ts ERROR_KINDS). */
export { isEngineErrorCode };

/**
 * Why `x` is not a well-formed call message (null when it is one). A message that names a call id
 * but fails this check is answered with an error result, so its caller does not wait forever.
 */
export function callProblem(x: unknown): string | null {
  if (!x || typeof x !== 'object') return 'not an object';
  const m = x as Partial<Record<keyof CallMessage, unknown>>;
  if (m.type !== 'call') return `type is ${JSON.stringify(m.type)}, not "call"`;
  if (typeof m.id !== 'number' || !Number.isSafeInteger(m.id)) return 'the call id is not an integer';
  if (typeof m.method !== 'string' || !(ENGINE_METHODS as readonly string[]).includes(m.method)) return `unknown method ${JSON.stringify(m.method)}`;
  if (!Array.isArray(m.args)) return `the arguments of ${m.method} are not an array`;
  return null;
}

export function isFromEngineMessage(x: unknown): x is FromEngineMessage {
  const m = x as { type?: unknown } | null;
  return !!m && (m.type === 'result' || m.type === 'event' || m.type === 'ready');
}

/**
 * Events of an endpoint: 'message'; 'messageerror' (a message that could not be deserialised); and,
 * on a Worker, 'error' (an uncaught error in the worker or a failure to start it: an ErrorEvent).
 */
export type EndpointEventType = 'message' | 'messageerror' | 'error';

/**
 * The part of a MessagePort / Worker / DedicatedWorkerGlobalScope the protocol needs, so the same
 * code runs over a real Worker in the browser and over a MessageChannel in Node tests.
 */
export interface MessageEndpoint {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: EndpointEventType, listener: (e: MessageEvent) => void): void;
  removeEventListener(type: EndpointEventType, listener: (e: MessageEvent) => void): void;
  start?(): void;
}

/** ArrayBuffers worth transferring (not copying) out of a value: large byte arrays and images. */
export function transferablesOf(value: unknown): Transferable[] {
  const out = new Set<ArrayBuffer>();
  const visit = (v: unknown, depth: number) => {
    if (!v || typeof v !== 'object' || depth > 4) return;
    if (ArrayBuffer.isView(v)) {
      // Only whole-buffer views are transferred: a view into a shared buffer would detach the rest.
      if (v.buffer instanceof ArrayBuffer && v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) out.add(v.buffer);
      return;
    }
    if (Array.isArray(v)) for (const x of v) visit(x, depth + 1);
    else if (!(v instanceof Blob)) for (const x of Object.values(v)) visit(x, depth + 1);
  };
  visit(value, 0);
  return [...out];
}

/**
 * The page side of the engine protocol: an AdapterEngine whose every method is a message to the
 * engine worker. `createWorkerEngine()` spawns the real worker; `createEngineClient(endpoint)` is the
 * transport-agnostic part (tests drive it over a MessageChannel).
 *
 * No call waits forever: when the worker errors or dies ('error' / 'messageerror' on the endpoint)
 * every pending call is rejected with an EngineError, an 'error' event is emitted, and the client is
 * closed (later calls reject at once); `close()` rejects pending calls as 'cancelled'.
 */
import { classifyError } from '../engine/errors.ts';
import { EngineError, type AdapterEngine, type EngineEvent } from '../engine/types.ts';
import {
  isEngineErrorCode,
  isFromEngineMessage,
  type EngineMethod,
  type MessageEndpoint,
  type MethodArgs,
  type MethodResult,
} from './protocol.ts';

export interface EngineClient extends AdapterEngine {
  /** Resolves once the engine side has announced it is listening. */
  readonly ready: Promise<void>;
  /** Detaches from the endpoint (pending calls are rejected as 'cancelled'). */
  close(): void;
  /** Calls waiting for their result. */
  readonly pendingCalls: number;
}

/** The EngineError for a worker that stopped, from its 'error' event (an ErrorEvent) or a 'messageerror'. */
export function workerFailure(e: Event | { message?: unknown; error?: unknown; type?: string }): EngineError {
  if (e.type === 'messageerror') {
    return new EngineError('internal', 'The engine worker sent a message that could not be read (messageerror); the engine was stopped.', { fatal: true });
  }
  const ev = e as { message?: unknown; error?: unknown };
  const detail = ev.error ?? (typeof ev.message === 'string' && ev.message ? ev.message : null);
  if (detail === null) return new EngineError('internal', 'The engine worker stopped without an error message (it may have run out of memory).', { fatal: true });
  const classified = classifyError(detail);
  return new EngineError(classified.code, `The engine worker stopped: ${classified.message}`, { cause: detail, fatal: true });
}

export function createEngineClient(endpoint: MessageEndpoint, onClose?: () => void): EngineClient {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const listeners = new Set<(e: EngineEvent) => void>();
  let markReady: () => void = () => {};
  let failReady: (e: unknown) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  // `ready` may never be awaited; its rejection must not surface as unhandled.
  ready.catch(() => {});
  let closed: EngineError | null = null;

  const emit = (event: EngineEvent) => {
    for (const l of [...listeners]) {
      try {
        l(event);
      } catch {
        // A failing listener must not stop the others.
      }
    }
  };

  const onMessage = (e: MessageEvent) => {
    const msg: unknown = e.data;
    if (!isFromEngineMessage(msg)) return;
    if (msg.type === 'ready') markReady();
    else if (msg.type === 'event') emit(msg.event);
    else {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new EngineError(isEngineErrorCode(msg.error?.code) ? msg.error.code : 'internal', String(msg.error?.message ?? 'unknown engine error')));
    }
  };

  /** Detaches and rejects every pending call (and `ready`, if still waiting) with `error`. */
  const shutDown = (error: EngineError) => {
    if (closed) return false;
    closed = error;
    endpoint.removeEventListener('message', onMessage);
    endpoint.removeEventListener('messageerror', onFailure);
    endpoint.removeEventListener('error', onFailure);
    failReady(error);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
    return true;
  };

  function onFailure(e: Event) {
    e.preventDefault?.(); // handled here: not an uncaught error of the page
    const error = workerFailure(e);
    const listening = [...listeners];
    if (!shutDown(error)) return;
    listeners.clear();
    for (const l of listening) {
      try {
        l({ type: 'error', error: error.toInfo() });
      } catch {
        // ignore
      }
    }
    onClose?.();
  }

  endpoint.addEventListener('message', onMessage);
  endpoint.addEventListener('messageerror', onFailure);
  endpoint.addEventListener('error', onFailure);
  endpoint.start?.();

  function call<M extends EngineMethod>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>> {
    if (closed) return Promise.reject(new EngineError('not-ready', `the engine worker is not running (${closed.message})`));
    const id = nextId++;
    return new Promise<MethodResult<M>>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      try {
        // Arguments are copied, not transferred: the caller keeps its checkpoint bytes and images.
        endpoint.postMessage({ type: 'call', id, method, args });
      } catch (e) {
        // e.g. DataCloneError: an argument that cannot cross the boundary.
        pending.delete(id);
        reject(classifyError(e));
      }
    });
  }

  const close = () => {
    if (!shutDown(new EngineError('cancelled', 'the engine worker was closed'))) return;
    listeners.clear();
    onClose?.();
  };

  return {
    ready,
    close,
    get pendingCalls() {
      return pending.size;
    },
    probe: (preference) => call('probe', preference),
    loadGenerator: (source) => call('loadGenerator', source),
    loadEncoder: (source) => call('loadEncoder', source),
    unloadEncoder: (id) => call('unloadEncoder', id),
    setReference: (image) => call('setReference', image),
    start: (settings, resumeFrom) => call('start', settings, resumeFrom),
    pause: () => call('pause'),
    resume: () => call('resume'),
    cancel: () => call('cancel'),
    checkpoint: () => call('checkpoint'),
    exportSafetensors: () => call('exportSafetensors'),
    exportPickle: () => call('exportPickle'),
    importAdapted: (file) => call('importAdapted', file),
    mixAdapted: (parts) => call('mixAdapted', parts),
    loadVocabulary: (file, name) => call('loadVocabulary', file, name),
    detectFace: (image) => call('detectFace', image),
    render: (request) => call('render', request),
    extractMesh: (request) => call('extractMesh', request),
    cancelMesh: () => call('cancelMesh'),
    evaluate: (request) => call('evaluate', request),
    cancelEvaluation: () => call('cancelEvaluation'),
    renderVideo: (request) => call('renderVideo', request),
    cancelVideo: () => call('cancelVideo'),
    subscribe: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    dispose: async () => {
      try {
        await call('dispose');
      } finally {
        close();
      }
    },
  };
}

/** Spawns the engine worker (module worker, bundled by Vite) and returns its client. */
export function createWorkerEngine(): EngineClient {
  const worker = new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: 'adapter3d-engine' });
  // A worker that dies (script error, out of memory) reports through 'error'; the client rejects
  // every pending call, emits an 'error' event and terminates it.
  return createEngineClient(worker as unknown as MessageEndpoint, () => worker.terminate());
}

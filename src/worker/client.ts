/**
 * The page side of the engine protocol: an AdapterEngine whose every method is a message to the
 * engine worker. `createWorkerEngine()` spawns the real worker; `createEngineClient(endpoint)` is the
 * transport-agnostic part (tests drive it over a MessageChannel).
 */
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
  checkpoint(): Promise<void>;
  /** Resolves once the engine side has announced it is listening. */
  readonly ready: Promise<void>;
  /** Detaches from the endpoint (pending calls are rejected). */
  close(): void;
}

export function createEngineClient(endpoint: MessageEndpoint, onClose?: () => void): EngineClient {
  let nextId = 1;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  const listeners = new Set<(e: EngineEvent) => void>();
  let markReady: () => void = () => {};
  const ready = new Promise<void>((r) => (markReady = r));
  let closed = false;

  const onMessage = (e: MessageEvent) => {
    const msg: unknown = e.data;
    if (!isFromEngineMessage(msg)) return;
    if (msg.type === 'ready') markReady();
    else if (msg.type === 'event') for (const l of [...listeners]) l(msg.event);
    else {
      const p = pending.get(msg.id);
      if (!p) return;
      pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new EngineError(isEngineErrorCode(msg.error.code) ? msg.error.code : 'internal', msg.error.message));
    }
  };
  endpoint.addEventListener('message', onMessage);
  endpoint.start?.();

  function call<M extends EngineMethod>(method: M, ...args: MethodArgs<M>): Promise<MethodResult<M>> {
    if (closed) return Promise.reject(new EngineError('not-ready', 'the engine worker has been closed'));
    const id = nextId++;
    return new Promise<MethodResult<M>>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // Arguments are copied, not transferred: the caller keeps its checkpoint bytes and images.
      endpoint.postMessage({ type: 'call', id, method, args });
    });
  }

  const close = () => {
    if (closed) return;
    closed = true;
    endpoint.removeEventListener('message', onMessage);
    for (const p of pending.values()) p.reject(new EngineError('cancelled', 'the engine worker was closed'));
    pending.clear();
    listeners.clear();
    onClose?.();
  };

  return {
    ready,
    close,
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
    render: (request) => call('render', request),
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
  // A worker that dies (script error, out of memory) reports through 'error', not through the
  // protocol; re-dispatch it as an engine 'error' event so the UI does not wait forever.
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    const message = `The engine worker stopped: ${e.message || 'unknown error (possibly out of memory)'}`;
    worker.dispatchEvent(new MessageEvent('message', { data: { type: 'event', event: { type: 'error', error: { code: 'internal', message } } } }));
  });
  return createEngineClient(worker as unknown as MessageEndpoint, () => worker.terminate());
}

/**
 * Serves an AdapterEngine over a MessageEndpoint (the worker side of the protocol). Calls are
 * handled concurrently — pause/cancel/checkpoint must get through while `start` is still running.
 */
import { EngineError, type AdapterEngine, type EngineErrorInfo } from '../engine/types.ts';
import { isToEngineMessage, transferablesOf, type FromEngineMessage, type MessageEndpoint, type ToEngineMessage } from './protocol.ts';

/** Maps anything thrown to the error info that crosses the boundary. */
export function toErrorInfo(e: unknown): EngineErrorInfo {
  if (e instanceof EngineError) return e.toInfo();
  const message = e instanceof Error ? e.message : String(e);
  // tfjs / WebGPU out-of-memory failures surface as plain errors; give them their own code so the
  // UI can suggest a smaller batch or resolution.
  if (/out of memory|OOM|allocation failed|Failed to allocate|Array buffer allocation/i.test(message)) {
    return { code: 'out-of-memory', message: `Ran out of memory: ${message}` };
  }
  return { code: 'internal', message };
}

export function serveEngine(engine: AdapterEngine, endpoint: MessageEndpoint): () => void {
  const post = (m: FromEngineMessage, transfer: Transferable[] = []) => endpoint.postMessage(m, transfer);
  const unsubscribe = engine.subscribe((event) => post({ type: 'event', event }, transferablesOf(event)));

  const call = async (msg: ToEngineMessage): Promise<unknown> => {
    // The union of argument tuples is checked by isToEngineMessage / the types on the client side.
    const fn = engine[msg.method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
    if (!fn) throw new EngineError('internal', `the engine does not implement ${msg.method}`);
    return fn.apply(engine, msg.args as unknown[]);
  };

  const onMessage = (e: MessageEvent) => {
    const msg: unknown = e.data;
    if (!isToEngineMessage(msg)) return; // not ours (or malformed): ignore
    call(msg).then(
      (value) => post({ type: 'result', id: msg.id, ok: true, value: value ?? null }, transferablesOf(value)),
      (err: unknown) => post({ type: 'result', id: msg.id, ok: false, error: toErrorInfo(err) }),
    );
  };
  endpoint.addEventListener('message', onMessage);
  endpoint.start?.();
  post({ type: 'ready' });
  return () => {
    endpoint.removeEventListener('message', onMessage);
    unsubscribe();
  };
}

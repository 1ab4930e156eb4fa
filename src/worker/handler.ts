/**
 * Serves an AdapterEngine over a MessageEndpoint (the worker side of the protocol). Calls are
 * handled concurrently — pause/cancel/checkpoint must get through while `start` is still running.
 * Every call message gets exactly one result; a malformed one that carries an id gets an error result.
 */
import { toErrorInfo } from '../engine/errors.ts';
import { EngineError, type AdapterEngine } from '../engine/types.ts';
import { callProblem, transferablesOf, type FromEngineMessage, type MessageEndpoint, type ToEngineMessage } from './protocol.ts';

export function serveEngine(engine: AdapterEngine, endpoint: MessageEndpoint): () => void {
  const post = (m: FromEngineMessage, transfer: Transferable[] = []) => endpoint.postMessage(m, transfer);
  const unsubscribe = engine.subscribe((event) => post({ type: 'event', event }, transferablesOf(event)));

  const call = async (msg: ToEngineMessage): Promise<unknown> => {
    // The union of argument tuples is checked by callProblem / the types on the client side.
    const fn = engine[msg.method] as ((...a: unknown[]) => Promise<unknown>) | undefined;
    if (!fn) throw new EngineError('internal', `the engine does not implement ${msg.method}`);
    return fn.apply(engine, msg.args as unknown[]);
  };

  const reply = (id: number, value: unknown) => {
    try {
      post({ type: 'result', id, ok: true, value: value ?? null }, transferablesOf(value));
    } catch (e) {
      // A value that cannot be cloned must still answer the call.
      post({ type: 'result', id, ok: false, error: toErrorInfo(e) });
    }
  };

  const onMessage = (e: MessageEvent) => {
    const msg: unknown = e.data;
    const problem = callProblem(msg);
    if (problem !== null) {
      // Not a call. One that names an id (and is not one of our own replies) is a broken call:
      // answer it, or its caller waits forever.
      const id = (msg as { id?: unknown } | null)?.id;
      const type = (msg as { type?: unknown } | null)?.type;
      if (typeof id === 'number' && Number.isSafeInteger(id) && type !== 'result' && type !== 'event' && type !== 'ready') {
        post({ type: 'result', id, ok: false, error: { code: 'internal', message: `malformed engine call: ${problem}` } });
      }
      return;
    }
    const m = msg as ToEngineMessage;
    call(m).then(
      (value) => reply(m.id, value),
      (err: unknown) => post({ type: 'result', id: m.id, ok: false, error: toErrorInfo(err) }),
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

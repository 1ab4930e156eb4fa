/**
 * Failure paths of the worker protocol, without tfjs: a worker that errors or dies rejects every
 * pending call with a typed error (and later calls at once); close() does the same as 'cancelled';
 * a malformed call with an id gets an error result; results and events transfer their buffers.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError, type AdapterEngine, type EngineEvent, type RgbaImage } from '../engine/types.ts';
import { createEngineClient, workerFailure, type EngineClient } from './client.ts';
import { serveEngine } from './handler.ts';
import { transferablesOf, type MessageEndpoint } from './protocol.ts';

/** A Worker stand-in: records what the client posts; the test dispatches what the worker would. */
class FakeWorker extends EventTarget {
  readonly posted: unknown[] = [];
  terminated = false;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  reply(data: unknown): void {
    this.dispatchEvent(new MessageEvent('message', { data }));
  }
  /** What a Worker dispatches when its script throws or it runs out of memory (an ErrorEvent). */
  fail(message: string): void {
    this.dispatchEvent(Object.assign(new Event('error', { cancelable: true }), { message, error: null }));
  }
}

const settle = <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
const flush = () => new Promise<void>((r) => setTimeout(r, 20));

function clientOf(worker: FakeWorker): { client: EngineClient; events: EngineEvent[] } {
  const client = createEngineClient(worker as unknown as MessageEndpoint, () => (worker.terminated = true));
  const events: EngineEvent[] = [];
  client.subscribe((e) => events.push(e));
  return { client, events };
}

describe('engine client: a worker that errors or dies', () => {
  it("rejects every pending call (start included) with a typed error on 'error', emits an error event and terminates the worker", async () => {
    const worker = new FakeWorker();
    const { client, events } = clientOf(worker);
    worker.reply({ type: 'ready' });
    await client.ready;
    const start = settle(client.start({} as never));
    const render = settle(client.render({ seed: 0, yaw: 0, pitch: 0, psi: 1, mode: 'rgb', strength: 1 }));
    const exported = settle(client.exportSafetensors());
    expect(worker.posted).toHaveLength(3);
    expect(client.pendingCalls).toBe(3);
    worker.fail('Uncaught TypeError: x is not a function');
    for (const r of await Promise.all([start, render, exported])) {
      expect(r.ok).toBe(false);
      const err = (r as { error: unknown }).error;
      expect(err).toBeInstanceOf(EngineError);
      expect((err as EngineError).code).toBe('internal');
      expect((err as EngineError).kind).toBe('internal');
      expect((err as Error).message).toMatch(/engine worker stopped: .*x is not a function/);
    }
    expect(client.pendingCalls).toBe(0);
    expect(events).toEqual([{ type: 'error', error: { code: 'internal', fatal: true, message: expect.stringMatching(/engine worker stopped/) } }]);
    expect(worker.terminated).toBe(true);
    // Later calls do not wait for a dead worker either.
    await expect(client.pause()).rejects.toMatchObject({ code: 'not-ready' });
    expect(worker.posted).toHaveLength(3);
    // A late result from the dead worker is ignored.
    worker.reply({ type: 'result', id: 1, ok: true, value: null });
  });

  it('classifies an out-of-memory death as out-of-memory', async () => {
    const worker = new FakeWorker();
    const { client } = clientOf(worker);
    const start = settle(client.start({} as never));
    worker.fail('Uncaught RangeError: Array buffer allocation failed');
    const r = await start;
    expect((r as { error: EngineError }).error.code).toBe('out-of-memory');
    // `ready` never came: it is rejected too, not left pending.
    await expect(client.ready).rejects.toMatchObject({ code: 'out-of-memory' });
  });

  it("treats 'messageerror' (an unreadable reply) as fatal too", async () => {
    const worker = new FakeWorker();
    const { client, events } = clientOf(worker);
    const probe = settle(client.probe('wasm'));
    worker.dispatchEvent(new MessageEvent('messageerror', { data: null }));
    const r = await probe;
    expect(r.ok).toBe(false);
    expect((r as { error: EngineError }).error).toBeInstanceOf(EngineError);
    expect((r as { error: EngineError }).error.code).toBe('internal');
    expect(events.map((e) => e.type)).toEqual(['error']);
    expect(worker.terminated).toBe(true);
  });

  it("close() rejects pending calls as 'cancelled', detaches listeners and refuses later calls", async () => {
    const worker = new FakeWorker();
    const { client, events } = clientOf(worker);
    const start = settle(client.start({} as never));
    client.close();
    const r = await start;
    expect((r as { error: EngineError }).error.code).toBe('cancelled');
    expect(worker.terminated).toBe(true);
    worker.reply({ type: 'event', event: { type: 'state', state: 'running' } });
    expect(events).toEqual([]);
    await expect(client.render({ seed: 0, yaw: 0, pitch: 0, psi: 1, mode: 'rgb', strength: 1 })).rejects.toMatchObject({ code: 'not-ready' });
    client.close(); // idempotent
  });

  it('re-creates typed errors from results, mapping an unknown code to internal', async () => {
    const worker = new FakeWorker();
    const { client } = clientOf(worker);
    const a = settle(client.loadGenerator({ kind: 'embedded' }));
    const b = settle(client.unloadEncoder('x'));
    worker.reply({ type: 'result', id: 1, ok: false, error: { code: 'bad-settings', message: 'batch size 0' } });
    worker.reply({ type: 'result', id: 2, ok: false, error: { code: 'no-such-code', message: 'odd' } });
    expect(((await a) as { error: EngineError }).error).toMatchObject({ code: 'bad-settings', kind: 'bad-settings', message: 'batch size 0' });
    expect(((await b) as { error: EngineError }).error).toMatchObject({ code: 'internal', message: 'odd' });
  });

  it('workerFailure uses the thrown value when the event carries one, and does not guess without one', () => {
    const e = workerFailure({ type: 'error', message: 'Uncaught', error: new RangeError('Invalid typed array length: 9999999999') });
    expect(e.code).toBe('out-of-memory');
    const silent = workerFailure({ type: 'error', message: '', error: null });
    expect(silent.code).toBe('internal');
    expect(silent.message).toMatch(/without an error message/);
  });
});

/** An engine double: every method resolves with what the test sets, or throws. */
function fakeEngine(over: Partial<AdapterEngine> = {}): AdapterEngine & { emit(e: EngineEvent): void } {
  const listeners = new Set<(e: EngineEvent) => void>();
  const nope = async () => {
    throw new EngineError('not-ready', 'not in this test');
  };
  return {
    probe: nope,
    loadGenerator: nope,
    loadEncoder: nope,
    unloadEncoder: nope,
    setReference: nope,
    start: nope,
    pause: async () => {},
    resume: async () => {},
    cancel: async () => {},
    exportSafetensors: nope,
    exportPickle: nope,
    importAdapted: nope,
    render: nope,
    evaluate: nope,
    cancelEvaluation: async () => {},
    renderVideo: nope,
    cancelVideo: async () => {},
    checkpoint: nope,
    mixAdapted: nope,
    loadVocabulary: nope,
    detectFace: nope,
    extractMesh: nope,
    cancelMesh: async () => {},
    dispose: async () => {},
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit: (e) => listeners.forEach((l) => l(e)),
    ...over,
  };
}

describe('engine handler over a MessageChannel', () => {
  let channel: MessageChannel | null = null;
  let stop: (() => void) | null = null;
  afterEach(() => {
    stop?.();
    channel?.port1.close();
    channel?.port2.close();
    channel = null;
  });

  /** The page side as raw messages (to send malformed ones). */
  function serve(engine: AdapterEngine): { page: MessagePort; received: unknown[] } {
    channel = new MessageChannel();
    stop = serveEngine(engine, channel.port2 as unknown as MessageEndpoint);
    const received: unknown[] = [];
    channel.port1.addEventListener('message', (e) => received.push(e.data));
    channel.port1.start();
    return { page: channel.port1, received };
  }

  it('answers a malformed call that carries an id with an error result, and ignores messages without one', async () => {
    const { page, received } = serve(fakeEngine());
    page.postMessage({ type: 'call', id: 7, method: 'launchMissiles', args: [] });
    page.postMessage({ type: 'call', id: 8, method: 'start', args: 'not an array' });
    page.postMessage({ id: 9, method: 'probe' });
    page.postMessage({ type: 'call', method: 'probe', args: [] }); // no id: nobody waits for it
    page.postMessage('hello');
    // A well-formed call last: messages are handled in order, so once its result is in, every reply
    // to the messages before it is too (no timing assumption on a loaded machine).
    page.postMessage({ type: 'call', id: 10, method: 'probe', args: [] });
    const isResult = (m: unknown, id?: number) => (m as { type: string }).type === 'result' && (id === undefined || (m as { id: number }).id === id);
    for (let waited = 0; !received.some((m) => isResult(m, 10)); waited += 5) {
      if (waited > 10_000) throw new Error('no result for the well-formed call');
      await new Promise((r) => setTimeout(r, 5));
    }
    const results = received.filter((m) => isResult(m) && (m as { id: number }).id !== 10);
    expect(results).toEqual([
      { type: 'result', id: 7, ok: false, error: { code: 'internal', message: expect.stringMatching(/malformed engine call: unknown method "launchMissiles"/) } },
      { type: 'result', id: 8, ok: false, error: { code: 'internal', message: expect.stringMatching(/arguments of start are not an array/) } },
      { type: 'result', id: 9, ok: false, error: { code: 'internal', message: expect.stringMatching(/malformed engine call/) } },
    ]);
    expect(received[0]).toEqual({ type: 'ready' });
  });

  it('classifies what the engine throws with the engine’s one classifier', async () => {
    const engine = fakeEngine({
      render: async () => {
        throw new RangeError('Array buffer allocation failed');
      },
      probe: async () => {
        throw new TypeError('boom');
      },
    });
    channel = new MessageChannel();
    stop = serveEngine(engine, channel.port2 as unknown as MessageEndpoint);
    const client = createEngineClient(channel.port1 as unknown as MessageEndpoint);
    await client.ready;
    await expect(client.render({ seed: 0, yaw: 0, pitch: 0, psi: 1, mode: 'rgb', strength: 1 })).rejects.toMatchObject({ code: 'out-of-memory' });
    await expect(client.probe()).rejects.toMatchObject({ code: 'internal', message: 'boom' });
    client.close();
  });

  it('transfers result and event buffers (detached on the sender) and copies call arguments', async () => {
    const exported = new Uint8Array([1, 2, 3, 4, 5]);
    const checkpoint = new Uint8Array([9, 8, 7]);
    const image: RgbaImage = { width: 1, height: 1, data: new Uint8ClampedArray([10, 20, 30, 255]) };
    let seenReference: RgbaImage | null = null;
    const engine = fakeEngine({
      exportSafetensors: async () => exported,
      setReference: async (img) => {
        seenReference = img;
      },
    });
    channel = new MessageChannel();
    stop = serveEngine(engine, channel.port2 as unknown as MessageEndpoint);
    const client = createEngineClient(channel.port1 as unknown as MessageEndpoint);
    const events: EngineEvent[] = [];
    client.subscribe((e) => events.push(e));
    await client.ready;

    const got = await client.exportSafetensors();
    expect(Array.from(got)).toEqual([1, 2, 3, 4, 5]);
    expect(exported.byteLength).toBe(0); // transferred, not copied

    engine.emit({ type: 'checkpoint', globalIteration: 3, bytes: checkpoint });
    await flush();
    expect(checkpoint.byteLength).toBe(0);
    const ev = events.find((e): e is Extract<EngineEvent, { type: 'checkpoint' }> => e.type === 'checkpoint')!;
    expect(Array.from(ev.bytes)).toEqual([9, 8, 7]);

    await client.setReference(image);
    expect(Array.from(image.data)).toEqual([10, 20, 30, 255]); // the caller keeps its image
    expect(Array.from(seenReference!.data)).toEqual([10, 20, 30, 255]);
    client.close();
  });

  it('evaluate and cancelEvaluation travel as calls, with evaluation-progress events on the way', async () => {
    let cancelled = 0;
    let emit: (e: EngineEvent) => void = () => {};
    const engine = fakeEngine({
      evaluate: async (request) => {
        emit({ type: 'evaluation-progress', stage: 'evaluating', what: 'held-out latents', done: 1, total: request.latents });
        return { generatorId: 'g', latents: request.latents } as never;
      },
      cancelEvaluation: async () => {
        cancelled++;
      },
    });
    emit = engine.emit;
    channel = new MessageChannel();
    stop = serveEngine(engine, channel.port2 as unknown as MessageEndpoint);
    const client = createEngineClient(channel.port1 as unknown as MessageEndpoint);
    const events: EngineEvent[] = [];
    client.subscribe((e) => events.push(e));
    await client.ready;
    expect(await client.evaluate({ latents: 3 })).toEqual({ generatorId: 'g', latents: 3 });
    await client.cancelEvaluation();
    expect(cancelled).toBe(1);
    expect(events).toEqual([{ type: 'evaluation-progress', stage: 'evaluating', what: 'held-out latents', done: 1, total: 3 }]);
    client.close();
  });

  it('transfers only whole-buffer views (a view into a shared buffer would detach the rest)', () => {
    const whole = new Uint8Array(8);
    const shared = new ArrayBuffer(16);
    const part = new Uint8Array(shared, 4, 4);
    const t = transferablesOf({ a: whole, b: [part], c: { d: new Blob(['x']) } });
    expect(t).toEqual([whole.buffer]);
  });
});

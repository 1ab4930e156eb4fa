import { describe, expect, it } from 'vitest';
import { followGenerator, RenderQueue, type RenderContext } from './render-queue.ts';
import { createStudioStore } from '../state/studio-store.ts';
import type { RenderRequest, RgbaImage } from '../../engine/types.ts';

const req = (yaw: number, strength = 1): RenderRequest => ({ seed: 1, yaw, pitch: 0, psi: 0.7, mode: 'rgb', strength });
const img = (v: number): RgbaImage => ({ width: 1, height: 1, data: new Uint8ClampedArray([v, v, v, 255]) });

/** A render function whose calls complete when the test says so. */
function controllableRenderer() {
  const calls: Array<{ r: RenderRequest; done: (i: RgbaImage) => void; fail: (e: unknown) => void }> = [];
  const fn = (r: RenderRequest) => new Promise<RgbaImage>((done, fail) => calls.push({ r, done, fail }));
  return { calls, fn };
}
const tick = () => new Promise((r) => setTimeout(r, 0));
/** Weights version `v` of generator `g`. */
const at = (v: number, g = 'gen-a'): RenderContext => ({ generatorId: g, weightsVersion: v });
/** A queue already following generator 'gen-a'. */
function queue(fn: (r: RenderRequest) => Promise<RgbaImage>, onError?: (e: unknown) => void) {
  const q = new RenderQueue(fn, 8, onError);
  q.setGenerator('gen-a');
  return q;
}

describe('RenderQueue', () => {
  it('keeps only the latest pending request per slot while one is in flight', async () => {
    const { calls, fn } = controllableRenderer();
    const q = queue(fn);
    const a = q.request('main', req(0.1), at(0));
    const b = q.request('main', req(0.2), at(0));
    const c = q.request('main', req(0.3), at(0));
    await tick();
    expect(calls.map((x) => x.r.yaw)).toEqual([0.1]);
    expect(await b).toBeNull(); // superseded by c before it started
    calls[0].done(img(1));
    expect(await a).toEqual(img(1));
    await tick();
    expect(calls.map((x) => x.r.yaw)).toEqual([0.1, 0.3]);
    calls[1].done(img(3));
    expect(await c).toEqual(img(3));
  });

  it('serves repeats from the cache; source renders survive weight changes', async () => {
    const { calls, fn } = controllableRenderer();
    const q = queue(fn);
    const first = q.request('s', req(0, 0), at(1));
    await tick();
    calls[0].done(img(5));
    await first;
    expect(await q.request('s', req(0, 0), at(2))).toEqual(img(5)); // strength 0: independent of weights
    const adapted = q.request('a', req(0, 1), at(2));
    await tick();
    expect(calls.length).toBe(2);
    calls[1].done(img(6));
    await adapted;
    const again = q.request('a', req(0, 1), at(3)); // new weights → new render
    await tick();
    expect(calls.length).toBe(3);
    calls[2].done(img(7));
    expect(await again).toEqual(img(7));
  });

  it('runs high-priority requests before queued low-priority ones', async () => {
    const { calls, fn } = controllableRenderer();
    const q = queue(fn);
    void q.request('busy', req(0), at(0));
    void q.request('strip-1', req(0.1), at(0), 'low');
    void q.request('strip-2', req(0.2), at(0), 'low');
    void q.request('main', req(0.5), at(0), 'high');
    await tick();
    calls[0].done(img(0));
    await tick();
    expect(calls[1].r.yaw).toBe(0.5);
  });

  it('withdraws pending requests on cancel, leaving the one in flight', async () => {
    const { calls, fn } = controllableRenderer();
    const q = queue(fn);
    const a = q.request('strip-0', req(0.1), at(0), 'low');
    const b = q.request('strip-1', req(0.2), at(0), 'low');
    const m = q.request('main', req(0.3), at(0));
    await tick();
    q.cancel((s) => s.startsWith('strip-'));
    expect(await b).toBeNull();
    expect(q.waiting).toBe(1);
    calls[0].done(img(1));
    expect(await a).toEqual(img(1));
    await tick();
    calls[1].done(img(3));
    expect(await m).toEqual(img(3));
    expect(calls.map((c) => c.r.yaw)).toEqual([0.1, 0.3]);
  });

  it('reports a failed render and continues with the next', async () => {
    const { calls, fn } = controllableRenderer();
    const errors: unknown[] = [];
    const q = queue(fn, (e) => errors.push(e));
    const a = q.request('x', req(0.1), at(0));
    const b = q.request('y', req(0.2), at(0));
    await tick();
    calls[0].fail(new Error('boom'));
    expect(await a).toBeNull();
    await tick();
    calls[1].done(img(2));
    expect(await b).toEqual(img(2));
    expect(errors).toHaveLength(1);
  });

  it('after a generator switch nothing of the previous generator is shown: cache, pending and in-flight dropped', async () => {
    const { calls, fn } = controllableRenderer();
    const q = queue(fn);
    // A face of generator A, cached.
    const cachedA = q.request('strip-0-0', req(0.1, 0), at(0));
    await tick();
    calls[0].done(img(1));
    expect(await cachedA).toEqual(img(1));
    // One A render in flight, one pending.
    const inFlight = q.request('strip-0-1', req(0.2, 0), at(0), 'low');
    const pending = q.request('strip-0-2', req(0.3, 0), at(0), 'low');
    await tick();
    expect(calls).toHaveLength(2);

    q.setGenerator('gen-b');
    expect(await pending).toBeNull();
    calls[1].done(img(2)); // finishes after the switch: rendered by A, not delivered
    expect(await inFlight).toBeNull();
    await tick();
    expect(calls).toHaveLength(2); // the pending A request never reached the engine

    // A late request still made for A (a view not yet updated) is refused without rendering.
    expect(await q.request('strip-0-0', req(0.1, 0), at(0))).toBeNull();
    // The same view for B renders anew: A's cached face is not served, nor A's late render.
    const b = q.request('strip-0-0', req(0.1, 0), at(0, 'gen-b'));
    await tick();
    expect(calls).toHaveLength(3);
    calls[2].done(img(9));
    expect(await b).toEqual(img(9));
    const b2 = q.request('strip-0-1', req(0.2, 0), at(0, 'gen-b'));
    await tick();
    expect(calls).toHaveLength(4);
    calls[3].done(img(8));
    expect(await b2).toEqual(img(8));

    // Switching back to A renders A again (its old cache entries were dropped with the switch).
    q.setGenerator('gen-a');
    void q.request('strip-0-0', req(0.1, 0), at(0));
    await tick();
    expect(calls).toHaveLength(5);
  });

  it('a failed render of the previous generator is not reported', async () => {
    const { calls, fn } = controllableRenderer();
    const errors: unknown[] = [];
    const q = queue(fn, (e) => errors.push(e));
    const a = q.request('x', req(0.1), at(0));
    await tick();
    q.setGenerator('gen-b');
    calls[0].fail(new Error('generator replaced'));
    expect(await a).toBeNull();
    expect(errors).toEqual([]);
  });

  it('follows the generator the store shows, switching the moment the store changes', async () => {
    const { calls, fn } = controllableRenderer();
    const store = createStudioStore();
    const q = new RenderQueue(fn);
    const stop = followGenerator(q, store);
    // No generator loaded: nothing is rendered.
    expect(await q.request('main', req(0), at(0))).toBeNull();
    const info = (id: string) => ({ id, kind: 'generator' as const, name: id, origin: 'file' as const, sha256: '', summary: '', parameters: 1 });
    store.setState({ generator: info('gen-a') });
    const a = q.request('main', req(0), at(0));
    await tick();
    expect(calls).toHaveLength(1);
    store.setState({ generator: info('gen-b') });
    calls[0].done(img(1));
    expect(await a).toBeNull();
    stop();
    store.setState({ generator: info('gen-c') });
    expect(await q.request('main', req(0), at(0, 'gen-c'))).toBeNull(); // no longer following
  });
});

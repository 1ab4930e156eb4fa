import { describe, expect, it } from 'vitest';
import { RenderQueue } from './render-queue.ts';
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

describe('RenderQueue', () => {
  it('keeps only the latest pending request per slot while one is in flight', async () => {
    const { calls, fn } = controllableRenderer();
    const q = new RenderQueue(fn);
    const a = q.request('main', req(0.1), 0);
    const b = q.request('main', req(0.2), 0);
    const c = q.request('main', req(0.3), 0);
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
    const q = new RenderQueue(fn);
    const first = q.request('s', req(0, 0), 1);
    await tick();
    calls[0].done(img(5));
    await first;
    expect(await q.request('s', req(0, 0), 2)).toEqual(img(5)); // strength 0: independent of weights
    const adapted = q.request('a', req(0, 1), 2);
    await tick();
    expect(calls.length).toBe(2);
    calls[1].done(img(6));
    await adapted;
    const again = q.request('a', req(0, 1), 3); // new weights → new render
    await tick();
    expect(calls.length).toBe(3);
    calls[2].done(img(7));
    expect(await again).toEqual(img(7));
  });

  it('runs high-priority requests before queued low-priority ones', async () => {
    const { calls, fn } = controllableRenderer();
    const q = new RenderQueue(fn);
    void q.request('busy', req(0), 0);
    void q.request('strip-1', req(0.1), 0, 'low');
    void q.request('strip-2', req(0.2), 0, 'low');
    void q.request('main', req(0.5), 0, 'high');
    await tick();
    calls[0].done(img(0));
    await tick();
    expect(calls[1].r.yaw).toBe(0.5);
  });

  it('withdraws pending requests on cancel, leaving the one in flight', async () => {
    const { calls, fn } = controllableRenderer();
    const q = new RenderQueue(fn);
    const a = q.request('strip-0', req(0.1), 0, 'low');
    const b = q.request('strip-1', req(0.2), 0, 'low');
    const m = q.request('main', req(0.3), 0);
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
    const q = new RenderQueue(fn, 8, (e) => errors.push(e));
    const a = q.request('x', req(0.1), 0);
    const b = q.request('y', req(0.2), 0);
    await tick();
    calls[0].fail(new Error('boom'));
    expect(await a).toBeNull();
    await tick();
    calls[1].done(img(2));
    expect(await b).toEqual(img(2));
    expect(errors).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import { parseVideoSeeds as parseSeeds, type VideoRequest } from '../../engine/types.ts';
import { boot, tick } from './controller.test-doubles.ts';
import { canMakeVideo } from './video-slice.ts';
import { canEvaluate } from './evaluate-slice.ts';
import { canStart } from './studio-store.ts';

describe('video slice', () => {
  it('parses seeds as gen_videos.py does (lists and ranges), refusing anything else', () => {
    expect(parseSeeds('7')).toEqual([7]);
    expect(parseSeeds(' 7, 11 ,3')).toEqual([7, 11, 3]);
    expect(parseSeeds('3-6')).toEqual([3, 4, 5, 6]);
    expect(parseSeeds('1 2')).toEqual([1, 2]);
    for (const bad of ['', 'x', '-1', '1.5', '6-3', '0-20', '1,2,3,4,5,6,7,8,9']) expect(parseSeeds(bad)).toBeNull();
  });

  it('without adapted weights only the source can be filmed', async () => {
    const { c, store, engine } = await boot();
    expect(store.getState().video.content).toBe('side-by-side');
    expect(canMakeVideo(store.getState())).toBe(false);
    await c.video.start();
    expect(engine.callsOf('renderVideo')).toHaveLength(0);
    expect(store.getState().video.error).toMatch(/no adapted weights/);
    c.video.setContent('source');
    expect(canMakeVideo(store.getState())).toBe(true);
  });

  it('asks the engine for the clip it shows, with progress, and keeps the result with its seeds', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    await c.run.importAdapted(new Blob(['weights']), 'adapted.safetensors');
    expect(c.video.setSeeds('7, 11')).toBe(true);
    c.video.setFrames(12);
    c.video.setSeconds(2);
    expect(canStart(store.getState())).toBe(true);
    expect(canEvaluate(store.getState())).toBe(true);
    let release!: () => void;
    engine.videoGate = new Promise((r) => (release = r));
    const done = c.video.start();
    await tick();
    expect(store.getState().video.status).toBe('running');
    expect(store.getState().video.progress).toEqual({ done: 1, total: 12 });
    expect(canMakeVideo(store.getState())).toBe(false);
    // the engine refuses runs and evaluations meanwhile: the studio does not offer them
    expect(canStart(store.getState())).toBe(false);
    expect(canEvaluate(store.getState())).toBe(false);
    c.video.setSeeds('99'); // edited while it runs: the result keeps the seeds it was made with
    release();
    await done;
    const v = store.getState().video;
    expect(v.status).toBe('done');
    expect(v.result).toMatchObject({ frames: 12, fps: 6, width: 128, height: 128 });
    expect(v.resultSeeds).toEqual([7, 11]);
    const req = engine.callsOf('renderVideo')[0][0] as VideoRequest;
    expect(req).toEqual({ content: 'side-by-side', seeds: [7, 11], frames: 12, seconds: 2, psi: store.getState().viewer.psi });
  });

  it('cancel: the engine is told, the status says cancelled and the previous clip stays', async () => {
    const { c, store, engine } = await boot();
    c.video.setContent('source');
    await c.video.start();
    const first = store.getState().video.result;
    expect(first).not.toBeNull();
    let release!: () => void;
    engine.videoGate = new Promise((r) => (release = r));
    const done = c.video.start();
    await tick();
    await c.video.cancel();
    release();
    await done;
    expect(engine.callsOf('cancelVideo')).toHaveLength(1);
    expect(store.getState().video.status).toBe('cancelled');
    expect(store.getState().video.result).toBe(first);
  });

  it('a malformed seed list is reported and changes nothing; frames and length are clamped', async () => {
    const { c, store } = await boot();
    expect(c.video.setSeeds('a, b')).toBe(false);
    expect(store.getState().video.seeds).toEqual([7]);
    expect(store.getState().video.error).toMatch(/Seeds/);
    c.video.setFrames(1);
    expect(store.getState().video.frames).toBe(2);
    c.video.setFrames(10_000);
    expect(store.getState().video.frames).toBe(600);
    c.video.setSeconds(-1);
    expect(store.getState().video.seconds).toBe(4);
  });
});

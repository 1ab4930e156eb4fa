/**
 * Orbit videos through LocalEngine.renderVideo on the tiny fixture, with a writer that records what it
 * is given: frame count, size and order (the orbit's phase i / N), side-by-side layout, progress,
 * cancel, refusals, no tensor leak.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../adapter/export.ts';
import { CHEAP_RENDER, tinyGenerator, tinyPickleBytes } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { checkVideoRequest, type VideoFrameSpec, type VideoWriter } from './video.ts';
import type { EngineEvent, ModelInfo, RgbaImage, VideoRequest } from './types.ts';

/** A writer that keeps every frame; `onAdd` lets a test act in the middle of a clip. */
class RecordingWriter implements VideoWriter {
  frames: RgbaImage[] = [];
  indices: number[] = [];
  aborted = false;
  finished = false;
  constructor(
    readonly spec: VideoFrameSpec,
    private readonly onAdd?: (i: number) => void,
  ) {}
  async add(frame: RgbaImage, index: number) {
    this.frames.push(frame);
    this.indices.push(index);
    this.onAdd?.(index);
  }
  async finish() {
    this.finished = true;
    return { bytes: Uint8Array.of(this.frames.length), mimeType: 'test/frames', extension: 'bin', codec: 'none' };
  }
  abort() {
    this.aborted = true;
  }
}

let engine: LocalEngine;
let info: ModelInfo;
let writers: RecordingWriter[] = [];
let onAdd: ((i: number) => void) | undefined;
const events: EngineEvent[] = [];

/** A tile (column c, row r, side s) of a frame as RGBA bytes. */
function tile(f: RgbaImage, c: number, r: number, s: number): number[] {
  const out: number[] = [];
  for (let y = r * s; y < (r + 1) * s; y++) out.push(...f.data.subarray((y * f.width + c * s) * 4, (y * f.width + (c + 1) * s) * 4));
  return out;
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({
    probe: async () => ({ backend: 'wasm', summary: 'test' }),
    renderOverrides: CHEAP_RENDER,
    openVideoWriter: async (spec) => {
      const w = new RecordingWriter(spec, onAdd);
      writers.push(w);
      return w;
    },
  });
  engine.subscribe((e) => events.push(e));
  info = await engine.loadGenerator({ kind: 'file', file: new Blob([tinyPickleBytes() as Uint8Array<ArrayBuffer>]), name: 'eg3d-tiny.pkl' });
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
});

const request = (over: Partial<VideoRequest> = {}): VideoRequest => ({ seeds: [3], content: 'source', frames: 4, seconds: 1, ...over });

describe('LocalEngine.renderVideo', () => {
  it('checks its request', () => {
    expect(() => checkVideoRequest(request({ frames: 1 }))).toThrow(/2…600/);
    expect(() => checkVideoRequest(request({ seeds: [] }))).toThrow(/1…8 seeds/);
    expect(() => checkVideoRequest(request({ seeds: [1.5] }))).toThrow(/non-negative integers/);
    expect(() => checkVideoRequest(request({ frames: 200, seconds: 1 }))).toThrow(/200\.00 fps/);
    expect(() => checkVideoRequest(request({ content: 'both' as VideoRequest['content'] }))).toThrow(/content/);
    expect(() => checkVideoRequest(request({ seconds: 0 }))).toThrow(/positive/);
    expect(() => checkVideoRequest(request())).not.toThrow();
  });

  it('renders N frames in orbit order into the writer, one row per seed, with progress; no tensor leak', async () => {
    writers = [];
    events.length = 0;
    const before = tf.memory().numTensors;
    const result = await engine.renderVideo(request({ seeds: [3, 5], frames: 2, seconds: 1 }));
    expect(tf.memory().numTensors).toBe(before);
    const [w] = writers;
    const size = w.frames[0].height / 2;
    expect(w.spec).toEqual({ width: size, height: 2 * size, frames: 2, fps: 2 });
    expect(w.indices).toEqual([0, 1]);
    expect(w.finished).toBe(true);
    expect(result).toMatchObject({ frames: 2, fps: 2, seconds: 1, width: size, height: 2 * size, mimeType: 'test/frames' });
    expect(result.renderSeconds).toBeGreaterThan(0);
    expect(Array.from(result.bytes)).toEqual([2]);
    const progress = events.filter((e) => e.type === 'video-progress');
    expect(progress.map((e) => e.type === 'video-progress' && e.done)).toEqual([0, 1, 2]);
    // the camera moves, the two seeds differ
    expect(tile(w.frames[1], 0, 0, size)).not.toEqual(tile(w.frames[0], 0, 0, size));
    expect(tile(w.frames[0], 0, 1, size)).not.toEqual(tile(w.frames[0], 0, 0, size));

    // frame 2k of a 4-frame orbit is frame k of the 2-frame one (same phase k / 2): frames follow the path in order
    writers = [];
    await engine.renderVideo(request({ seeds: [3], frames: 4, seconds: 2 }));
    expect(writers[0].indices).toEqual([0, 1, 2, 3]);
    expect(Array.from(writers[0].frames[2].data)).toEqual(tile(w.frames[1], 0, 0, size));
    expect(Array.from(writers[0].frames[0].data)).toEqual(tile(w.frames[0], 0, 0, size));
    expect(Array.from(writers[0].frames[1].data)).not.toEqual(tile(w.frames[0], 0, 0, size));
  }, 120_000);

  it('adapted and side by side: refused without adapted weights; source left, adapted right', async () => {
    await expect(engine.renderVideo(request({ content: 'adapted' }))).rejects.toMatchObject({ code: 'not-ready' });
    // an adapted-weights file whose Tri-D + G2 differ from the base
    const gen = await tinyGenerator();
    const rng = new Random(9);
    const adapted = new Map<string, tf.Tensor>();
    for (const [k, t] of gen.weights) if (isTrainableKey(k)) adapted.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.3))));
    const bytes = writeAdaptedSafetensors(adapted, { baseGeneratorSha256: info.sha256, baseGeneratorName: info.name, encoders: [], settings: {}, seed: 0, iterations: { triD: 1, g2: 1 }, lossHistory: [], createdAt: '' });
    tf.dispose([...adapted.values()]);
    gen.dispose();
    await engine.importAdapted(new Blob([bytes as Uint8Array<ArrayBuffer>]));

    writers = [];
    await engine.renderVideo(request({ content: 'source', frames: 2 }));
    await engine.renderVideo(request({ content: 'adapted', frames: 2 }));
    await engine.renderVideo(request({ content: 'side-by-side', frames: 2 }));
    const [source, adaptedOnly, both] = writers;
    const s = source.frames[0].width;
    expect(both.spec.width).toBe(2 * s);
    expect(both.spec.height).toBe(s);
    for (const i of [0, 1]) {
      expect(tile(both.frames[i], 0, 0, s)).toEqual(Array.from(source.frames[i].data));
      expect(tile(both.frames[i], 1, 0, s)).toEqual(Array.from(adaptedOnly.frames[i].data));
    }
    expect(Array.from(adaptedOnly.frames[0].data)).not.toEqual(Array.from(source.frames[0].data));
  }, 120_000);

  it('cancel stops after the current frame: rejects cancelled, aborts the writer, leaks nothing; the engine is free again', async () => {
    writers = [];
    const before = tf.memory().numTensors;
    onAdd = (i) => {
      if (i === 1) void engine.cancelVideo();
    };
    try {
      const video = engine.renderVideo(request({ frames: 6 }));
      await expect(video).rejects.toMatchObject({ code: 'cancelled' });
    } finally {
      onAdd = undefined;
    }
    expect(writers[0].indices).toEqual([0, 1]);
    expect(writers[0].aborted).toBe(true);
    expect(writers[0].finished).toBe(false);
    expect(tf.memory().numTensors).toBe(before);

    // while one runs, loads are refused; afterwards they work again
    const running = engine.renderVideo(request({ frames: 2 }));
    await expect(engine.importAdapted(new Blob([]))).rejects.toMatchObject({ code: 'not-ready', message: expect.stringMatching(/video/) });
    await running;
  }, 120_000);

  it('an engine without a video writer refuses', async () => {
    const bare = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), renderOverrides: CHEAP_RENDER });
    try {
      await bare.loadGenerator({ kind: 'file', file: new Blob([tinyPickleBytes() as Uint8Array<ArrayBuffer>]), name: 'eg3d-tiny.pkl' });
      await expect(bare.renderVideo(request())).rejects.toMatchObject({ code: 'not-ready', message: expect.stringMatching(/video encoder/) });
    } finally {
      await bare.dispose();
    }
  }, 60_000);
});

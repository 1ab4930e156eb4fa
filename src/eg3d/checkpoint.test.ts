import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryByteSource, type ByteSource } from '../io/byte-source.ts';
import { PickleFormatError, UnsupportedGlobalError } from '../io/pickle.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { EG3DCheckpointError, readEG3DPickle } from './checkpoint.ts';

const FIXTURES = join(process.cwd(), '..', 'shared', 'fixtures');

interface FixtureJson {
  neural_rendering_resolution: number;
  init_kwargs: Record<string, unknown> & { rendering_kwargs: Record<string, unknown> };
  keys: Record<string, number[]>;
}

/** Counts what the reader pulls from the file. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  largestRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  read(offset: number, length: number) {
    this.bytesRead += length;
    this.largestRead = Math.max(this.largestRead, length);
    return this.inner.read(offset, length);
  }
}

const FILTER = [1, 3, 3, 1].flatMap((a) => [1, 3, 3, 1].map((b) => (a * b) / 64));

describe.each(['tiny', 'ffhqlike'])('readEG3DPickle(eg3d-%s.pkl)', (cfg) => {
  const json = JSON.parse(readFileSync(join(FIXTURES, `eg3d-${cfg}.json`), 'utf8')) as FixtureJson;

  it('yields the G_ema key list, shapes and kwargs of the fixture', async () => {
    const src = new CountingSource(await NodeFileByteSource.open(join(FIXTURES, `eg3d-${cfg}.pkl`)));
    const progress: number[] = [];
    const ckpt = await readEG3DPickle(src, { onProgress: (done) => progress.push(done) });
    // Parsing skips the storages: far less than the file is read.
    expect(src.bytesRead).toBeLessThan(src.size / 2);
    expect(progress.at(-1)).toBe(src.size);
    expect(ckpt.className).toBe('TriPlaneGenerator');
    expect(ckpt.keys).toEqual(Object.keys(json.keys));
    for (const k of ckpt.keys) expect(ckpt.shapeOf(k), k).toEqual(json.keys[k]);
    expect(ckpt.initKwargs).toEqual(json.init_kwargs);
    expect(ckpt.renderingKwargs).toEqual(json.init_kwargs.rendering_kwargs);
    expect(ckpt.neuralRenderingResolution).toBe(json.neural_rendering_resolution);

    for (const k of ckpt.keys) {
      const { shape, data } = await ckpt.read(k);
      expect(shape).toEqual(json.keys[k]);
      expect(data.length).toBe(shape.reduce((a, b) => a * b, 1));
      expect(data.every(Number.isFinite), k).toBe(true);
      if (k.endsWith('resample_filter')) expect(Array.from(data), k).toEqual(FILTER);
    }
    const wAvg = (await ckpt.read('backbone.mapping.w_avg')).data;
    expect(wAvg.length).toBe(512);
    expect(wAvg.some((v) => v !== 0)).toBe(true);
  });
});

describe('readEG3DPickle streaming and hashing', () => {
  it('gives the same tensors with a tiny read window, never reading more than a window at once', async () => {
    const path = join(FIXTURES, 'eg3d-tiny.pkl');
    const src = new CountingSource(await NodeFileByteSource.open(path));
    const small = await readEG3DPickle(src, { windowBytes: 64 * 1024 });
    expect(src.largestRead).toBeLessThanOrEqual(64 * 1024);
    const whole = await readEG3DPickle(new MemoryByteSource(new Uint8Array(readFileSync(path)), 'eg3d-tiny.pkl'));
    expect(small.keys).toEqual(whole.keys);
    for (const k of ['decoder.net.0.weight', 'backbone.synthesis.b4.const', 'superresolution.block0.conv0.noise_strength']) {
      expect((await small.read(k)).data).toEqual((await whole.read(k)).data);
    }
  });

  it('hashes the file incrementally (sha256 equals node:crypto)', async () => {
    const path = join(FIXTURES, 'eg3d-tiny.pkl');
    const expected = createHash('sha256').update(readFileSync(path)).digest('hex');
    const ckpt = await readEG3DPickle(await NodeFileByteSource.open(path));
    expect(await ckpt.sha256()).toBe(expected);
  });
});

describe('readEG3DPickle errors', () => {
  it('truncated pickle → PickleFormatError', async () => {
    const bytes = new Uint8Array(readFileSync(join(FIXTURES, 'eg3d-tiny.pkl'))).subarray(0, 1_000_000);
    await expect(readEG3DPickle(new MemoryByteSource(bytes, 'cut.pkl'))).rejects.toThrow(PickleFormatError);
    await expect(readEG3DPickle(new MemoryByteSource(bytes, 'cut.pkl'))).rejects.toThrow(/truncated/);
  });

  it('pickle with a foreign global → UnsupportedGlobalError naming it', async () => {
    // {'G_ema': builtins.eval('1')} as protocol 4: PROTO, EMPTY_DICT, 'G_ema', STACK_GLOBAL builtins.eval, ('1',), REDUCE, SETITEM, STOP
    const enc = (s: string) => [0x8c, s.length, ...new TextEncoder().encode(s)];
    const bytes = new Uint8Array([0x80, 4, 0x7d, ...enc('G_ema'), ...enc('builtins'), ...enc('eval'), 0x93, ...enc('1'), 0x85, 0x52, 0x73, 0x2e]);
    const err = await readEG3DPickle(new MemoryByteSource(bytes, 'evil.pkl')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedGlobalError);
    expect((err as Error).message).toMatch(/builtins\.eval/);
  });

  it('PNG file → PickleFormatError', async () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    await expect(readEG3DPickle(new MemoryByteSource(png, 'face.png'))).rejects.toThrow(/face\.png.*not a Python pickle/);
  });

  it('a zip (torch.save / TorchScript) → EG3DCheckpointError saying so', async () => {
    const src = await NodeFileByteSource.open(join(FIXTURES, 'clip-tiny.pt'));
    await expect(readEG3DPickle(src)).rejects.toThrow(/zip archive.*not an EG3D network pickle/);
  });

  it('a dict without G_ema → EG3DCheckpointError', async () => {
    const bytes = new Uint8Array([0x80, 4, 0x7d, 0x8c, 1, 0x47, 0x4e, 0x73, 0x2e]); // {'G': None}
    await expect(readEG3DPickle(new MemoryByteSource(bytes, 'x.pkl'))).rejects.toThrow(EG3DCheckpointError);
  });
});

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
  reads = 0;
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  read(offset: number, length: number) {
    this.bytesRead += length;
    this.reads++;
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

  it('readEach delivers every tensor once, equal to read(), reading each storage byte at most once in few reads', async () => {
    const path = join(FIXTURES, `eg3d-${cfg}.pkl`);
    const ckpt = await readEG3DPickle(await NodeFileByteSource.open(path));
    const counted = new CountingSource(await NodeFileByteSource.open(path));
    const bulk = await readEG3DPickle(counted);
    const before = { bytes: counted.bytesRead, reads: counted.reads };
    const seen = new Map<string, Float32Array>();
    await bulk.readEach(bulk.keys, (key, shape, values, owned) => {
      expect(seen.has(key), key).toBe(false);
      expect(shape).toEqual(json.keys[key]);
      seen.set(key, owned ? values : values.slice());
    });
    expect([...seen.keys()].sort()).toEqual([...ckpt.keys].sort());
    const bytesOf = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const k of ckpt.keys) expect(bytesOf(seen.get(k)!).equals(bytesOf((await ckpt.read(k)).data)), k).toBe(true);
    // G_ema's storages only (the file also holds G and D): less than half the file, in a handful of reads.
    expect(counted.bytesRead - before.bytes).toBeLessThan(counted.size / 2);
    expect(counted.reads - before.reads).toBeLessThanOrEqual(Math.ceil(counted.size / (64 * 1024 * 1024)) + 3);
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

// ---- a hand-assembled EG3D-shaped pickle: strided views, fp16 storage, torch ≥ 2 parameters, ----
// ---- numpy scalars, EasyDict, non-persistent buffers, non-persistent module classes, bare G  ----

const te = new TextEncoder();
const u32le = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const s = (x: string) => [0x58, ...u32le(te.encode(x).length), ...te.encode(x)]; // BINUNICODE
const glob = (m: string, n: string) => [0x63, ...te.encode(`${m}\n${n}\n`)]; // GLOBAL
const int1 = (n: number) => [0x4b, n];
const MARK = 0x28, TUPLE = 0x74, REDUCE = 0x52, SETITEMS = 0x75, SETITEM = 0x73, EMPTY_DICT = 0x7d;
const ordered = (...items: number[][]) => [...glob('collections', 'OrderedDict'), 0x29, REDUCE, MARK, ...items.flat(), SETITEMS];

function legacyStorageBlob(cls: string, data: Uint8Array, numel: number): number[] {
  return [
    0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    0x80, 2, 0x4d, 0xe9, 0x03, 0x2e,
    0x80, 2, EMPTY_DICT, ...s('little_endian'), 0x88, SETITEM, 0x2e,
    0x80, 2, MARK, ...s('storage'), ...glob('torch', cls), ...s('7'), ...s('cpu'), ...int1(numel), 0x4e, TUPLE, 0x51, 0x2e,
    0x80, 2, 0x5d, ...s('7'), 0x61, 0x2e,
    numel, 0, 0, 0, 0, 0, 0, 0, ...data,
  ];
}
const storage = (cls: string, data: Uint8Array, numel: number, memo: number) => {
  const blob = legacyStorageBlob(cls, data, numel);
  return [...glob('torch.storage', '_load_from_bytes'), 0x42, ...u32le(blob.length), ...blob, 0x85, REDUCE, 0x71, memo];
};
const tensor = (storageOps: number[], offset: number, size: number[], stride: number[]) => [
  ...glob('torch._utils', '_rebuild_tensor_v2'), MARK, ...storageOps, ...int1(offset),
  MARK, ...size.flatMap(int1), TUPLE, MARK, ...stride.flatMap(int1), TUPLE, 0x89, ...ordered(), TUPLE, REDUCE,
];

function syntheticGenerator(): Uint8Array<ArrayBuffer> {
  const floats = new Uint8Array(Float32Array.from({ length: 12 }, (_, k) => k).buffer);
  const halves = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x3800, 0x4200]).buffer); // 1, -2, 0.5, 3
  const f8 = new Uint8Array(Float64Array.from([0.125]).buffer);
  const numpyScalar = [
    ...glob('numpy.core.multiarray', 'scalar'),
    ...glob('numpy', 'dtype'), ...s('f8'), 0x89, 0x88, 0x87, REDUCE,
    MARK, ...int1(3), ...s('<'), 0x4e, 0x4e, 0x4e, 0x4a, ...u32le(-1 >>> 0), 0x4a, ...u32le(-1 >>> 0), ...int1(0), TUPLE, 0x62,
    0x43, 8, ...f8, 0x86, REDUCE,
  ];
  const state = [
    EMPTY_DICT, MARK,
    ...s('neural_rendering_resolution'), ...int1(64),
    ...s('rendering_kwargs'), EMPTY_DICT, ...s('ray_start'), 0x47, ...new Uint8Array(new Float64Array([2.25]).buffer).reverse(), SETITEM,
    ...s('_init_kwargs'), ...glob('dnnlib.util', 'EasyDict'), 0x29, 0x81, MARK, ...s('z_dim'), ...int1(8), ...s('gain'), ...numpyScalar, SETITEMS,
    ...s('_parameters'), ...ordered([
      ...s('w'), ...glob('torch._utils', '_rebuild_parameter_with_state'),
      MARK, ...tensor(storage('FloatStorage', floats, 12, 200), 1, [3, 2], [1, 3]), 0x88, ...ordered(), EMPTY_DICT, TUPLE, REDUCE,
    ]),
    ...s('_buffers'), ...ordered(
      [...s('keep'), ...tensor(storage('HalfStorage', halves, 4, 201), 0, [2, 2], [2, 1])],
      [...s('skip'), ...tensor([0x68, 201], 1, [2], [1])],
    ),
    ...s('_non_persistent_buffers_set'), 0x8f, MARK, ...s('skip'), 0x90,
    ...s('_modules'), ...ordered([
      ...s('child'), ...glob('training.triplane', 'OSGDecoder'), 0x29, 0x81,
      EMPTY_DICT, ...s('_parameters'), ...ordered([...s('b'), ...tensor([0x68, 200], 2, [], [])]), SETITEM, 0x62,
    ]),
    SETITEMS,
  ];
  const meta = [EMPTY_DICT, MARK, ...s('type'), ...s('class'), ...s('version'), ...int1(6), ...s('module_src'), ...s('# src'),
    ...s('class_name'), ...s('TriPlaneGenerator'), ...s('state'), ...state, SETITEMS];
  return new Uint8Array([0x80, 4, ...glob('torch_utils.persistence', '_reconstruct_persistent_obj'), ...meta, 0x85, REDUCE, 0x2e]);
}

describe('readEG3DPickle on a hand-assembled generator pickle', () => {
  it('decodes strided/offset views, fp16 storages, numpy scalars and skips non-persistent buffers', async () => {
    const ckpt = await readEG3DPickle(new MemoryByteSource(syntheticGenerator(), 'synthetic.pkl'));
    expect(ckpt.className).toBe('TriPlaneGenerator');
    expect(ckpt.keys).toEqual(['w', 'keep', 'child.b']);
    expect(ckpt.initKwargs).toEqual({ z_dim: 8, gain: 0.125 });
    expect(ckpt.renderingKwargs).toEqual({ ray_start: 2.25 });
    expect(ckpt.neuralRenderingResolution).toBe(64);
    expect(await ckpt.read('w')).toEqual({ shape: [3, 2], data: Float32Array.from([1, 4, 2, 5, 3, 6]) });
    expect(await ckpt.read('keep')).toEqual({ shape: [2, 2], data: Float32Array.from([1, -2, 0.5, 3]) });
    expect(await ckpt.read('child.b')).toEqual({ shape: [], data: Float32Array.from([2]) });
    // Bulk reading: the same values; 'w' and 'child.b' share one storage, decoded once.
    const got = new Map<string, number[]>();
    await ckpt.readEach(ckpt.keys, (key, _shape, values) => got.set(key, Array.from(values)));
    expect(Object.fromEntries(got)).toEqual({ w: [1, 4, 2, 5, 3, 6], keep: [1, -2, 0.5, 3], 'child.b': [2] });
    expect(ckpt.ref('w').storage).toBe(ckpt.ref('child.b').storage);
  });

  it('exports strided and fp16 tensors, and refuses to clobber a kept tensor sharing the storage', async () => {
    const bytes = syntheticGenerator();
    const ckpt = await readEG3DPickle(new MemoryByteSource(bytes, 'synthetic.pkl'));
    const { writeEG3DPickleWithReplacedTensors, PickleExportError } = await import('./pickle-export.ts');
    // 'w' (elements 1..6) and 'child.b' (element 2) share a storage.
    await expect(writeEG3DPickleWithReplacedTensors(ckpt, new Map([['w', new Float32Array(6)]]), { original: new Blob([bytes]) })).rejects.toThrow(PickleExportError);
    const conflicting = new Map([['w', Float32Array.from([10, 40, 20, 50, 30, 60])], ['child.b', Float32Array.from([21])]]);
    await expect(writeEG3DPickleWithReplacedTensors(ckpt, conflicting, { original: new Blob([bytes]) })).rejects.toThrow(/different values/);
    const blob = await writeEG3DPickleWithReplacedTensors(
      ckpt,
      new Map([
        ['w', Float32Array.from([10, 40, 20, 50, 30, 60])],
        ['child.b', Float32Array.from([20])],
        ['keep', Float32Array.from([0.1, 7, -1, 65504])],
      ]),
      { original: new Blob([bytes]) },
    );
    const again = await readEG3DPickle(new MemoryByteSource(new Uint8Array(await blob.arrayBuffer()), 'out.pkl'));
    expect((await again.read('w')).data).toEqual(Float32Array.from([10, 40, 20, 50, 30, 60]));
    expect((await again.read('child.b')).data).toEqual(Float32Array.from([20]));
    expect(Array.from((await again.read('keep')).data)).toEqual([0.0999755859375, 7, -1, 65504]); // fp16-rounded
  });
});

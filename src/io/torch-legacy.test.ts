import { describe, expect, it } from 'vitest';
import { MemoryByteSource } from './byte-source.ts';
import { halfToFloat } from './dtype.ts';
import { PickleBytes } from './pickle.ts';
import {
  decodeLegacyStorageBlob,
  float32ToStorageBytes,
  floatToHalf,
  TorchFormatError,
  viewIndices,
  viewSpan,
  viewToFloat32,
} from './torch-legacy.ts';

const te = new TextEncoder();
const uni = (s: string) => [0x58, s.length, 0, 0, 0, ...te.encode(s)]; // BINUNICODE

/** A legacy torch.save blob of one storage, built by hand per spec B.5. */
function legacyBlob(storageClass: string, values: Uint8Array, numel: number, opts: { magic?: number[] } = {}): Uint8Array {
  const magic = opts.magic ?? [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
  const head = [
    0x80, 2, 0x8a, magic.length, ...magic, 0x2e,
    0x80, 2, 0x4d, 0xe9, 0x03, 0x2e,
    0x80, 2, 0x7d, ...uni('little_endian'), 0x88, 0x73, 0x2e,
    0x80, 2, 0x28, ...uni('storage'), 0x63, ...te.encode(`torch\n${storageClass}\n`), ...uni('42'), ...uni('cpu'), 0x4b, numel, 0x4e, 0x74, 0x51, 0x2e,
    0x80, 2, 0x5d, ...uni('42'), 0x61, 0x2e,
    numel, 0, 0, 0, 0, 0, 0, 0,
  ];
  const out = new Uint8Array(head.length + values.length);
  out.set(head);
  out.set(values, head.length);
  return out;
}

describe('legacy torch.save storage blobs', () => {
  it('locates the raw data of a HalfStorage inside an outer file', async () => {
    const halves = Uint16Array.from([1, -2, 0.5, 3], floatToHalf);
    const blob = legacyBlob('HalfStorage', new Uint8Array(halves.buffer), 4);
    const outer = new Uint8Array(100 + blob.length);
    outer.set(blob, 100);
    const src = new MemoryByteSource(outer, 'outer.pkl');
    for (const inline of [null, blob]) {
      const loc = await decodeLegacyStorageBlob(src, new PickleBytes(100, blob.length, inline));
      expect(loc.dtype).toBe('float16');
      expect(loc.numel).toBe(4);
      const raw = outer.subarray(loc.dataOffset, loc.dataOffset + 8);
      expect(Array.from(viewToFloat32(raw, 0, 'float16', { shape: [2, 2], stride: [2, 1], offset: 0 }))).toEqual([1, -2, 0.5, 3]);
    }
  });

  it('rejects a bad magic number, an unknown storage class and missing data', async () => {
    const data = new Uint8Array(16);
    const bad = legacyBlob('FloatStorage', data, 4, { magic: [1, 2, 3] });
    await expect(decodeLegacyStorageBlob(new MemoryByteSource(bad), new PickleBytes(0, bad.length, null))).rejects.toThrow(/magic/);
    const odd = legacyBlob('ComplexFloatStorage', data, 4);
    await expect(decodeLegacyStorageBlob(new MemoryByteSource(odd), new PickleBytes(0, odd.length, null))).rejects.toThrow(/ComplexFloatStorage/);
    const short = legacyBlob('FloatStorage', data.subarray(0, 12), 4);
    await expect(decodeLegacyStorageBlob(new MemoryByteSource(short), new PickleBytes(0, short.length, null))).rejects.toThrow(TorchFormatError);
  });
});

describe('strided views', () => {
  it('materialises a transposed view with a storage offset', () => {
    // storage 0..11; view = storage[1:].reshape(... ) as a 3×2 transpose of a 2×3 block at offset 1
    const storage = Float32Array.from({ length: 12 }, (_, k) => k);
    const view = { shape: [3, 2], stride: [1, 3], offset: 1 };
    const span = viewSpan(view);
    expect(span).toEqual({ first: 1, count: 6 });
    const raw = new Uint8Array(storage.buffer, span.first * 4, span.count * 4);
    expect(Array.from(viewToFloat32(raw, span.first, 'float32', view))).toEqual([1, 4, 2, 5, 3, 6]);
    expect(Array.from(viewIndices(view))).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('handles 0-d tensors and contiguous slices', () => {
    const storage = Float64Array.from([7, 8, 9]);
    expect(Array.from(viewToFloat32(new Uint8Array(storage.buffer, 16, 8), 2, 'float64', { shape: [], stride: [], offset: 2 }))).toEqual([9]);
    const f = Float32Array.from([0, 1, 2, 3, 4]);
    expect(Array.from(viewToFloat32(new Uint8Array(f.buffer), 0, 'float32', { shape: [2], stride: [1], offset: 3 }))).toEqual([3, 4]);
  });
});

describe('float → half', () => {
  it('round-trips every finite half exactly and rounds to nearest even', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const v = halfToFloat(h);
      if (!Number.isNaN(v) && floatToHalf(v) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1); // tie → even
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9);
    expect(halfToFloat(floatToHalf(70000))).toBe(Infinity);
    expect(halfToFloat(floatToHalf(2 ** -25 * 1.5))).toBe(2 ** -24);
  });

  it('encodes float values into storage bytes', () => {
    const v = Float32Array.from([1.5, -2]);
    expect(new Float32Array(float32ToStorageBytes(v, 'float32').buffer)).toEqual(v);
    expect(Array.from(new Float64Array(float32ToStorageBytes(v, 'float64').buffer))).toEqual([1.5, -2]);
    expect(Array.from(new Uint16Array(float32ToStorageBytes(v, 'float16').buffer), halfToFloat)).toEqual([1.5, -2]);
    expect(() => float32ToStorageBytes(v, 'int64')).toThrow(TorchFormatError);
  });
});

/**
 * Regressions from loader fuzzing (npm run fuzz): lying length, size and offset fields end in a typed
 * format error (corrupt-file / incompatible-file), never a TypeError, a RangeError or an allocation
 * sized by the lie.
 */
import { describe, expect, it } from 'vitest';
import { zipSync } from 'fflate';
import { AppError } from '../core/errors.ts';
import { MemoryByteSource } from './byte-source.ts';
import { NotSafetensorsError, SafetensorsFile, SafetensorsFormatError, writeSafetensors } from './safetensors.ts';
import { ZipArchive, ZipFormatError } from './zip.ts';
import { dictFromPairs, loadPickle, PickleFormatError, type GlobalHandler } from './pickle.ts';
import { checkedSpan, TorchFormatError, viewSpan } from './torch-legacy.ts';

const enc = new TextEncoder();

/** A safetensors file with the given JSON header text and `dataBytes` zero bytes of data. */
function safetensors(header: string, dataBytes = 16): Uint8Array {
  const h = enc.encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

async function openError(bytes: Uint8Array): Promise<unknown> {
  return SafetensorsFile.open(new MemoryByteSource(bytes, 'x.safetensors')).then(() => null, (e: unknown) => e);
}

describe('lying headers end in typed errors', () => {
  it('safetensors: non-object headers, bad shapes, offsets, dtypes and metadata', async () => {
    const cases: [string, RegExp][] = [
      ['[1, 2]', /not a JSON object/],
      ['null', /not a JSON object/],
      ['{"a": {"dtype": "F32", "shape": [-1, -4], "data_offsets": [0, 16]}}', /invalid shape/],
      ['{"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0.5, 16]}}', /invalid data_offsets/],
      ['{"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16, 3]}}', /invalid data_offsets/],
      ['{"a": {"dtype": "toString", "shape": [4], "data_offsets": [0, 16]}}', /unsupported dtype/],
      ['{"a": {"dtype": "F32", "shape": [4], "data_offsets": [16, 0]}}', /outside the 16 data bytes/],
      ['{"a": {"dtype": "F32", "shape": [1099511627776, 1099511627776], "data_offsets": [0, 16]}}', /inconsistent offsets/],
      ['{"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 9007199254740992]}}', /invalid data_offsets/],
      ['{"a": null}', /unsupported entry/],
      ['{"__metadata__": {"format": 12}}', /__metadata__ must map names to strings/],
      ['{"__metadata__": [1]}', /__metadata__ must map names to strings/],
    ];
    for (const [header, msg] of cases) {
      const e = await openError(safetensors(header));
      expect(e, header).toBeInstanceOf(SafetensorsFormatError);
      expect((e as AppError).kind, header).toBe('corrupt-file');
      expect((e as Error).message, header).toMatch(msg);
    }
  });

  it('safetensors: a damaged length field is corrupt-file, bytes of another format are not-safetensors', async () => {
    const good = writeSafetensors({ a: { shape: [2], data: new Float32Array([1, 2]) } });
    const lying = good.slice();
    new DataView(lying.buffer).setBigUint64(0, 1n << 40n, true);
    const e1 = await openError(lying);
    expect(e1).toBeInstanceOf(SafetensorsFormatError);
    expect(e1).not.toBeInstanceOf(NotSafetensorsError);
    expect((e1 as Error).message).toMatch(/damaged or truncated safetensors file/);
    const e2 = await openError(enc.encode('GIF89a, certainly not a safetensors file'));
    expect(e2).toBeInstanceOf(NotSafetensorsError);
  });

  it('zip: entries running past the directory, impossible deflate sizes and stored size mismatches', async () => {
    const zip = zipSync({ 'a/data.pkl': enc.encode('x'.repeat(3000)) }, { level: 9 });
    const dv = new DataView(zip.buffer);
    // the central directory entry is right before the 22-byte end record
    const eocd = zip.length - 22;
    const cd = dv.getUint32(eocd + 16, true);
    const patched = (f: (d: DataView) => void) => {
      const b = zip.slice();
      f(new DataView(b.buffer));
      return ZipArchive.open(new MemoryByteSource(b, 'a.zip')).then(async (z) => z.read(z.entry('a/data.pkl')));
    };
    await expect(patched((d) => d.setUint16(cd + 30, 60000, true))).rejects.toThrow(/runs past the directory/);
    await expect(patched((d) => d.setUint32(cd + 24, 0xfffffff0, true))).rejects.toThrow(/more than deflate can expand/);
    await expect(patched((d) => d.setUint32(cd + 24, 3001, true))).rejects.toThrow(/inflates to 3000 bytes, not the 3001/);
    await expect(patched((d) => d.setUint32(cd + 42, zip.length - 10, true))).rejects.toThrow(/lies outside the file/);
    await expect(patched((d) => d.setUint16(eocd + 10, 5000, true))).rejects.toThrow(/5000 entries cannot fit/);
    const stored = zipSync({ 'a/b': enc.encode('hello') }, { level: 0 });
    const scd = new DataView(stored.buffer).getUint32(stored.length - 22 + 16, true);
    new DataView(stored.buffer).setUint32(scd + 24, 4, true);
    await expect(ZipArchive.open(new MemoryByteSource(stored, 's.zip'))).rejects.toBeInstanceOf(ZipFormatError);
  });

  it('pickle: OrderedDict from non-pairs, oversized integers', async () => {
    expect(() => dictFromPairs([[1, 2, 3]], 'x')).toThrow(PickleFormatError);
    expect(() => dictFromPairs([5], 'x')).toThrow(PickleFormatError);
    expect(dictFromPairs([[['k', 1]]], 'x').get('k')).toBe(1);
    // PROTO 2, GLOBAL collections OrderedDict, MARK, BININT1 7, LIST, TUPLE1, REDUCE, STOP
    const globals = new Map<string, GlobalHandler>([['collections.OrderedDict', { call: (a) => dictFromPairs(a, 'OrderedDict') }]]);
    const pk = Uint8Array.from([0x80, 2, 0x63, ...enc.encode('collections\nOrderedDict\n'), 0x28, 0x4b, 7, 0x6c, 0x85, 0x52, 0x2e]);
    await expect(loadPickle(new MemoryByteSource(pk, 'p.pkl'), { globals })).rejects.toThrow(/OrderedDict built from something other than/);
    // LONG4 with a 2000-byte integer
    const long = new Uint8Array(2 + 5 + 2000 + 1);
    long.set([0x80, 2, 0x8b, 0xd0, 0x07, 0, 0]);
    long[long.length - 1] = 0x2e;
    await expect(loadPickle(new MemoryByteSource(long, 'l.pkl'), { globals })).rejects.toThrow(/integer of 2000 bytes/);
  });

  it('tensor views: negative sizes and expanded views are refused before anything is allocated', () => {
    expect(() => viewSpan({ shape: [-2, -3], stride: [3, 1], offset: 0 })).toThrow(TorchFormatError);
    expect(() => viewSpan({ shape: [2], stride: [1], offset: -1 })).toThrow(TorchFormatError);
    expect(() => checkedSpan({ shape: [1e9], stride: [0], offset: 0 }, 1, 'w')).toThrow(/expanded views are not supported/);
    expect(() => checkedSpan({ shape: [4, 4], stride: [4, 1], offset: 2 }, 16, 'w')).toThrow(/reaches past its storage/);
    expect(checkedSpan({ shape: [4, 4], stride: [1, 4], offset: 0 }, 16, 'w')).toEqual({ first: 0, count: 16 });
  });
});

import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { MemoryByteSource } from './byte-source.ts';
import { ZipArchive, ZipFormatError } from './zip.ts';

const te = new TextEncoder();
const payload = Uint8Array.from({ length: 5000 }, (_, k) => (k * 7) % 13);

function sample(): Uint8Array {
  return zipSync({
    'root/data.pkl': [te.encode('hello pickle'), { level: 0 }],
    'root/data/0': [payload, { level: 0 }],
    'root/code/x.py': [te.encode('print(1)\n'.repeat(200)), { level: 6 }],
  });
}

/** Rewrites a plain zip into the zip64 form: a zip64 EOCD + locator, saturated classic EOCD fields. */
function toZip64(zip: Uint8Array): Uint8Array {
  const eocd = zip.length - 22; // fflate writes no comment
  const dv = new DataView(zip.buffer, zip.byteOffset);
  const count = dv.getUint16(eocd + 10, true);
  const cdSize = dv.getUint32(eocd + 12, true);
  const cdOffset = dv.getUint32(eocd + 16, true);
  const out = new Uint8Array(eocd + 56 + 20 + 22);
  out.set(zip.subarray(0, eocd));
  const o = new DataView(out.buffer);
  let p = eocd;
  o.setUint32(p, 0x06064b50, true);
  o.setBigUint64(p + 4, 44n, true);
  o.setBigUint64(p + 24, BigInt(count), true);
  o.setBigUint64(p + 32, BigInt(count), true);
  o.setBigUint64(p + 40, BigInt(cdSize), true);
  o.setBigUint64(p + 48, BigInt(cdOffset), true);
  p += 56;
  o.setUint32(p, 0x07064b50, true);
  o.setBigUint64(p + 8, BigInt(eocd), true);
  o.setUint32(p + 16, 1, true);
  p += 20;
  o.setUint32(p, 0x06054b50, true);
  o.setUint16(p + 8, 0xffff, true);
  o.setUint16(p + 10, 0xffff, true);
  o.setUint32(p + 12, 0xffffffff, true);
  o.setUint32(p + 16, 0xffffffff, true);
  return out;
}

describe('ZipArchive', () => {
  it.each([
    ['classic', (z: Uint8Array) => z],
    ['zip64', toZip64],
  ])('reads stored entries in place and inflates deflated ones (%s EOCD)', async (_, form) => {
    const zip = await ZipArchive.open(new MemoryByteSource(form(sample()), 't.zip'));
    expect([...zip.entries.keys()]).toEqual(['root/data.pkl', 'root/data/0', 'root/code/x.py']);
    expect(new TextDecoder().decode(await zip.read(zip.entry('root/data.pkl')))).toBe('hello pickle');
    const e = zip.entry('root/data/0');
    expect(e.method).toBe(0);
    expect(await zip.readRange(e, 1000, 10)).toEqual(payload.subarray(1000, 1010));
    const code = zip.entry('root/code/x.py');
    expect(code.method).toBe(8);
    expect(code.compressedSize).toBeLessThan(code.uncompressedSize);
    expect(new TextDecoder().decode(await zip.read(code))).toBe('print(1)\n'.repeat(200));
    await expect(zip.readRange(e, 4999, 2)).rejects.toThrow(ZipFormatError);
    expect(() => zip.entry('nope')).toThrow(/no entry 'nope'/);
  });

  it('rejects non-zips and truncated archives', async () => {
    await expect(ZipArchive.open(new MemoryByteSource(te.encode('definitely not a zip file at all'), 'x'))).rejects.toThrow(ZipFormatError);
    const z = sample();
    await expect(ZipArchive.open(new MemoryByteSource(z.subarray(100), 'cut.zip'))).rejects.toThrow(ZipFormatError);
  });
});

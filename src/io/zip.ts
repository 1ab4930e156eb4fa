/**
 * Random-access zip reader over a ByteSource (PyTorch `.pt` archives are zips, often > 300 MB):
 * only the end-of-central-directory record (incl. zip64), the central directory and the local
 * headers of entries actually used are read. Stored entries (what torch writes) are read in place;
 * deflated entries are inflated with fflate.
 */
import { inflateSync } from 'fflate';
import type { ByteSource } from './byte-source.ts';
import { FormatError } from '../core/errors.ts';

export class ZipFormatError extends FormatError {
  constructor(message: string) {
    super(message);
  }
}

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflated. */
  readonly method: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly localHeaderOffset: number;
}

const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const utf8 = new TextDecoder('utf-8');
/** Deflate cannot expand data by more than ~1032:1, so a larger claimed size is a lie. */
const MAX_DEFLATE_RATIO = 1032;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function u64(dv: DataView, at: number): number {
  const v = dv.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError('zip64 value too large');
  return Number(v);
}

export class ZipArchive {
  private readonly dataOffsets = new Map<string, Promise<number>>();

  private constructor(
    readonly source: ByteSource,
    /** Entries in central-directory order. */
    readonly entries: Map<string, ZipEntry>,
  ) {}

  static async open(source: ByteSource): Promise<ZipArchive> {
    const fail = (why: string) => new ZipFormatError(`${source.name}: not a readable zip archive (${why})`);
    if (source.size < 22) throw fail('too small');
    // The EOCD record (22 bytes + comment ≤ 65535) sits at the very end.
    const tailLength = Math.min(source.size, 22 + 65535 + 20);
    const tailStart = source.size - tailLength;
    const tail = await source.read(tailStart, tailLength);
    const tdv = view(tail);
    let eocd = -1;
    for (let p = tail.length - 22; p >= 0; p--) {
      if (tdv.getUint32(p, true) === SIG_EOCD && p + 22 + tdv.getUint16(p + 20, true) <= tail.length) {
        eocd = p;
        break;
      }
    }
    if (eocd < 0) throw fail('no end-of-central-directory record');
    let count = tdv.getUint16(eocd + 10, true);
    let cdSize = tdv.getUint32(eocd + 12, true);
    let cdOffset = tdv.getUint32(eocd + 16, true);
    // zip64: a locator 20 bytes before the EOCD points at the zip64 EOCD record.
    if (eocd >= 20 && tdv.getUint32(eocd - 20, true) === SIG_EOCD64_LOCATOR) {
      const at = u64(tdv, eocd - 20 + 8);
      if (at + 56 > source.size) throw fail('bad zip64 locator');
      const rec = view(await source.read(at, 56));
      if (rec.getUint32(0, true) !== SIG_EOCD64) throw fail('bad zip64 end record');
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
    }
    if (cdOffset + cdSize > source.size) throw fail('central directory lies outside the file (truncated?)');
    if (count * 46 > cdSize) throw fail(`${count} entries cannot fit in a ${cdSize}-byte central directory`);
    const cd = await source.read(cdOffset, cdSize);
    const dv = view(cd);
    const entries = new Map<string, ZipEntry>();
    let p = 0;
    for (let k = 0; k < count; k++) {
      if (p + 46 > cd.length || dv.getUint32(p, true) !== SIG_CENTRAL) throw fail(`bad central directory entry ${k}`);
      const flags = dv.getUint16(p + 8, true);
      const method = dv.getUint16(p + 10, true);
      let compressedSize = dv.getUint32(p + 20, true);
      let uncompressedSize = dv.getUint32(p + 24, true);
      const nameLength = dv.getUint16(p + 28, true);
      const extraLength = dv.getUint16(p + 30, true);
      const commentLength = dv.getUint16(p + 32, true);
      let localHeaderOffset = dv.getUint32(p + 42, true);
      if (p + 46 + nameLength + extraLength + commentLength > cd.length) throw fail(`central directory entry ${k} runs past the directory`);
      const name = utf8.decode(cd.subarray(p + 46, p + 46 + nameLength));
      // zip64 extended information extra field (id 1): only the fields saturated above are present.
      let e = p + 46 + nameLength;
      const extraEnd = e + extraLength;
      while (e + 4 <= extraEnd) {
        const id = dv.getUint16(e, true);
        const size = dv.getUint16(e + 2, true);
        if (e + 4 + size > extraEnd) throw fail(`extra field of entry '${name}' runs past its entry`);
        if (id === 1) {
          let q = e + 4;
          const field = (): number => {
            if (q + 8 > e + 4 + size) throw fail(`zip64 field of entry '${name}' is too short`);
            const v = u64(dv, q);
            q += 8;
            return v;
          };
          if (uncompressedSize === 0xffffffff) uncompressedSize = field();
          if (compressedSize === 0xffffffff) compressedSize = field();
          if (localHeaderOffset === 0xffffffff) localHeaderOffset = field();
        }
        e += 4 + size;
      }
      if (flags & 1) throw new ZipFormatError(`${source.name}: entry '${name}' is encrypted`);
      // Sizes and offsets are checked against the file before anything is allocated from them.
      if (localHeaderOffset + 30 > source.size || compressedSize > source.size) {
        throw fail(`entry '${name}' lies outside the file (offset ${localHeaderOffset}, ${compressedSize} bytes; truncated?)`);
      }
      if (method === 0 && uncompressedSize !== compressedSize) throw fail(`stored entry '${name}' has sizes ${compressedSize} ≠ ${uncompressedSize}`);
      if (method === 8 && uncompressedSize > compressedSize * MAX_DEFLATE_RATIO + 1024) {
        throw fail(`entry '${name}' claims ${uncompressedSize} bytes from ${compressedSize} compressed (more than deflate can expand)`);
      }
      entries.set(name, { name, method, compressedSize, uncompressedSize, localHeaderOffset });
      p = extraEnd + commentLength;
    }
    return new ZipArchive(source, entries);
  }

  entry(name: string): ZipEntry {
    const e = this.entries.get(name);
    if (!e) throw new ZipFormatError(`${this.source.name}: no entry '${name}' in the archive`);
    return e;
  }

  /** Absolute offset of an entry's (possibly compressed) data, from its local header. */
  dataOffset(entry: ZipEntry): Promise<number> {
    let p = this.dataOffsets.get(entry.name);
    if (!p) {
      p = (async () => {
        const h = view(await this.source.read(entry.localHeaderOffset, 30));
        if (h.getUint32(0, true) !== SIG_LOCAL) throw new ZipFormatError(`${this.source.name}: bad local header for '${entry.name}'`);
        const at = entry.localHeaderOffset + 30 + h.getUint16(26, true) + h.getUint16(28, true);
        if (at + entry.compressedSize > this.source.size) throw new ZipFormatError(`${this.source.name}: entry '${entry.name}' is truncated`);
        return at;
      })();
      this.dataOffsets.set(entry.name, p);
    }
    return p;
  }

  /** Bytes [offset, offset+length) of an entry's uncompressed content. Stored entries are read in place. */
  async readRange(entry: ZipEntry, offset: number, length: number): Promise<Uint8Array> {
    if (offset < 0 || length < 0 || offset + length > entry.uncompressedSize) {
      throw new ZipFormatError(`${this.source.name}: range ${offset}+${length} outside entry '${entry.name}' (${entry.uncompressedSize} bytes)`);
    }
    const at = await this.dataOffset(entry);
    if (entry.method === 0) return this.source.read(at + offset, length);
    if (entry.method !== 8) throw new ZipFormatError(`${this.source.name}: entry '${entry.name}' uses unsupported compression method ${entry.method}`);
    const raw = await this.source.read(at, entry.compressedSize);
    let out: Uint8Array;
    try {
      out = inflateSync(raw, { out: new Uint8Array(entry.uncompressedSize) });
    } catch (e) {
      throw new ZipFormatError(`${this.source.name}: entry '${entry.name}' is corrupt (${(e as Error).message})`);
    }
    if (out.length !== entry.uncompressedSize) {
      throw new ZipFormatError(`${this.source.name}: entry '${entry.name}' inflates to ${out.length} bytes, not the ${entry.uncompressedSize} its header says`);
    }
    return out.subarray(offset, offset + length);
  }

  read(entry: ZipEntry): Promise<Uint8Array> {
    return this.readRange(entry, 0, entry.uncompressedSize);
  }
}

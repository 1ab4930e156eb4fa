/**
 * safetensors: u64 LE header length, JSON header {name: {dtype, shape, data_offsets}, __metadata__},
 * then raw little-endian data. Reading is lazy: only the tensors asked for are read from the source.
 */
import { alignedCopy, bfloat16ArrayToFloat32, halfArrayToFloat32 } from './dtype.ts';
import type { ByteSource } from './byte-source.ts';
import { FormatError } from '../core/errors.ts';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface SafetensorsEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsFormatError extends FormatError {
  constructor(message: string) {
    super(message);
  }
}

/** The bytes are not a safetensors file at all (as opposed to a damaged one). */
export class NotSafetensorsError extends SafetensorsFormatError {}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function checkMetadata(v: unknown, name: string): Record<string, string> {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new SafetensorsFormatError(`${name}: __metadata__ must map names to strings`);
  }
  return v as Record<string, string>;
}

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, SafetensorsEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    if (source.size < 8) throw new NotSafetensorsError(`${source.name}: not a safetensors file (too small)`);
    const head = await source.read(0, 8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const n = Number(dv.getBigUint64(0, true));
    if (n <= 1 || n > MAX_HEADER || 8 + n > source.size) {
      // A JSON object right after the length field: a safetensors file whose length field is damaged (or that is truncated).
      const brace = source.size > 8 && (await source.read(8, 1))[0] === 0x7b;
      if (brace) throw new SafetensorsFormatError(`${source.name}: damaged or truncated safetensors file (header length ${n} does not fit the ${source.size}-byte file)`);
      throw new NotSafetensorsError(`${source.name}: not a safetensors file (bad header length ${n})`);
    }
    const json = new TextDecoder().decode(await source.read(8, n));
    let header: unknown;
    try {
      header = JSON.parse(json);
    } catch {
      if (json.startsWith('{')) throw new SafetensorsFormatError(`${source.name}: damaged safetensors file (the JSON header does not parse)`);
      throw new NotSafetensorsError(`${source.name}: not a safetensors file (header is not JSON)`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      throw new NotSafetensorsError(`${source.name}: not a safetensors file (header is not a JSON object)`);
    }
    const dataStart = 8 + n;
    const dataBytes = source.size - dataStart;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
      if (name === '__metadata__') {
        metadata = checkMetadata(v, source.name);
        continue;
      }
      const bad = (why: string) => new SafetensorsFormatError(`${source.name}: tensor ${name} ${why}`);
      if (typeof v !== 'object' || v === null) throw bad(`has an unsupported entry (${JSON.stringify(v)})`);
      const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof e.dtype !== 'string' || !Object.hasOwn(BYTES, e.dtype)) throw bad(`has an unsupported dtype (${JSON.stringify(e.dtype)})`);
      const dtype = e.dtype as SafetensorsDType;
      if (!Array.isArray(e.shape) || !e.shape.every(isCount)) throw bad(`has an invalid shape (${JSON.stringify(e.shape)})`);
      const offs = e.data_offsets;
      if (!Array.isArray(offs) || offs.length !== 2 || !offs.every(isCount)) throw bad(`has invalid data_offsets (${JSON.stringify(offs)})`);
      const shape = e.shape as number[];
      const [b, end] = offs as [number, number];
      // Every dimension is ≤ the file size, so the product stays exact until it exceeds the data (checked next).
      let numel = 1;
      for (const d of shape) numel = Math.min(numel * d, Number.MAX_SAFE_INTEGER);
      if (b > end || end > dataBytes) throw bad(`has data offsets [${b}, ${end}] outside the ${dataBytes} data bytes (truncated file?)`);
      if (end - b !== numel * BYTES[dtype]) throw bad(`has inconsistent offsets: [${b}, ${end}] for shape [${shape.join(', ')}] of ${dtype}`);
      entries.set(name, { dtype, shape: [...shape], begin: dataStart + b, end: dataStart + end });
    }
    return new SafetensorsFile(source, entries, metadata);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Reads one tensor as float32 (F16/BF16/F64/ints converted). */
  async readFloat32(name: string): Promise<{ shape: number[]; data: Float32Array }> {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsFormatError(`${this.source.name}: tensor ${name} not found`);
    const bytes = await this.source.read(e.begin, e.end - e.begin);
    const buf = alignedCopy(bytes);
    let data: Float32Array;
    switch (e.dtype) {
      case 'F32': data = new Float32Array(buf); break;
      case 'F16': data = halfArrayToFloat32(new Uint16Array(buf)); break;
      case 'BF16': data = bfloat16ArrayToFloat32(new Uint16Array(buf)); break;
      case 'F64': data = Float32Array.from(new Float64Array(buf)); break;
      case 'I64': data = Float32Array.from(new BigInt64Array(buf), (x) => Number(x)); break;
      case 'I32': data = Float32Array.from(new Int32Array(buf)); break;
      case 'U8': case 'BOOL': data = Float32Array.from(new Uint8Array(buf)); break;
    }
    return { shape: [...e.shape], data };
  }
}

export interface TensorToWrite {
  shape: number[];
  data: Float32Array;
}

/** Serialises float32 tensors (in the given key order) with string metadata. */
export function writeSafetensors(tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  for (const [name, t] of list) {
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`writeSafetensors: ${name} shape ${t.shape} does not match ${t.data.length} values`);
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [off, off + numel * 4] };
    off += numel * 4;
  }
  let json = JSON.stringify(header);
  // Pad the header so the data section starts 8-byte aligned (as the reference writer does).
  while ((8 + new TextEncoder().encode(json).length) % 8 !== 0) json += ' ';
  const hbytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + hbytes.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let p = 8 + hbytes.length;
  for (const [, t] of list) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

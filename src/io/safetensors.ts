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

const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, U8: 1, BOOL: 1 };
const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  private constructor(
    readonly source: ByteSource,
    readonly entries: Map<string, SafetensorsEntry>,
    readonly metadata: Record<string, string>,
  ) {}

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    if (source.size < 8) throw new SafetensorsFormatError(`${source.name}: not a safetensors file (too small)`);
    const head = await source.read(0, 8);
    const dv = new DataView(head.buffer, head.byteOffset, 8);
    const n = Number(dv.getBigUint64(0, true));
    if (n <= 1 || n > MAX_HEADER || 8 + n > source.size) {
      throw new SafetensorsFormatError(`${source.name}: not a safetensors file (bad header length ${n})`);
    }
    const json = new TextDecoder().decode(await source.read(8, n));
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(json) as Record<string, unknown>;
    } catch {
      throw new SafetensorsFormatError(`${source.name}: not a safetensors file (header is not JSON)`);
    }
    const dataStart = 8 + n;
    const entries = new Map<string, SafetensorsEntry>();
    let metadata: Record<string, string> = {};
    for (const [name, v] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (v ?? {}) as Record<string, string>;
        continue;
      }
      const e = v as { dtype: SafetensorsDType; shape: number[]; data_offsets: [number, number] };
      if (!e || !(e.dtype in BYTES) || !Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) {
        throw new SafetensorsFormatError(`${source.name}: tensor ${name} has an unsupported entry (${JSON.stringify(v)})`);
      }
      const numel = e.shape.reduce((a, b) => a * b, 1);
      const [b, end] = e.data_offsets;
      if (end - b !== numel * BYTES[e.dtype] || dataStart + end > source.size) {
        throw new SafetensorsFormatError(`${source.name}: tensor ${name} has inconsistent offsets or the file is truncated`);
      }
      entries.set(name, { dtype: e.dtype, shape: e.shape, begin: dataStart + b, end: dataStart + end });
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

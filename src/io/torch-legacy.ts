/**
 * PyTorch tensor storage helpers shared by the EG3D pickle and TorchScript readers:
 *  - decoding the nested legacy `torch.save` blob that `torch.storage._load_from_bytes` receives
 *    (spec B.5): magic, protocol 1001, sys-info, BINPERSID storage tuple, key list, then
 *    int64 element count + raw little-endian data. Only the small header is read.
 *  - strided views (offset/size/stride in elements) → contiguous Float32Array, and back.
 */
import { MemoryByteSource, type ByteSource } from './byte-source.ts';
import { alignedCopy, bfloat16ArrayToFloat32, halfArrayToFloat32 } from './dtype.ts';
import { loadPickle, PickleBytes, PickleFormatError, PickleGlobal, type GlobalHandler } from './pickle.ts';
import { FormatError } from '../core/errors.ts';

export type TorchDType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

/** `torch.<Name>Storage` class name → element dtype. */
export const STORAGE_DTYPES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  // torch ≥ 2 may write a raw byte storage this way
  UntypedStorage: 'uint8',
};

export const ELEMENT_BYTES: Readonly<Record<TorchDType, number>> = {
  float32: 4, float16: 2, bfloat16: 2, float64: 8, int64: 8, int32: 4, int16: 2, int8: 1, uint8: 1, bool: 1,
};

export class TorchFormatError extends FormatError {
  constructor(message: string) {
    super(message);
  }
}

/** Allowlist entries for the storage classes (`torch.FloatStorage`, ...): referenced, never called. */
export function storageClassGlobals(): Map<string, GlobalHandler> {
  const m = new Map<string, GlobalHandler>();
  for (const name of Object.keys(STORAGE_DTYPES)) m.set(`torch.${name}`, {});
  return m;
}

/** dtype of a storage class global from a persistent id tuple. */
export function storageDType(g: unknown, where: string): TorchDType {
  if (!(g instanceof PickleGlobal) || g.module !== 'torch' || !(g.name in STORAGE_DTYPES)) {
    throw new TorchFormatError(`${where}: unsupported storage type ${g instanceof PickleGlobal ? g.qualifiedName : String(g)}`);
  }
  return STORAGE_DTYPES[g.name];
}

/** A storage located in the outer file. */
export interface StorageLocation {
  dtype: TorchDType;
  numel: number;
  /** Absolute byte offset of element 0 in the source. */
  dataOffset: number;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/**
 * Decodes the header of a legacy `torch.save` blob holding one storage (spec B.5).
 * `blob` is the BINBYTES argument of `_load_from_bytes`, by position in `source`.
 */
export async function decodeLegacyStorageBlob(source: ByteSource, blob: PickleBytes): Promise<StorageLocation> {
  const where = `${source.name} @${blob.offset} (legacy torch.save storage blob)`;
  // The header is ~240 bytes; read a little more, and all of it only if a long key list needs it.
  for (const headLength of [Math.min(blob.length, 4096), blob.length]) {
    const head = blob.inline ?? (await source.read(blob.offset, headLength));
    try {
      return await decodeHeader(new MemoryByteSource(head, where), blob, where);
    } catch (e) {
      const truncated = e instanceof PickleFormatError && /truncated/.test(e.message);
      if (!truncated || blob.inline || headLength === blob.length) throw e;
    }
  }
  throw new TorchFormatError(`${where}: unreadable header`);
}

async function decodeHeader(head: MemoryByteSource, blob: PickleBytes, where: string): Promise<StorageLocation> {
  const globals = storageClassGlobals();
  const magic = await loadPickle(head, { globals });
  if (magic.value !== LEGACY_MAGIC && magic.value !== Number(LEGACY_MAGIC)) {
    throw new TorchFormatError(`${where}: not a legacy torch.save blob (bad magic number)`);
  }
  const proto = await loadPickle(head, { globals, start: magic.end });
  if (proto.value !== LEGACY_PROTOCOL) throw new TorchFormatError(`${where}: unsupported legacy protocol ${String(proto.value)}`);
  const sys = await loadPickle(head, { globals, start: proto.end });
  if (!(sys.value instanceof Map) || sys.value.get('little_endian') !== true) {
    throw new TorchFormatError(`${where}: only little-endian storages are supported`);
  }
  let pid: unknown[] | null = null;
  const obj = await loadPickle(head, {
    globals,
    start: sys.end,
    persistentLoad: (p) => {
      if (!Array.isArray(p)) throw new TorchFormatError(`${where}: unexpected persistent id`);
      pid = p;
      return p;
    },
  });
  const storage = pid as unknown[] | null;
  if (!storage || obj.value !== storage || storage[0] !== 'storage' || storage.length < 5) {
    throw new TorchFormatError(`${where}: the blob does not hold a single storage`);
  }
  if (storage.length > 5 && storage[5] !== null) throw new TorchFormatError(`${where}: storage views (view_metadata) are not supported`);
  const dtype = storageDType(storage[1], where);
  const keys = await loadPickle(head, { globals, start: obj.end });
  if (!Array.isArray(keys.value) || keys.value.length !== 1 || keys.value[0] !== storage[2]) {
    throw new TorchFormatError(`${where}: expected exactly one storage key`);
  }
  const countAt = keys.end;
  if (countAt + 8 > head.size) throw new PickleFormatError(`${where}: header truncated`);
  const counted = await head.read(countAt, 8);
  const numel = Number(new DataView(counted.buffer, counted.byteOffset, 8).getBigInt64(0, true));
  if (!Number.isSafeInteger(numel) || numel < 0) throw new TorchFormatError(`${where}: invalid element count ${numel}`);
  if (numel !== storage[4]) throw new TorchFormatError(`${where}: element count ${numel} ≠ ${String(storage[4])} in the storage id`);
  const dataStart = countAt + 8;
  if (dataStart + numel * ELEMENT_BYTES[dtype] > blob.length) {
    throw new TorchFormatError(`${where}: storage data is truncated (${numel} × ${ELEMENT_BYTES[dtype]} bytes do not fit in the blob)`);
  }
  return { dtype, numel, dataOffset: blob.offset + dataStart };
}

// ---- strided views --------------------------------------------------------------------------------

/** A tensor as PyTorch describes it: a strided view (elements) of a storage. */
export interface TensorView {
  shape: number[];
  stride: number[];
  /** storage_offset in elements. */
  offset: number;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Storage elements [first, first + count) that the view touches. */
export function viewSpan(view: TensorView): { first: number; count: number } {
  if (view.shape.length !== view.stride.length) throw new TorchFormatError('tensor view: size and stride ranks differ');
  if (!view.shape.every(isCount) || !view.stride.every(isCount) || !isCount(view.offset)) {
    throw new TorchFormatError(`tensor view: size [${view.shape.join(', ')}], stride [${view.stride.join(', ')}] and offset ${view.offset} must be non-negative integers`);
  }
  let numel = 1;
  for (const d of view.shape) numel = Math.min(numel * d, Number.MAX_SAFE_INTEGER);
  if (numel === 0) return { first: view.offset, count: 0 };
  let last = view.offset;
  for (let d = 0; d < view.shape.length; d++) last += (view.shape[d] - 1) * view.stride[d];
  if (!Number.isSafeInteger(last)) throw new TorchFormatError('tensor view: reaches beyond any storage');
  return { first: view.offset, count: last - view.offset + 1 };
}

/**
 * The span of a view inside a storage of `storageNumel` elements, checked before anything is read or
 * allocated: the view must lie inside the storage and hold no more elements than it (checkpoints never
 * store expanded, stride-0 views, and a lying size must not make the reader allocate more than the file).
 */
export function checkedSpan(view: TensorView, storageNumel: number, what: string): { first: number; count: number } {
  const span = viewSpan(view);
  if (span.first + span.count > storageNumel) {
    throw new TorchFormatError(`${what}: tensor reaches past its storage (${span.first + span.count} > ${storageNumel} elements)`);
  }
  const numel = numelOf(view.shape);
  if (numel > storageNumel) throw new TorchFormatError(`${what}: tensor of ${numel} elements views a storage of ${storageNumel} (expanded views are not supported)`);
  return span;
}

/** Storage element index of every view element, in row-major order. */
export function viewIndices(view: TensorView): Int32Array | Float64Array {
  const n = numelOf(view.shape);
  const out = n < 2 ** 31 ? new Int32Array(n) : new Float64Array(n);
  const rank = view.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let at = view.offset;
  for (let k = 0; k < n; k++) {
    out[k] = at;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      at += view.stride[d];
      if (idx[d] < view.shape[d]) break;
      at -= idx[d] * view.stride[d];
      idx[d] = 0;
    }
  }
  return out;
}

/** Raw little-endian storage bytes → float32 values (one per element). */
export function storageBytesToFloat32(raw: Uint8Array, dtype: TorchDType): Float32Array {
  const buf = alignedCopy(raw);
  switch (dtype) {
    case 'float32': return new Float32Array(buf);
    case 'float16': return halfArrayToFloat32(new Uint16Array(buf));
    case 'bfloat16': return bfloat16ArrayToFloat32(new Uint16Array(buf));
    case 'float64': return Float32Array.from(new Float64Array(buf));
    case 'int64': return Float32Array.from(new BigInt64Array(buf), (v) => Number(v));
    case 'int32': return Float32Array.from(new Int32Array(buf));
    case 'int16': return Float32Array.from(new Int16Array(buf));
    case 'int8': return Float32Array.from(new Int8Array(buf));
    case 'uint8':
    case 'bool': return Float32Array.from(new Uint8Array(buf));
  }
}

/**
 * Materialises a view as a contiguous row-major Float32Array. `raw` holds the storage bytes of
 * elements [spanFirst, ...) — usually just `viewSpan(view)`, so only what the view touches is read.
 */
export function viewToFloat32(raw: Uint8Array, spanFirst: number, dtype: TorchDType, view: TensorView): Float32Array {
  const values = storageBytesToFloat32(raw, dtype);
  if (isContiguous(view.shape, view.stride)) {
    const start = view.offset - spanFirst;
    const n = numelOf(view.shape);
    return start === 0 && values.length === n ? values : values.slice(start, start + n);
  }
  const indices = viewIndices(view);
  const out = new Float32Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = values[indices[k] - spanFirst];
  return out;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half, round to nearest even (overflow → ±inf, NaN kept). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (half + (rem > mid || (rem === mid && (half & 1)) ? 1 : 0));
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++; // may carry into the exponent: still correct
  e = half >>> 10;
  return sign | (e >= 31 ? 0x7c00 : half);
}

/** float32 values → raw little-endian bytes of a floating storage dtype. */
export function float32ToStorageBytes(values: Float32Array, dtype: TorchDType): Uint8Array {
  switch (dtype) {
    case 'float32': return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
    case 'float64': return new Uint8Array(Float64Array.from(values).buffer);
    case 'float16': return new Uint8Array(Uint16Array.from(values, floatToHalf).buffer);
    case 'bfloat16': {
      const bits = new Uint32Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
      // round to nearest even on the dropped 16 bits
      return new Uint8Array(Uint16Array.from(bits, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16).buffer);
    }
    default:
      throw new TorchFormatError(`cannot write float values into a ${dtype} storage`);
  }
}

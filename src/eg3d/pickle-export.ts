/**
 * Writes an adapted EG3D pickle: the original file with only the raw storage bytes of some G_ema
 * tensors overwritten (e.g. the fine-tuned `decoder.*` and `superresolution.*`). Everything else —
 * G, D, module sources, kwargs — stays byte-identical, so the official Python code loads the result
 * like the source checkpoint. The output Blob is composed of slices of the original plus the new
 * chunks; the file is never copied whole into memory.
 */
import {
  ELEMENT_BYTES,
  float32ToStorageBytes,
  isContiguous,
  numelOf,
  viewIndices,
  viewSpan,
  type TensorView,
  type TorchDType,
} from '../io/torch-legacy.ts';
import type { EG3DCheckpoint } from './checkpoint.ts';
import { BlobByteSource } from '../io/byte-source.ts';
import { InternalError } from '../core/errors.ts';

export class PickleExportError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** A byte range to overwrite, relative to storage element 0. */
export interface StoragePatch {
  byteOffset: number;
  bytes: Uint8Array;
}

/**
 * The writes that put `values` (contiguous, row-major, PyTorch layout) into the storage behind a
 * strided view: one patch for a contiguous view, one per contiguous run otherwise.
 */
export function storagePatches(view: TensorView, dtype: TorchDType, values: Float32Array): StoragePatch[] {
  const n = numelOf(view.shape);
  if (values.length !== n) throw new PickleExportError(`expected ${n} values, got ${values.length}`);
  if (view.shape.some((s, d) => s > 1 && view.stride[d] === 0)) {
    throw new PickleExportError('cannot write into a broadcast (stride-0) view');
  }
  const eb = ELEMENT_BYTES[dtype];
  const bytes = float32ToStorageBytes(values, dtype);
  if (n === 0) return [];
  if (isContiguous(view.shape, view.stride)) return [{ byteOffset: view.offset * eb, bytes }];
  const idx = viewIndices(view);
  const patches: StoragePatch[] = [];
  let runStart = 0;
  for (let k = 1; k <= n; k++) {
    if (k === n || idx[k] !== idx[k - 1] + 1) {
      patches.push({ byteOffset: idx[runStart] * eb, bytes: bytes.subarray(runStart * eb, k * eb) });
      runStart = k;
    }
  }
  return patches;
}

interface AbsolutePatch {
  at: number;
  bytes: Uint8Array;
  key: string;
}

/** The Blob behind a `BlobByteSource`, so unchanged ranges are sliced rather than copied. */
function blobOfSource(source: unknown): Blob | null {
  return source instanceof BlobByteSource ? source.blob : null;
}

const CHUNK = 8 * 1024 * 1024;

/**
 * `replacements`: G_ema key → new values (contiguous, PyTorch layout, same element count).
 * `opts.original`: the original file as a Blob, when the checkpoint's ByteSource is not Blob-backed;
 * without it, unchanged ranges are read from the source in 8 MiB chunks.
 */
export async function writeEG3DPickleWithReplacedTensors(
  ckpt: EG3DCheckpoint,
  replacements: Map<string, Float32Array>,
  opts: { original?: Blob } = {},
): Promise<Blob> {
  const source = ckpt.source;
  const patches: AbsolutePatch[] = [];
  const replacedSpans = new Map<unknown, { key: string; first: number; last: number }[]>();
  for (const [key, values] of replacements) {
    if (!ckpt.has(key)) throw new PickleExportError(`${source.name}: '${key}' is not a G_ema tensor`);
    const n = numelOf(ckpt.shapeOf(key));
    if (values.length !== n) {
      throw new PickleExportError(`${key}: ${values.length} values given, the tensor [${ckpt.shapeOf(key).join(', ')}] has ${n}`);
    }
    const { location, view } = await ckpt.locate(key);
    for (const p of storagePatches(view, location.dtype, values)) {
      patches.push({ at: location.dataOffset + p.byteOffset, bytes: p.bytes, key });
    }
    const span = viewSpan(view);
    const storage = ckpt.ref(key).storage;
    const list = replacedSpans.get(storage) ?? [];
    list.push({ key, first: span.first, last: span.first + span.count - 1 });
    replacedSpans.set(storage, list);
  }
  // A kept G_ema tensor that views the same storage bytes would silently change: refuse.
  for (const key of ckpt.keys) {
    if (replacements.has(key)) continue;
    const spans = replacedSpans.get(ckpt.ref(key).storage);
    if (!spans) continue;
    const s = viewSpan(ckpt.ref(key).view);
    const hit = spans.find((r) => r.first <= s.first + s.count - 1 && s.first <= r.last);
    if (hit) throw new PickleExportError(`'${hit.key}' shares storage bytes with '${key}', which is not replaced`);
  }
  patches.sort((a, b) => a.at - b.at);
  // Replaced views of one storage may overlap: fine when they write the same bytes there.
  const writes: AbsolutePatch[] = [];
  for (const p of patches) {
    const last = writes[writes.length - 1];
    const lastEnd = last ? last.at + last.bytes.length : 0;
    if (!last || p.at >= lastEnd) {
      writes.push(p);
      continue;
    }
    const overlap = Math.min(lastEnd, p.at + p.bytes.length) - p.at;
    const mine = p.bytes.subarray(0, overlap);
    const theirs = last.bytes.subarray(p.at - last.at, p.at - last.at + overlap);
    if (!mine.every((b, i) => b === theirs[i])) {
      throw new PickleExportError(`'${last.key}' and '${p.key}' share storage bytes but were given different values there`);
    }
    if (p.bytes.length > overlap) writes.push({ at: lastEnd, bytes: p.bytes.subarray(overlap), key: p.key });
  }

  const original = opts.original ?? blobOfSource(source);
  if (original && original.size !== source.size) {
    throw new PickleExportError(`the original Blob has ${original.size} bytes, the checkpoint ${source.size}`);
  }
  const parts: BlobPart[] = [];
  const copy = async (from: number, to: number) => {
    if (to <= from) return;
    if (original) {
      parts.push(original.slice(from, to));
      return;
    }
    for (let at = from; at < to; at += CHUNK) parts.push((await source.read(at, Math.min(CHUNK, to - at))).slice() as Uint8Array<ArrayBuffer>);
  };
  let cursor = 0;
  for (const p of writes) {
    await copy(cursor, p.at);
    parts.push(p.bytes.slice() as Uint8Array<ArrayBuffer>);
    cursor = p.at + p.bytes.length;
  }
  await copy(cursor, source.size);
  const out = new Blob(parts, { type: 'application/octet-stream' });
  if (out.size !== source.size) throw new PickleExportError(`internal error: exported ${out.size} bytes instead of ${source.size}`);
  return out;
}

/**
 * Reads an official EG3D network pickle (spec B.1–B.8) without Python: a dict {G, D, G_ema, ...} as
 * written by the training loop, or a bare pickled generator. The pickle VM scans the whole stream (the
 * memo is shared across G / D / G_ema), but tensor storages are only recorded by position; `read(key)`
 * fetches the bytes of one G_ema tensor on demand.
 */
import type { ByteSource } from '../io/byte-source.ts';
import {
  dictFromPairs,
  loadPickle,
  PickleBytes,
  PickleFormatError,
  PyObject,
  SET_STATE,
  plainClassHandler,
  type GlobalHandler,
  type StateReceiver,
} from '../io/pickle.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { FormatError } from '../core/errors.ts';
import {
  checkedSpan,
  decodeLegacyStorageBlob,
  ELEMENT_BYTES,
  isContiguous,
  numelOf,
  viewToFloat32,
  type StorageLocation,
  type TensorView,
} from '../io/torch-legacy.ts';

export class EG3DCheckpointError extends FormatError {
  constructor(message: string) {
    super(message);
  }
}

/** `torch.storage._load_from_bytes(blob)`: decoded lazily, once. */
export class LazyStorage {
  private location: Promise<StorageLocation> | null = null;
  constructor(readonly blob: PickleBytes) {}
  locate(source: ByteSource): Promise<StorageLocation> {
    this.location ??= decodeLegacyStorageBlob(source, this.blob);
    return this.location;
  }
  /** locate() from the blob's bytes already in memory (`bytes` = the whole blob). */
  locateIn(source: ByteSource, bytes: Uint8Array): Promise<StorageLocation> {
    this.location ??= decodeLegacyStorageBlob(source, new PickleBytes(this.blob.offset, this.blob.length, bytes));
    return this.location;
  }
}

/** Storages are read in runs of neighbouring blobs: at most this many bytes per read ... */
const RUN_BYTES = 64 * 1024 * 1024;
/** ... skipping gaps of at most this many bytes between blobs (module metadata, another tensor's storage). */
const RUN_GAP = 1024 * 1024;

/**
 * Receives one tensor as contiguous float32 in PyTorch layout. `owned`: `values` is a fresh array the
 * visitor may keep; otherwise it is a view into a read buffer, valid only during the call.
 */
export type TensorVisitor = (key: string, shape: number[], values: Float32Array, owned: boolean) => void;

/** `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`. */
export class TensorRef {
  constructor(
    readonly storage: LazyStorage,
    readonly view: TensorView,
  ) {}
}

/** An object of a `torch_utils.persistence` class: `_reconstruct_persistent_obj(meta)`. */
export class PersistentObject {
  constructor(
    readonly className: string,
    readonly state: Map<unknown, unknown>,
  ) {}
}

/** `numpy.dtype(descr, align, copy)` + BUILD state `(version, byteorder, ...)`. */
class NumpyDType implements StateReceiver {
  byteOrder = '<';
  constructor(readonly descr: string) {}
  [SET_STATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
  }
}

function numpyScalar(args: unknown[]): number | boolean {
  const [dtype, raw] = args;
  if (!(dtype instanceof NumpyDType) || !(raw instanceof PickleBytes) || !raw.inline) {
    throw new EG3DCheckpointError('numpy scalar: unexpected arguments');
  }
  const b = raw.inline;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = dtype.byteOrder !== '>';
  const expect = (n: number) => {
    if (b.length !== n) throw new EG3DCheckpointError(`numpy scalar ${dtype.descr}: ${b.length} bytes`);
  };
  switch (dtype.descr) {
    case 'f8': expect(8); return dv.getFloat64(0, le);
    case 'f4': expect(4); return dv.getFloat32(0, le);
    case 'i8': expect(8); return Number(dv.getBigInt64(0, le));
    case 'u8': expect(8); return Number(dv.getBigUint64(0, le));
    case 'i4': expect(4); return dv.getInt32(0, le);
    case 'u4': expect(4); return dv.getUint32(0, le);
    case 'i2': expect(2); return dv.getInt16(0, le);
    case 'u2': expect(2); return dv.getUint16(0, le);
    case 'i1': expect(1); return dv.getInt8(0);
    case 'u1': expect(1); return dv.getUint8(0);
    case 'b1': expect(1); return b[0] !== 0;
    default: throw new EG3DCheckpointError(`numpy scalar of dtype '${dtype.descr}' is not supported`);
  }
}

function asIntTuple(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new EG3DCheckpointError(`${what}: expected a tuple of ints`);
  }
  return v as number[];
}

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof LazyStorage)) throw new EG3DCheckpointError('_rebuild_tensor_v2: storage is not a _load_from_bytes storage');
  if (typeof offset !== 'number') throw new EG3DCheckpointError('_rebuild_tensor_v2: bad storage offset');
  const shape = asIntTuple(size, '_rebuild_tensor_v2 size');
  const strides = asIntTuple(stride, '_rebuild_tensor_v2 stride');
  if (shape.length !== strides.length) throw new EG3DCheckpointError('_rebuild_tensor_v2: size/stride rank mismatch');
  return new TensorRef(storage, { shape, stride: strides, offset });
}

function rebuildParameter(args: unknown[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) throw new EG3DCheckpointError('_rebuild_parameter: data is not a tensor');
  return args[0];
}

const dictHandler: GlobalHandler = {
  // OrderedDict() / OrderedDict([(k, v), ...]) and EasyDict via NEWOBJ: all become Maps.
  call: (args) => dictFromPairs(args, 'OrderedDict / EasyDict'),
  construct: () => new Map(),
};

/** The allowlist of spec B.3 (plus torch ≥ 2 and numpy 2 spellings). */
export function eg3dGlobals(): Map<string, GlobalHandler> {
  const g = new Map<string, GlobalHandler>();
  g.set('torch_utils.persistence._reconstruct_persistent_obj', {
    call: ([meta]) => {
      if (!(meta instanceof Map) || meta.get('type') !== 'class') {
        throw new EG3DCheckpointError('_reconstruct_persistent_obj: unexpected meta (only persistent classes are supported)');
      }
      const state = meta.get('state');
      const className = meta.get('class_name');
      if (!(state instanceof Map) || typeof className !== 'string') throw new EG3DCheckpointError('_reconstruct_persistent_obj: meta lacks state/class_name');
      return new PersistentObject(className, state);
    },
  });
  g.set('collections.OrderedDict', dictHandler);
  g.set('dnnlib.util.EasyDict', dictHandler);
  g.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  g.set('torch._utils._rebuild_parameter', { call: rebuildParameter });
  g.set('torch._utils._rebuild_parameter_with_state', { call: rebuildParameter });
  g.set('torch.storage._load_from_bytes', {
    call: ([b]) => {
      if (!(b instanceof PickleBytes)) throw new EG3DCheckpointError('_load_from_bytes: argument is not bytes');
      return new LazyStorage(b);
    },
  });
  g.set('numpy.dtype', { call: ([descr]) => new NumpyDType(String(descr)) });
  g.set('numpy.core.multiarray.scalar', { call: numpyScalar });
  g.set('numpy._core.multiarray.scalar', { call: numpyScalar });
  // Non-persistent module classes pickled the ordinary way (spec B.2): plain attribute containers.
  for (const cls of [
    'training.triplane.OSGDecoder',
    'torch.nn.modules.container.Sequential',
    'torch.nn.modules.activation.Softplus',
    'training.volumetric_rendering.renderer.ImportanceRenderer',
    'training.volumetric_rendering.ray_marcher.MipRayMarcher2',
    'training.volumetric_rendering.ray_sampler.RaySampler',
  ]) {
    g.set(cls, plainClassHandler(cls));
  }
  return g;
}

function moduleState(obj: unknown, path: string): Map<unknown, unknown> {
  const state = obj instanceof PersistentObject ? obj.state : obj instanceof PyObject ? obj.state : undefined;
  if (!(state instanceof Map)) throw new EG3DCheckpointError(`'${path || '<root>'}' is not a torch module`);
  return state;
}

/** Nesting deeper than this is not a configuration (EG3D's kwargs nest 3 levels); it guards the recursion. */
const MAX_NESTING = 64;

/** Plain JSON value: dict/EasyDict → object, tuple/list → array, numpy scalars already numbers. */
export function toPlain(v: unknown, depth = 0, path = new Set<unknown>()): unknown {
  if (v === null || typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof TensorRef) return { __tensor__: v.view.shape };
  if (v instanceof PersistentObject) return { __class__: v.className };
  if (v instanceof PyObject) return { __class__: v.className };
  if (!(Array.isArray(v) || v instanceof Set || v instanceof Map)) return { __unsupported__: Object.prototype.toString.call(v) };
  if (depth >= MAX_NESTING) throw new EG3DCheckpointError(`configuration values nest deeper than ${MAX_NESTING} levels`);
  if (path.has(v)) throw new EG3DCheckpointError('a configuration value contains itself');
  path.add(v);
  let out: unknown;
  if (v instanceof Map) {
    const o: Record<string, unknown> = {};
    // defineProperty: a key such as '__proto__' becomes an ordinary property
    for (const [k, x] of v) Object.defineProperty(o, String(k), { value: toPlain(x, depth + 1, path), enumerable: true, writable: true, configurable: true });
    out = o;
  } else {
    out = [...v].map((x) => toPlain(x, depth + 1, path));
  }
  path.delete(v);
  return out;
}

export interface ReadEG3DOptions {
  onProgress?: (bytesRead: number, total: number) => void;
  /** Read window of the pickle VM (default 8 MiB). */
  windowBytes?: number;
}

export interface EG3DTensorEntry {
  key: string;
  ref: TensorRef;
}

export class EG3DCheckpoint {
  private readonly tensors: Map<string, TensorRef>;
  private hash: Promise<string> | null = null;

  constructor(
    readonly source: ByteSource,
    /** Class of the generator ('TriPlaneGenerator'). */
    readonly className: string,
    readonly initKwargs: Record<string, unknown>,
    readonly renderingKwargs: Record<string, unknown>,
    readonly neuralRenderingResolution: number,
    entries: EG3DTensorEntry[],
  ) {
    this.tensors = new Map(entries.map((e) => [e.key, e.ref]));
  }

  /** G_ema state-dict keys in PyTorch order. */
  get keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  /** The tensor record of a key (its storage identity tells which keys share bytes). */
  ref(key: string): TensorRef {
    const r = this.tensors.get(key);
    if (!r) throw new EG3DCheckpointError(`${this.source.name}: G_ema has no tensor '${key}'`);
    return r;
  }

  shapeOf(key: string): number[] {
    return [...this.ref(key).view.shape];
  }

  /** Storage position and strided view of a tensor (used by the pickle exporter). */
  async locate(key: string): Promise<{ location: StorageLocation; view: TensorView }> {
    const r = this.ref(key);
    const location = await r.storage.locate(this.source);
    checkedSpan(r.view, location.numel, `${this.source.name}: tensor '${key}'`);
    return { location, view: r.view };
  }

  /** One tensor as a contiguous float32 array in PyTorch layout. */
  async read(key: string): Promise<{ shape: number[]; data: Float32Array }> {
    let out: { shape: number[]; data: Float32Array } | null = null;
    await this.readEach([key], (_k, shape, values, owned) => {
      out = { shape, data: owned ? values : values.slice() };
    });
    return out!;
  }

  /**
   * Every tensor of `keys`, each storage read once: the storages' blobs are read in bulk (runs of
   * neighbouring blobs, up to 64 MiB per read), headers decoded from memory, and aligned float32 data handed
   * to `visit` without a copy. Tensors arrive in file order.
   */
  async readEach(keys: readonly string[], visit: TensorVisitor): Promise<void> {
    const byStorage = new Map<LazyStorage, string[]>();
    for (const key of keys) {
      const s = this.ref(key).storage;
      const list = byStorage.get(s);
      if (list) list.push(key);
      else byStorage.set(s, [key]);
    }
    const deliver = async (storage: LazyStorage, blobBytes: Uint8Array) => {
      const location = await storage.locateIn(this.source, blobBytes);
      for (const key of byStorage.get(storage)!) this.deliverTensor(key, location, blobBytes, visit);
    };
    const stored: LazyStorage[] = [];
    for (const s of byStorage.keys()) {
      if (s.blob.inline) await deliver(s, s.blob.inline);
      else stored.push(s);
    }
    stored.sort((a, b) => a.blob.offset - b.blob.offset);
    const runs: { start: number; end: number; storages: LazyStorage[] }[] = [];
    for (const s of stored) {
      const run = runs[runs.length - 1];
      const b = s.blob;
      if (run && b.offset - run.end <= RUN_GAP && b.offset + b.length - run.start <= RUN_BYTES) {
        run.end = Math.max(run.end, b.offset + b.length);
        run.storages.push(s);
      } else {
        runs.push({ start: b.offset, end: b.offset + b.length, storages: [s] });
      }
    }
    // The next run is read while this one is converted.
    let next = runs.length ? this.source.read(runs[0].start, runs[0].end - runs[0].start) : null;
    for (let r = 0; r < runs.length; r++) {
      const bytes = await next!;
      next = r + 1 < runs.length ? this.source.read(runs[r + 1].start, runs[r + 1].end - runs[r + 1].start) : null;
      const { start, storages } = runs[r];
      for (const s of storages) await deliver(s, bytes.subarray(s.blob.offset - start, s.blob.offset - start + s.blob.length));
    }
  }

  private deliverTensor(key: string, location: StorageLocation, blobBytes: Uint8Array, visit: TensorVisitor): void {
    const r = this.ref(key);
    const span = checkedSpan(r.view, location.numel, `${this.source.name}: tensor '${key}'`);
    const eb = ELEMENT_BYTES[location.dtype];
    const blob = r.storage.blob;
    const n = numelOf(r.view.shape);
    const shape = [...r.view.shape];
    const begin = location.dataOffset + span.first * eb - blob.offset;
    const raw = blobBytes.subarray(begin, begin + span.count * eb);
    if (location.dtype === 'float32' && isContiguous(r.view.shape, r.view.stride)) {
      if (raw.byteOffset % 4 === 0) {
        visit(key, shape, new Float32Array(raw.buffer, raw.byteOffset, n), false);
      } else {
        const copy = new Float32Array(n);
        new Uint8Array(copy.buffer).set(raw.subarray(0, n * 4));
        visit(key, shape, copy, true);
      }
      return;
    }
    const data = viewToFloat32(raw, span.first, location.dtype, r.view);
    if (data.length !== n) throw new EG3DCheckpointError(`${key}: size mismatch`);
    visit(key, shape, data, true);
  }

  /** SHA-256 (hex) of the whole file, computed incrementally once. */
  sha256(onProgress?: (bytesRead: number, total: number) => void): Promise<string> {
    this.hash ??= sha256OfSource(this.source, { onProgress });
    return this.hash;
  }
}

function collectTensors(root: unknown): EG3DTensorEntry[] {
  const out: EG3DTensorEntry[] = [];
  const seen = new Set<unknown>();
  // state_dict order: own parameters, own persistent buffers, then children depth-first.
  const walk = (mod: unknown, prefix: string, depth: number) => {
    if (seen.has(mod)) throw new EG3DCheckpointError(`module '${prefix}' appears twice in the generator tree`);
    if (depth > MAX_NESTING) throw new EG3DCheckpointError(`the module tree is deeper than ${MAX_NESTING} levels`);
    seen.add(mod);
    const state = moduleState(mod, prefix.replace(/\.$/, ''));
    const nonPersistent = state.get('_non_persistent_buffers_set');
    const skip = nonPersistent instanceof Set ? nonPersistent : new Set();
    for (const field of ['_parameters', '_buffers'] as const) {
      const d = state.get(field);
      if (d === undefined) continue;
      if (!(d instanceof Map)) throw new EG3DCheckpointError(`'${prefix}${field}' is not a dict`);
      for (const [name, t] of d) {
        if (t === null || (field === '_buffers' && skip.has(name))) continue;
        if (!(t instanceof TensorRef)) throw new EG3DCheckpointError(`'${prefix}${String(name)}' is not a tensor`);
        out.push({ key: `${prefix}${String(name)}`, ref: t });
      }
    }
    const children = state.get('_modules');
    if (children instanceof Map) {
      for (const [name, child] of children) if (child !== null) walk(child, `${prefix}${String(name)}.`, depth + 1);
    }
  };
  walk(root, '', 0);
  return out;
}

/** Parses an EG3D network pickle. Throws PickleFormatError / UnsupportedGlobalError / EG3DCheckpointError. */
export async function readEG3DPickle(source: ByteSource, opts: ReadEG3DOptions = {}): Promise<EG3DCheckpoint> {
  if (source.size >= 4) {
    const head = await source.read(0, 4);
    if (head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) {
      throw new EG3DCheckpointError(
        `${source.name}: this is a zip archive (a torch.save / TorchScript file), not an EG3D network pickle (.pkl as written by the EG3D training loop)`,
      );
    }
  }
  const { value } = await loadPickle(source, {
    globals: eg3dGlobals(),
    onProgress: opts.onProgress,
    windowBytes: opts.windowBytes,
  });
  let generator: unknown;
  if (value instanceof Map) {
    if (!value.has('G_ema')) {
      throw new EG3DCheckpointError(`${source.name}: the pickle is a dict without 'G_ema' (keys: ${[...value.keys()].map(String).join(', ')})`);
    }
    generator = value.get('G_ema');
  } else {
    generator = value;
  }
  if (!(generator instanceof PersistentObject)) {
    throw new EG3DCheckpointError(`${source.name}: no EG3D generator found (G_ema is not a torch_utils.persistence module)`);
  }
  const state = generator.state;
  const initKwargs = toPlain(state.get('_init_kwargs') ?? new Map());
  const renderingKwargs = toPlain(state.get('rendering_kwargs') ?? new Map());
  const nrr = state.get('neural_rendering_resolution');
  if (typeof nrr !== 'number') throw new EG3DCheckpointError(`${source.name}: generator has no neural_rendering_resolution (is it a TriPlaneGenerator?)`);
  const entries = collectTensors(generator);
  if (entries.length === 0) throw new PickleFormatError(`${source.name}: the generator has no tensors`);
  return new EG3DCheckpoint(
    source,
    generator.className,
    initKwargs as Record<string, unknown>,
    renderingKwargs as Record<string, unknown>,
    nrr,
    entries,
  );
}

/**
 * TorchScript archive reader (OpenAI CLIP `.pt` layout): a zip with `<root>/data.pkl` (module tree
 * as `__torch__.*` classes rebuilt by BUILD state dicts), tensors via `torch._utils._rebuild_tensor_v2`
 * over persistent ids `('storage', torch.HalfStorage, key, location, numel)` whose bytes are the zip
 * entry `<root>/data/<key>`. Classes are treated as plain attribute containers (never by class name,
 * mangled or not): the result is a flat ordered map `attribute.path → tensor`, read lazily.
 */
import { MemoryByteSource, type ByteSource } from './byte-source.ts';
import { loadPickle, PickleFormatError, plainClassHandler, PyObject, type GlobalHandler } from './pickle.ts';
import {
  ELEMENT_BYTES,
  numelOf,
  storageClassGlobals,
  storageDType,
  TorchFormatError,
  viewSpan,
  viewToFloat32,
  type TensorView,
  type TorchDType,
} from './torch-legacy.ts';
import { ZipArchive, type ZipEntry } from './zip.ts';

export interface TorchScriptTensor {
  readonly key: string;
  readonly shape: number[];
  readonly dtype: TorchDType;
  /** Contiguous float32 values in PyTorch layout (fp16/bf16/f64 converted). */
  read(): Promise<Float32Array>;
}

class ArchiveStorage {
  constructor(
    readonly key: string,
    readonly dtype: TorchDType,
    readonly numel: number,
  ) {}
}

class ArchiveTensor {
  constructor(
    readonly storage: ArchiveStorage,
    readonly view: TensorView,
  ) {}
}

/** Pure helpers torch.jit uses for typed containers: they return their first argument. */
const IDENTITY_HELPERS = ['build_intlist', 'build_tensorlist', 'build_doublelist', 'build_boollist', 'restore_type_tag'];

function rebuildTensor(args: unknown[]): ArchiveTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof ArchiveStorage)) throw new TorchFormatError('_rebuild_tensor_v2: storage is not an archive storage');
  const ints = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
  if (typeof offset !== 'number' || !ints(size) || !ints(stride) || (size as number[]).length !== (stride as number[]).length) {
    throw new TorchFormatError('_rebuild_tensor_v2: bad offset/size/stride');
  }
  return new ArchiveTensor(storage, { shape: size as number[], stride: stride as number[], offset });
}

function torchScriptGlobals(): (module: string, name: string) => GlobalHandler | undefined {
  const fixed = storageClassGlobals();
  fixed.set('torch._utils._rebuild_tensor_v2', { call: rebuildTensor });
  fixed.set('torch._utils._rebuild_parameter', {
    call: ([t]) => {
      if (!(t instanceof ArchiveTensor)) throw new TorchFormatError('_rebuild_parameter: data is not a tensor');
      return t;
    },
  });
  fixed.set('collections.OrderedDict', {
    call: (args) => new Map(Array.isArray(args[0]) ? (args[0] as [unknown, unknown][]) : []),
  });
  for (const h of IDENTITY_HELPERS) fixed.set(`torch.jit._pickle.${h}`, { call: (args) => args[0] });
  return (module, name) => {
    const handler = fixed.get(`${module}.${name}`);
    if (handler) return handler;
    // Any TorchScript class, e.g. __torch__.model.___torch_mangle_34.LayerNorm: a plain container.
    if (module === '__torch__' || module.startsWith('__torch__.')) return plainClassHandler(`${module}.${name}`);
    return undefined;
  };
}

export class TorchScriptArchive {
  private constructor(
    readonly zip: ZipArchive,
    /** Archive root folder (e.g. 'ViT-B-32' or 'archive'). */
    readonly root: string,
    /** Every tensor reachable from the root object, by attribute path, in pickle order. */
    readonly tensors: Map<string, TorchScriptTensor>,
  ) {}

  static async open(source: ByteSource, opts: { onProgress?: (bytesRead: number, total: number) => void } = {}): Promise<TorchScriptArchive> {
    const zip = await ZipArchive.open(source);
    const dataPkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!dataPkl) throw new TorchFormatError(`${source.name}: zip has no <root>/data.pkl (not a TorchScript / torch.save archive)`);
    const root = dataPkl.slice(0, -'/data.pkl'.length);
    const entry = zip.entry(dataPkl);
    // A stored data.pkl is parsed in place; a deflated one is inflated first.
    let pklSource: ByteSource = source;
    let start = await zip.dataOffset(entry);
    if (entry.method !== 0) {
      pklSource = new MemoryByteSource(await zip.read(entry), dataPkl);
      start = 0;
    }
    const storages = new Map<string, ArchiveStorage>();
    const { value } = await loadPickle(pklSource, {
      globals: torchScriptGlobals(),
      start,
      end: start + entry.uncompressedSize,
      onProgress: opts.onProgress && ((done) => opts.onProgress!(done - start, entry.uncompressedSize)),
      persistentLoad: (pid) => {
        if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5 || typeof pid[2] !== 'string' || typeof pid[4] !== 'number') {
          throw new TorchFormatError(`${source.name}: unsupported persistent id in ${dataPkl}`);
        }
        const key = pid[2];
        let s = storages.get(key);
        if (!s) {
          s = new ArchiveStorage(key, storageDType(pid[1], `${source.name} ${dataPkl}`), pid[4]);
          storages.set(key, s);
        }
        return s;
      },
    });
    const tensors = new Map<string, TorchScriptTensor>();
    const seen = new Set<unknown>();
    const visit = (v: unknown, path: string) => {
      if (v instanceof ArchiveTensor) {
        if (!tensors.has(path)) tensors.set(path, makeTensor(zip, root, path, v));
        return;
      }
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      seen.add(v);
      const join = (k: unknown) => (path ? `${path}.${String(k)}` : String(k));
      if (v instanceof PyObject) {
        if (v.state instanceof Map) for (const [k, x] of v.state) visit(x, join(k));
        else visit(v.state, path);
      } else if (v instanceof Map) {
        for (const [k, x] of v) visit(x, join(k));
      } else if (Array.isArray(v)) {
        v.forEach((x, k) => visit(x, join(k)));
      }
    };
    visit(value, '');
    if (tensors.size === 0) throw new PickleFormatError(`${source.name}: ${dataPkl} holds no tensors`);
    return new TorchScriptArchive(zip, root, tensors);
  }

  keys(): string[] {
    return [...this.tensors.keys()];
  }

  has(key: string): boolean {
    return this.tensors.has(key);
  }

  get(key: string): TorchScriptTensor {
    const t = this.tensors.get(key);
    if (!t) throw new TorchFormatError(`${this.zip.source.name}: no tensor '${key}' in the archive`);
    return t;
  }
}

function makeTensor(zip: ZipArchive, root: string, key: string, t: ArchiveTensor): TorchScriptTensor {
  const { storage, view } = t;
  return {
    key,
    shape: [...view.shape],
    dtype: storage.dtype,
    async read() {
      const entry: ZipEntry = zip.entry(`${root}/data/${storage.key}`);
      const eb = ELEMENT_BYTES[storage.dtype];
      if (entry.uncompressedSize < storage.numel * eb) {
        throw new TorchFormatError(`${zip.source.name}: storage ${storage.key} has ${entry.uncompressedSize} bytes, needs ${storage.numel * eb}`);
      }
      const span = viewSpan(view);
      if (span.first + span.count > storage.numel) throw new TorchFormatError(`${key}: view reaches past its storage`);
      const raw = await zip.readRange(entry, span.first * eb, span.count * eb);
      const data = viewToFloat32(raw, span.first, storage.dtype, view);
      if (data.length !== numelOf(view.shape)) throw new TorchFormatError(`${key}: size mismatch`);
      return data;
    },
  };
}

/**
 * TorchScript archive reader (OpenAI CLIP `.pt` layout): a zip with `<root>/data.pkl` (module tree
 * as `__torch__.*` classes rebuilt by BUILD state dicts), tensors via `torch._utils._rebuild_tensor_v2`
 * over persistent ids `('storage', torch.HalfStorage, key, location, numel)` whose bytes are the zip
 * entry `<root>/data/<key>`. Classes are treated as plain attribute containers (never by class name,
 * mangled or not): the result is a flat ordered map `attribute.path → tensor`, read lazily.
 */
import { MemoryByteSource, type ByteSource } from './byte-source.ts';
import { IncompatibleFileError } from '../core/errors.ts';
import { dictFromPairs, loadPickle, PickleFormatError, plainClassHandler, PyObject, type GlobalHandler } from './pickle.ts';
import {
  checkedSpan,
  ELEMENT_BYTES,
  numelOf,
  storageClassGlobals,
  storageDType,
  TorchFormatError,
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

/** Module trees nest a few levels (visual.transformer.resblocks.N.attn.out_proj); this bounds the walk. */
const MAX_DEPTH = 256;

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
  fixed.set('collections.OrderedDict', { call: (args) => dictFromPairs(args, 'collections.OrderedDict') });
  for (const h of IDENTITY_HELPERS) fixed.set(`torch.jit._pickle.${h}`, { call: (args) => args[0] });
  return (module, name) => {
    const handler = fixed.get(`${module}.${name}`);
    if (handler) return handler;
    // Any TorchScript class, e.g. __torch__.model.___torch_mangle_34.LayerNorm: a plain container.
    if (module === '__torch__' || module.startsWith('__torch__.')) return plainClassHandler(`${module}.${name}`);
    return undefined;
  };
}

/** Parses one pickle of the archive (`data.pkl`, `constants.pkl`) whose storages live in `<root>/<folder>/<key>`. */
async function loadArchivePickle(
  zip: ZipArchive,
  entryName: string,
  onProgress?: (bytesRead: number, total: number) => void,
): Promise<unknown> {
  const source = zip.source;
  const entry = zip.entry(entryName);
  // A stored pickle is parsed in place; a deflated one is inflated first.
  let pklSource: ByteSource = source;
  let start = await zip.dataOffset(entry);
  if (entry.method !== 0) {
    pklSource = new MemoryByteSource(await zip.read(entry), entryName);
    start = 0;
  }
  const storages = new Map<string, ArchiveStorage>();
  const { value } = await loadPickle(pklSource, {
    globals: torchScriptGlobals(),
    start,
    end: start + entry.uncompressedSize,
    onProgress: onProgress && ((done) => onProgress(done - start, entry.uncompressedSize)),
    persistentLoad: (pid) => {
      if (
        !Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5 || typeof pid[2] !== 'string' ||
        typeof pid[4] !== 'number' || !Number.isSafeInteger(pid[4]) || pid[4] < 0
      ) {
        throw new TorchFormatError(`${source.name}: unsupported persistent id in ${entryName}`);
      }
      const key = pid[2];
      let s = storages.get(key);
      if (!s) {
        s = new ArchiveStorage(key, storageDType(pid[1], `${source.name} ${entryName}`), pid[4]);
        storages.set(key, s);
      }
      return s;
    },
  });
  return value;
}

/** Source files larger than this are not TorchScript module code (OpenAI's largest is a few hundred kB). */
const MAX_CODE_BYTES = 16 * 1024 * 1024;

export class TorchScriptArchive {
  private constants: Promise<unknown[] | null> | null = null;

  private constructor(
    readonly zip: ZipArchive,
    /** Archive root folder (e.g. 'ViT-B-32' or 'archive'). */
    readonly root: string,
    /** Every tensor reachable from the root object, by attribute path, in pickle order. */
    readonly tensors: Map<string, TorchScriptTensor>,
    /** The TorchScript class of every module object, by attribute path ('' = the root module). */
    readonly moduleClasses: Map<string, string>,
  ) {}

  static async open(source: ByteSource, opts: { onProgress?: (bytesRead: number, total: number) => void } = {}): Promise<TorchScriptArchive> {
    const zip = await ZipArchive.open(source);
    const dataPkl = [...zip.entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (!dataPkl) throw new IncompatibleFileError(`${source.name}: zip has no <root>/data.pkl (not a TorchScript / torch.save archive)`);
    const root = dataPkl.slice(0, -'/data.pkl'.length);
    const value = await loadArchivePickle(zip, dataPkl, opts.onProgress);
    const tensors = new Map<string, TorchScriptTensor>();
    const moduleClasses = new Map<string, string>();
    const seen = new Set<unknown>();
    const visit = (v: unknown, path: string, depth: number) => {
      if (v instanceof ArchiveTensor) {
        if (!tensors.has(path)) tensors.set(path, makeTensor(zip, root, 'data', path, v));
        return;
      }
      if (typeof v !== 'object' || v === null || seen.has(v)) return;
      if (depth > MAX_DEPTH) throw new TorchFormatError(`${source.name}: the module tree in ${dataPkl} is deeper than ${MAX_DEPTH} levels`);
      seen.add(v);
      const join = (k: unknown) => (path ? `${path}.${String(k)}` : String(k));
      if (v instanceof PyObject) {
        if (!moduleClasses.has(path)) moduleClasses.set(path, v.className);
        if (v.state instanceof Map) for (const [k, x] of v.state) visit(x, join(k), depth + 1);
        else visit(v.state, path, depth + 1);
      } else if (v instanceof Map) {
        for (const [k, x] of v) visit(x, join(k), depth + 1);
      } else if (Array.isArray(v)) {
        v.forEach((x, k) => visit(x, join(k), depth + 1));
      }
    };
    visit(value, '', 0);
    if (tensors.size === 0) throw new PickleFormatError(`${source.name}: ${dataPkl} holds no tensors`);
    return new TorchScriptArchive(zip, root, tensors, moduleClasses);
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

  /**
   * The TorchScript source of a class (`__torch__.a.b.Name` → the `class Name(...)` block of
   * `<root>/code/__torch__/a/b.py`), or null when the archive does not carry it.
   */
  async classSource(qualifiedName: string): Promise<string | null> {
    const dot = qualifiedName.lastIndexOf('.');
    if (dot <= 0) return null;
    const file = `${this.root}/code/${qualifiedName.slice(0, dot).replace(/\./g, '/')}.py`;
    const entry = this.zip.entries.get(file);
    if (!entry || entry.uncompressedSize > MAX_CODE_BYTES) return null;
    const text = new TextDecoder('utf-8').decode(await this.zip.read(entry));
    const name = qualifiedName.slice(dot + 1);
    const at = text.search(new RegExp(`^class ${name.replace(/[^\w]/g, '')}\\(`, 'm'));
    if (at < 0) return null;
    const next = text.slice(at + 1).search(/^class /m);
    return next < 0 ? text.slice(at) : text.slice(at, at + 1 + next);
  }

  /** Tensor `CONSTANTS.c<index>` of the archive's `constants.pkl`, or null when absent. */
  async constant(index: number): Promise<TorchScriptTensor | null> {
    this.constants ??= (async () => {
      const name = `${this.root}/constants.pkl`;
      if (!this.zip.entries.has(name)) return null;
      const value = await loadArchivePickle(this.zip, name);
      if (!Array.isArray(value)) throw new TorchFormatError(`${this.zip.source.name}: ${name} is not a tuple of constants`);
      return value;
    })();
    const list = await this.constants;
    const c = list?.[index];
    return c instanceof ArchiveTensor ? makeTensor(this.zip, this.root, 'constants', `CONSTANTS.c${index}`, c) : null;
  }
}

function makeTensor(zip: ZipArchive, root: string, folder: 'data' | 'constants', key: string, t: ArchiveTensor): TorchScriptTensor {
  const { storage, view } = t;
  return {
    key,
    shape: [...view.shape],
    dtype: storage.dtype,
    async read() {
      const entry: ZipEntry = zip.entry(`${root}/${folder}/${storage.key}`);
      const eb = ELEMENT_BYTES[storage.dtype];
      if (entry.uncompressedSize < storage.numel * eb) {
        throw new TorchFormatError(`${zip.source.name}: storage ${storage.key} has ${entry.uncompressedSize} bytes, needs ${storage.numel * eb}`);
      }
      const span = checkedSpan(view, storage.numel, key);
      const raw = await zip.readRange(entry, span.first * eb, span.count * eb);
      const data = viewToFloat32(raw, span.first, storage.dtype, view);
      if (data.length !== numelOf(view.shape)) throw new TorchFormatError(`${key}: size mismatch`);
      return data;
    },
  };
}

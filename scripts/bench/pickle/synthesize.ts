/**
 * Writes a full-size EG3D network pickle for the loading benchmark: a dict {G, G_ema} of
 * `torch_utils.persistence` generators with every state-dict tensor of an architecture (e.g. the released
 * ffhq512-128), each a nested legacy `torch.save` float32 storage blob, exactly as the official training loop
 * lays them out (`_rebuild_tensor_v2(_load_from_bytes(blob), ...)`). Values are a cheap deterministic pattern:
 * the benchmark measures reading, not the numbers. Python's `pickle.load` (with torch and EG3D's classes
 * stubbed) reads the same file, which is what the ratio printed by `--only pickle` compares.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import type { EG3DConfig } from '../../../src/eg3d/config.ts';
import { tensorSpecs, type TensorSpec } from '../../../src/eg3d/weights.ts';

type Py = null | boolean | number | string | Py[] | { tuple: Py[] } | Map<string, Py>;

class PickleOut {
  private parts: Uint8Array[] = [];
  private small: number[] = [];
  private flush(): void {
    if (this.small.length) this.parts.push(Uint8Array.from(this.small));
    this.small = [];
  }
  op(...bytes: number[]): void {
    for (const b of bytes) this.small.push(b);
  }
  u32(v: number): void {
    this.op(v & 255, (v >>> 8) & 255, (v >>> 16) & 255, (v >>> 24) & 255);
  }
  str(s: string): void {
    const b = new TextEncoder().encode(s);
    this.op(0x58); // BINUNICODE
    this.u32(b.length);
    for (const x of b) this.small.push(x);
  }
  global(module: string, name: string): void {
    this.op(0x63); // GLOBAL
    for (const x of new TextEncoder().encode(`${module}\n${name}\n`)) this.small.push(x);
  }
  bytes(chunks: Uint8Array[]): void {
    const n = chunks.reduce((a, c) => a + c.length, 0);
    this.op(0x42); // BINBYTES
    this.u32(n);
    this.flush();
    this.parts.push(...chunks);
  }
  value(v: Py): void {
    if (v === null) this.op(0x4e);
    else if (v === true) this.op(0x88);
    else if (v === false) this.op(0x89);
    else if (typeof v === 'number') {
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 31) {
        this.op(0x4a); // BININT
        this.u32(v >>> 0);
      } else {
        this.op(0x47); // BINFLOAT (big-endian)
        const dv = new DataView(new ArrayBuffer(8));
        dv.setFloat64(0, v, false);
        this.op(...new Uint8Array(dv.buffer));
      }
    } else if (typeof v === 'string') this.str(v);
    else if (Array.isArray(v)) {
      this.op(0x5d, 0x28); // EMPTY_LIST MARK
      for (const x of v) this.value(x);
      this.op(0x65); // APPENDS
    } else if (v instanceof Map) {
      this.op(0x7d, 0x28); // EMPTY_DICT MARK
      for (const [k, x] of v) {
        this.str(k);
        this.value(x);
      }
      this.op(0x75); // SETITEMS
    } else {
      this.op(0x28);
      for (const x of v.tuple) this.value(x);
      this.op(0x74); // TUPLE
    }
  }
  done(): Uint8Array[] {
    this.flush();
    return this.parts;
  }
}

function dictOf(o: Record<string, unknown>): Map<string, Py> {
  const m = new Map<string, Py>();
  for (const [k, v] of Object.entries(o)) m.set(k, plain(v));
  return m;
}
function plain(v: unknown): Py {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(plain);
  return dictOf(v as Record<string, unknown>);
}

/** One legacy `torch.save(storage)` blob (protocol 2), as `torch.storage._load_from_bytes` reads it. */
function legacyStorageBlob(key: string, values: Float32Array): Uint8Array[] {
  const p = new PickleOut();
  p.op(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e); // magic
  p.op(0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e); // protocol 1001
  p.op(0x80, 0x02);
  p.value(new Map<string, Py>([['protocol_version', 1001], ['little_endian', true], ['type_sizes', new Map<string, Py>([['short', 2], ['int', 4], ['long', 4]])]]));
  p.op(0x2e);
  p.op(0x80, 0x02, 0x28);
  p.str('storage');
  p.global('torch', 'FloatStorage');
  p.str(key);
  p.str('cpu');
  p.value(values.length);
  p.op(0x4e, 0x74, 0x51, 0x2e); // None TUPLE BINPERSID STOP
  p.op(0x80, 0x02, 0x5d);
  p.str(key);
  p.op(0x61, 0x2e); // APPEND STOP
  const count = new Uint8Array(8);
  new DataView(count.buffer).setBigInt64(0, BigInt(values.length), true);
  return [...p.done(), count, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)];
}

interface ModuleNode {
  parameters: Map<string, TensorSpec>;
  buffers: Map<string, TensorSpec>;
  children: Map<string, ModuleNode>;
}
const newNode = (): ModuleNode => ({ parameters: new Map(), buffers: new Map(), children: new Map() });

function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d];
  }
  return s;
}

/** Writes the pickle to `path`; returns its size in bytes. */
export function writeSyntheticEG3DPickle(path: string, config: EG3DConfig, initKwargs: Record<string, unknown>): number {
  const root = newNode();
  for (const s of tensorSpecs(config)) {
    const parts = s.name.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) {
      if (!node.children.has(p)) node.children.set(p, newNode());
      node = node.children.get(p)!;
    }
    (s.parameter ? node.parameters : node.buffers).set(parts[parts.length - 1], s);
  }
  let storageKey = 1000;
  const out = new PickleOut();
  const tensor = (s: TensorSpec) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = ((i * 2654435761) % 1999) / 1999 - 0.5;
    out.global('torch._utils', '_rebuild_tensor_v2');
    out.op(0x28);
    out.global('torch.storage', '_load_from_bytes');
    out.bytes(legacyStorageBlob(String(storageKey++), values));
    out.op(0x85, 0x52); // TUPLE1 REDUCE
    out.value(0);
    out.value({ tuple: s.shape });
    out.value({ tuple: strides(s.shape) });
    out.value(false);
    out.global('collections', 'OrderedDict');
    out.op(0x29, 0x52); // EMPTY_TUPLE REDUCE
    out.op(0x74, 0x52); // TUPLE REDUCE
  };
  const tensorDict = (m: Map<string, TensorSpec>) => {
    out.op(0x7d, 0x28);
    for (const [k, s] of m) {
      out.str(k);
      tensor(s);
    }
    out.op(0x75);
  };
  const module = (node: ModuleNode, className: string, extra: Map<string, Py>) => {
    out.global('torch_utils.persistence', '_reconstruct_persistent_obj');
    out.op(0x7d, 0x28);
    out.str('type');
    out.str('class');
    out.str('version');
    out.value(6);
    out.str('module_src');
    out.str('# module source stripped');
    out.str('class_name');
    out.str(className);
    out.str('state');
    out.op(0x7d, 0x28);
    out.str('training');
    out.value(false);
    out.str('_parameters');
    tensorDict(node.parameters);
    out.str('_buffers');
    tensorDict(node.buffers);
    out.str('_modules');
    out.op(0x7d, 0x28);
    for (const [k, child] of node.children) {
      out.str(k);
      module(child, 'training.networks_stylegan2.Module', new Map());
    }
    out.op(0x75);
    for (const [k, v] of extra) {
      out.str(k);
      out.value(v);
    }
    out.op(0x75); // state
    out.op(0x75); // meta
    out.op(0x85, 0x52);
  };
  const generatorExtra = new Map<string, Py>([
    ['_init_kwargs', dictOf(initKwargs)],
    ['rendering_kwargs', plain(initKwargs.rendering_kwargs)],
    ['neural_rendering_resolution', config.neuralRenderingResolution],
  ]);
  out.op(0x80, 0x04, 0x7d, 0x28); // PROTO 4, EMPTY_DICT MARK
  for (const name of ['G', 'G_ema']) {
    out.str(name);
    module(root, 'training.triplane.TriPlaneGenerator', generatorExtra);
  }
  out.op(0x75, 0x2e); // SETITEMS STOP
  const fd = openSync(path, 'w');
  let size = 0;
  try {
    for (const part of out.done()) size += writeSync(fd, part);
  } finally {
    closeSync(fd);
  }
  return size;
}

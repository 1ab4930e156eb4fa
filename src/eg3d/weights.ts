/**
 * EG3D weight maps: official state-dict names → tfjs tensors, converted once at load (contract 1):
 * FC `[out,in]` → `[in,out]`, conv `[out,in,kh,kw]` → `[kh,kw,in,out]`, everything else unchanged
 * (const stays `[C,H,W]`, noise_const `[res,res]`, resample_filter `[4,4]`, scalars `[]`).
 * Also: the list of every tensor an architecture has (with PyTorch shapes and the official
 * initialisation), parameter counts per module, loading from a checkpoint, and random init.
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import type { EG3DConfig } from './config.ts';
import { UnsupportedArchitectureError } from './config.ts';
import { transpose2d, transposeOuterInner } from '../io/transpose.ts';

export type WeightMap = Map<string, tf.Tensor>;

export type TensorKind = 'fc' | 'conv' | 'other';
export type InitKind = 'randn' | 'zeros' | 'ones' | 'filter';

export interface TensorSpec {
  name: string;
  /** PyTorch shape. */
  shape: number[];
  /** Parameter (trainable in PyTorch) or buffer (w_avg, resample_filter, noise_const). */
  parameter: boolean;
  init: InitKind;
  /** Divide randn by this (FC weights are randn / lr_mul). */
  initScale?: number;
}

/** The FIR filter buffer every block/layer carries: outer([1,3,3,1])/64. */
export function resampleFilter2d(): Float32Array {
  const f = [1, 3, 3, 1];
  const out = new Float32Array(16);
  for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) out[i * 4 + j] = (f[i] * f[j]) / 64;
  return out;
}

/** FC weights are 2-D `.weight`s; conv weights are 4-D `.weight`s. */
export function tensorKind(name: string, rank: number): TensorKind {
  if (!name.endsWith('.weight')) return 'other';
  if (rank === 2) return 'fc';
  if (rank === 4) return 'conv';
  return 'other';
}

/**
 * PyTorch layout → tfjs layout on the CPU (blocked transposes, see src/io/transpose.ts): a fresh array
 * except when no permutation is needed and `owned` (the caller gives `data` away).
 */
export function torchToTfLayout(name: string, shape: number[], data: Float32Array, owned = true): { shape: number[]; data: Float32Array } {
  const kind = tensorKind(name, shape.length);
  if (kind === 'fc') return { shape: [shape[1], shape[0]], data: transpose2d(data, shape[0], shape[1]) };
  if (kind === 'conv') {
    const [o, i, kh, kw] = shape;
    return { shape: [kh, kw, i, o], data: transposeOuterInner(data, o, i, kh * kw) };
  }
  return { shape: [...shape], data: owned ? data : data.slice() };
}

/** PyTorch layout → tfjs tensor (see module comment); takes ownership of `data`. */
export function torchToTf(name: string, shape: number[], data: Float32Array): tf.Tensor {
  const t = torchToTfLayout(name, shape, data);
  return tf.tensor(t.data, t.shape, 'float32');
}

/** tfjs layout → PyTorch layout (contiguous data), the inverse of torchToTf. */
export function tfToTorch(name: string, tensor: tf.Tensor): { shape: number[]; data: Float32Array } {
  const kind = tensorKind(name, tensor.rank);
  const t = tf.tidy(() => (kind === 'fc' ? tf.transpose(tensor, [1, 0]) : kind === 'conv' ? tf.transpose(tensor, [3, 2, 0, 1]) : tf.clone(tensor)));
  const data = t.dataSync() as Float32Array;
  const shape = t.shape;
  t.dispose();
  return { shape, data: new Float32Array(data) };
}

/** tfToTorch with an asynchronous read (required for webgpu in Node, faster on GPUs). */
export async function tfToTorchAsync(name: string, tensor: tf.Tensor): Promise<{ shape: number[]; data: Float32Array }> {
  const kind = tensorKind(name, tensor.rank);
  const t = tf.tidy(() => (kind === 'fc' ? tf.transpose(tensor, [1, 0]) : kind === 'conv' ? tf.transpose(tensor, [3, 2, 0, 1]) : tf.clone(tensor)));
  try {
    return { shape: t.shape, data: new Float32Array((await t.data()) as Float32Array) };
  } finally {
    t.dispose();
  }
}

function fcSpecs(prefix: string, inF: number, outF: number, lrMul: number, biasInit: 'zeros' | 'ones'): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [outF, inF], parameter: true, init: 'randn', initScale: lrMul },
    { name: `${prefix}.bias`, shape: [outF], parameter: true, init: biasInit },
  ];
}

function synthesisLayerSpecs(prefix: string, cin: number, cout: number, res: number, wDim: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [cout, cin, 3, 3], parameter: true, init: 'randn' },
    { name: `${prefix}.noise_strength`, shape: [], parameter: true, init: 'zeros' },
    { name: `${prefix}.bias`, shape: [cout], parameter: true, init: 'zeros' },
    { name: `${prefix}.resample_filter`, shape: [4, 4], parameter: false, init: 'filter' },
    { name: `${prefix}.noise_const`, shape: [res, res], parameter: false, init: 'randn' },
    ...fcSpecs(`${prefix}.affine`, wDim, cin, 1, 'ones'),
  ];
}

function toRgbSpecs(prefix: string, cin: number, cout: number, wDim: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [cout, cin, 1, 1], parameter: true, init: 'randn' },
    { name: `${prefix}.bias`, shape: [cout], parameter: true, init: 'zeros' },
    ...fcSpecs(`${prefix}.affine`, wDim, cin, 1, 'ones'),
  ];
}

/** Every G_ema state-dict entry of an architecture, in PyTorch order (spec A.12). */
export function tensorSpecs(config: EG3DConfig): TensorSpec[] {
  const specs: TensorSpec[] = [];
  const wDim = config.wDim;
  // Backbone synthesis.
  for (const b of config.backbone.blocks) {
    const p = `backbone.synthesis.b${b.resolution}`;
    if (b.inChannels === 0) specs.push({ name: `${p}.const`, shape: [b.outChannels, b.resolution, b.resolution], parameter: true, init: 'randn' });
    specs.push({ name: `${p}.resample_filter`, shape: [4, 4], parameter: false, init: 'filter' });
    if (b.inChannels !== 0) specs.push(...synthesisLayerSpecs(`${p}.conv0`, b.inChannels, b.outChannels, b.resolution, wDim));
    specs.push(...synthesisLayerSpecs(`${p}.conv1`, b.outChannels, b.outChannels, b.resolution, wDim));
    specs.push(...toRgbSpecs(`${p}.torgb`, b.outChannels, config.backbone.channels, wDim));
  }
  // Mapping (c_dim is forced to 25 by TriPlaneGenerator).
  const m = config.mapping;
  specs.push({ name: 'backbone.mapping.w_avg', shape: [wDim], parameter: false, init: 'zeros' });
  specs.push(...fcSpecs('backbone.mapping.embed', 25, m.embedFeatures, 1, 'zeros'));
  const features = [config.zDim + m.embedFeatures, ...Array(m.numLayers - 1).fill(m.layerFeatures), wDim];
  for (let i = 0; i < m.numLayers; i++) specs.push(...fcSpecs(`backbone.mapping.fc${i}`, features[i], features[i + 1], m.lrMul, 'zeros'));
  // Super-resolution (8XDC has no top-level resample_filter buffer).
  const sr = config.superresolution;
  if (sr.className !== 'SuperresolutionHybrid8XDC') specs.push({ name: 'superresolution.resample_filter', shape: [4, 4], parameter: false, init: 'filter' });
  sr.blocks.forEach((b, i) => {
    const p = `superresolution.block${i}`;
    specs.push({ name: `${p}.resample_filter`, shape: [4, 4], parameter: false, init: 'filter' });
    specs.push(...synthesisLayerSpecs(`${p}.conv0`, b.inChannels, b.outChannels, b.resolution, 512));
    specs.push(...synthesisLayerSpecs(`${p}.conv1`, b.outChannels, b.outChannels, b.resolution, 512));
    specs.push(...toRgbSpecs(`${p}.torgb`, b.outChannels, 3, 512));
  });
  // Decoder (OSGDecoder).
  const d = config.decoder;
  specs.push(...fcSpecs('decoder.net.0', d.inFeatures, d.hiddenDim, d.lrMul, 'zeros'));
  specs.push(...fcSpecs('decoder.net.2', d.hiddenDim, 1 + d.outputDim, d.lrMul, 'zeros'));
  return specs;
}

export type ModuleGroup = 'mapping' | 'backbone' | 'decoder' | 'superresolution';

export function moduleGroup(name: string): ModuleGroup | null {
  if (name.startsWith('backbone.mapping.')) return 'mapping';
  if (name.startsWith('backbone.synthesis.')) return 'backbone';
  if (name.startsWith('decoder.')) return 'decoder';
  if (name.startsWith('superresolution.')) return 'superresolution';
  return null;
}

export interface ParameterCounts {
  mapping: number;
  backbone: number;
  decoder: number;
  superresolution: number;
  total: number;
}

/** Trainable-parameter counts per module (buffers excluded), as in spec A.11. */
export function parameterCounts(config: EG3DConfig): ParameterCounts {
  const c: ParameterCounts = { mapping: 0, backbone: 0, decoder: 0, superresolution: 0, total: 0 };
  for (const s of tensorSpecs(config)) {
    if (!s.parameter) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    c[moduleGroup(s.name)!] += n;
    c.total += n;
  }
  return c;
}

/** Official initialisation: FC weights randn/lr_mul, conv weights / const / noise_const randn, affine biases 1, other biases and noise strengths 0, w_avg 0. */
export function initRandomWeights(config: EG3DConfig, rng: Random): WeightMap {
  const map: WeightMap = new Map();
  for (const s of tensorSpecs(config)) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    let data: Float32Array;
    switch (s.init) {
      case 'randn': {
        data = rng.normalArray(n);
        const scale = s.initScale ?? 1;
        if (scale !== 1) for (let i = 0; i < n; i++) data[i] /= scale;
        break;
      }
      case 'zeros': data = new Float32Array(n); break;
      case 'ones': data = new Float32Array(n).fill(1); break;
      case 'filter': data = resampleFilter2d(); break;
    }
    map.set(s.name, torchToTf(s.name, s.shape, data));
  }
  return map;
}

/** What a checkpoint reader provides (satisfied by EG3DCheckpoint). */
export interface TensorSource {
  readonly keys: string[];
  shapeOf(key: string): number[];
  read(key: string): Promise<{ shape: number[]; data: Float32Array }>;
  /** Bulk reading (EG3DCheckpoint.readEach): every key once, in any order; `owned` as in torchToTfLayout. */
  readEach?(keys: readonly string[], visit: (key: string, shape: number[], values: Float32Array, owned: boolean) => void): Promise<void>;
}

export interface LoadWeightsOptions {
  onProgress?: (done: number, total: number) => void;
}

/**
 * Reads every tensor the architecture needs from a checkpoint, checking names and shapes first so an
 * unsupported network is refused before anything is converted. Extra entries (dataset_label_std) are ignored.
 */
export async function loadWeights(config: EG3DConfig, source: TensorSource, opts: LoadWeightsOptions = {}): Promise<WeightMap> {
  const specs = tensorSpecs(config);
  const have = new Set(source.keys);
  const missing = specs.filter((s) => !have.has(s.name)).map((s) => s.name);
  if (missing.length) {
    throw new UnsupportedArchitectureError(`the checkpoint lacks ${missing.length} tensor(s) this architecture needs, e.g. ${missing.slice(0, 3).join(', ')}`);
  }
  for (const s of specs) {
    const shape = source.shapeOf(s.name);
    if (shape.join('x') !== s.shape.join('x')) {
      throw new UnsupportedArchitectureError(`tensor ${s.name} has shape [${shape}] but the architecture from init_kwargs expects [${s.shape}]`);
    }
  }
  const expected = new Set(specs.map((s) => s.name));
  const unexpected = source.keys.filter((k) => !expected.has(k) && k !== 'dataset_label_std');
  if (unexpected.length) {
    throw new UnsupportedArchitectureError(`the checkpoint has ${unexpected.length} tensor(s) this port does not know, e.g. ${unexpected.slice(0, 3).join(', ')}`);
  }
  const read: WeightMap = new Map();
  const add = (key: string, shape: number[], values: Float32Array, owned: boolean) => {
    const t = torchToTfLayout(key, shape, values, owned);
    read.set(key, tf.tensor(t.data, t.shape, 'float32'));
    opts.onProgress?.(read.size, specs.length);
  };
  try {
    if (source.readEach) {
      await source.readEach(specs.map((s) => s.name), add);
    } else {
      for (const s of specs) {
        const { shape, data } = await source.read(s.name);
        add(s.name, shape, data, true);
      }
    }
    const missed = specs.filter((s) => !read.has(s.name));
    if (missed.length) throw new UnsupportedArchitectureError(`the checkpoint reader returned no data for ${missed[0].name}`);
  } catch (e) {
    for (const t of read.values()) t.dispose();
    throw e;
  }
  // The map in the architecture's (PyTorch state-dict) order, whatever order the file had.
  return new Map(specs.map((s) => [s.name, read.get(s.name)!]));
}

export function disposeWeights(map: WeightMap): void {
  for (const t of map.values()) t.dispose();
  map.clear();
}

/** Typed access with a clear error for a missing name. */
export function getWeight<T extends tf.Tensor>(map: WeightMap, name: string): T {
  const t = map.get(name);
  if (!t) throw new Error(`weight '${name}' is missing from the weight map`);
  return t as T;
}

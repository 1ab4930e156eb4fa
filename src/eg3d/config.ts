/**
 * EG3D (TriPlaneGenerator) architecture, parsed from a pickle's `init_kwargs` + `rendering_kwargs` +
 * `neural_rendering_resolution` with the official code's semantics (NVlabs/eg3d `training/triplane.py`,
 * `networks_stylegan2.py`, `superresolution.py`). Anything this port cannot reproduce is refused with
 * an `UnsupportedArchitectureError` that says what differs.
 */
import { IncompatibleFileError } from '../core/errors.ts';

export class UnsupportedArchitectureError extends IncompatibleFileError {
  constructor(message: string) {
    super(message);
  }
}

export type SuperresolutionClass = 'SuperresolutionHybrid2X' | 'SuperresolutionHybrid4X' | 'SuperresolutionHybrid8X' | 'SuperresolutionHybrid8XDC';
export type NoiseModeName = 'const' | 'random' | 'none';

/** One SR synthesis block: 'noup' = SynthesisBlockNoUp (conv0 without up-sampling, RGB added without up-sampling). */
export interface SRBlockConfig {
  kind: 'up' | 'noup';
  inChannels: number;
  outChannels: number;
  resolution: number;
}

export interface SuperresolutionConfig {
  className: SuperresolutionClass;
  /** Resolution SR expects its inputs at (raw render is resized to it when needed). */
  inputResolution: number;
  /** Official resize condition: 2X/8X/8XDC resize when size ≠ input, 4X only when size < input. */
  resizeWhen: 'different' | 'smaller';
  antialias: boolean;
  /** 256 when sr_num_fp16_res > 0 (the block's fp16 clamp applies even in fp32), else none. */
  convClamp: number | null;
  noiseMode: NoiseModeName;
  blocks: [SRBlockConfig, SRBlockConfig];
  /** Number of feature channels entering SR (the renderer's feature image). */
  channels: number;
}

export interface BackboneBlockConfig {
  resolution: number;
  inChannels: number; // 0 for the 4×4 const block
  outChannels: number;
  isLast: boolean;
  /** Index of this block's first w in ws (w index advances by the number of convs). */
  wOffset: number;
}

/** rendering_kwargs, camelCased, with the official defaults where the code has one. */
export interface RenderingOptions {
  imageResolution: number;
  depthResolution: number;
  depthResolutionImportance: number;
  rayStart: number | 'auto';
  rayEnd: number | 'auto';
  boxWarp: number;
  clampMode: 'softplus';
  disparitySpaceSampling: boolean;
  whiteBack: boolean;
  avgCameraRadius: number;
  avgCameraPivot: [number, number, number];
  cScale: number;
  cGenConditioningZero: boolean;
  decoderLrMul: number;
  srAntialias: boolean;
  superresolutionNoiseMode: NoiseModeName;
  superresolutionModule: string;
  /** Training-only options, kept for export/inspection. */
  gpcRegProb?: number;
  densityReg?: number;
  densityRegPDist?: number;
  regType?: string;
}

export interface EG3DConfig {
  zDim: number;
  wDim: number;
  /** c_dim as stored; the mapping network always sees 25 (TriPlaneGenerator forces it). */
  cDim: number;
  imgResolution: number;
  imgChannels: number;
  mapping: { numLayers: number; lrMul: number; embedFeatures: number; layerFeatures: number };
  backbone: {
    resolution: number; // always 256 in TriPlaneGenerator
    channels: number; // 96 = 3 planes × 32
    channelBase: number;
    channelMax: number;
    convClamp: number | null;
    numWs: number;
    blocks: BackboneBlockConfig[];
  };
  superresolution: SuperresolutionConfig;
  decoder: { inFeatures: number; hiddenDim: number; outputDim: number; lrMul: number };
  neuralRenderingResolution: number;
  rendering: RenderingOptions;
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function num(d: Dict, key: string, where: string, fallback?: number): number {
  const v = d[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new UnsupportedArchitectureError(`${where}.${key} must be a number (got ${JSON.stringify(v)})`);
  return v;
}

/**
 * A size (dimension, channel count, layer count, sample count) read from a checkpoint: a whole number in
 * [min, max]. The bounds are far above any released EG3D (z/w 512, 8 mapping layers, 48+48 samples)
 * and keep a damaged file from turning into a loop of 10⁹ layers or a render that cannot be allocated.
 */
function size(d: Dict, key: string, where: string, min: number, max: number, fallback?: number): number {
  const v = num(d, key, where, fallback);
  if (!Number.isInteger(v) || v < min || v > max) throw new UnsupportedArchitectureError(`${where}.${key} = ${v} is not a whole number in [${min}, ${max}]`);
  return v;
}

const MAX_DIM = 1 << 16;
const MAX_SAMPLES = 4096;

function bool(d: Dict, key: string, fallback: boolean): boolean {
  const v = d[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new UnsupportedArchitectureError(`rendering_kwargs.${key} must be a boolean (got ${JSON.stringify(v)})`);
  return v;
}

function rayBound(d: Dict, key: string): number | 'auto' {
  const v = d[key];
  if (v === 'auto') return 'auto';
  if (typeof v === 'number') return v;
  throw new UnsupportedArchitectureError(`rendering_kwargs.${key} must be a number or 'auto' (got ${JSON.stringify(v)})`);
}

const SR_CLASSES: Record<SuperresolutionClass, { imgResolution: number; inputResolution: number; resizeWhen: 'different' | 'smaller'; blocks: (channels: number) => [SRBlockConfig, SRBlockConfig] }> = {
  SuperresolutionHybrid2X: {
    imgResolution: 128,
    inputResolution: 64,
    resizeWhen: 'different',
    blocks: (c) => [
      { kind: 'noup', inChannels: c, outChannels: 128, resolution: 64 },
      { kind: 'up', inChannels: 128, outChannels: 64, resolution: 128 },
    ],
  },
  SuperresolutionHybrid4X: {
    imgResolution: 256,
    inputResolution: 128,
    resizeWhen: 'smaller',
    blocks: (c) => [
      { kind: 'noup', inChannels: c, outChannels: 128, resolution: 128 },
      { kind: 'up', inChannels: 128, outChannels: 64, resolution: 256 },
    ],
  },
  SuperresolutionHybrid8X: {
    imgResolution: 512,
    inputResolution: 128,
    resizeWhen: 'different',
    blocks: (c) => [
      { kind: 'up', inChannels: c, outChannels: 128, resolution: 256 },
      { kind: 'up', inChannels: 128, outChannels: 64, resolution: 512 },
    ],
  },
  SuperresolutionHybrid8XDC: {
    imgResolution: 512,
    inputResolution: 128,
    resizeWhen: 'different',
    blocks: (c) => [
      { kind: 'up', inChannels: c, outChannels: 256, resolution: 256 },
      { kind: 'up', inChannels: 256, outChannels: 128, resolution: 512 },
    ],
  },
};

/** Keys of init_kwargs this port understands (anything else would change the network). */
const KNOWN_INIT_KEYS = new Set([
  'z_dim', 'w_dim', 'c_dim', 'img_resolution', 'img_channels', 'sr_num_fp16_res', 'mapping_kwargs', 'rendering_kwargs', 'sr_kwargs',
  // synthesis_kwargs that are numerically irrelevant in fp32 or handled below
  'channel_base', 'channel_max', 'num_fp16_res', 'conv_clamp', 'fused_modconv_default', 'architecture', 'resample_filter', 'fp16_channels_last',
]);
const KNOWN_SR_KEYS = new Set(['channel_base', 'channel_max', 'num_fp16_res', 'conv_clamp', 'fused_modconv_default', 'architecture', 'resample_filter', 'fp16_channels_last']);

function checkBlockKwargs(d: Dict, where: string) {
  if (d.architecture !== undefined && d.architecture !== 'skip') {
    throw new UnsupportedArchitectureError(`${where}.architecture is '${String(d.architecture)}'; only the 'skip' synthesis architecture (EG3D's) is supported`);
  }
  if (d.resample_filter !== undefined && JSON.stringify(d.resample_filter) !== '[1,3,3,1]') {
    throw new UnsupportedArchitectureError(`${where}.resample_filter is ${JSON.stringify(d.resample_filter)}; only [1,3,3,1] is supported`);
  }
}

function noiseMode(v: unknown): NoiseModeName {
  if (v === 'const' || v === 'random' || v === 'none') return v;
  throw new UnsupportedArchitectureError(`rendering_kwargs.superresolution_noise_mode must be 'const', 'random' or 'none' (got ${JSON.stringify(v)})`);
}

export function parseRenderingOptions(rk: Dict): RenderingOptions {
  const clampMode = rk.clamp_mode ?? 'softplus';
  if (clampMode !== 'softplus') throw new UnsupportedArchitectureError(`rendering_kwargs.clamp_mode is '${String(clampMode)}'; the official MipRayMarcher2 only implements 'softplus'`);
  const pivot = rk.avg_camera_pivot ?? [0, 0, 0.2];
  if (!Array.isArray(pivot) || pivot.length !== 3 || !pivot.every((p) => typeof p === 'number')) {
    throw new UnsupportedArchitectureError(`rendering_kwargs.avg_camera_pivot must be 3 numbers (got ${JSON.stringify(pivot)})`);
  }
  const sr = rk.superresolution_module;
  if (typeof sr !== 'string') throw new UnsupportedArchitectureError('rendering_kwargs.superresolution_module is missing');
  return {
    imageResolution: size(rk, 'image_resolution', 'rendering_kwargs', 0, MAX_DIM, 0),
    depthResolution: size(rk, 'depth_resolution', 'rendering_kwargs', 1, MAX_SAMPLES),
    depthResolutionImportance: size(rk, 'depth_resolution_importance', 'rendering_kwargs', 0, MAX_SAMPLES, 0),
    rayStart: rayBound(rk, 'ray_start'),
    rayEnd: rayBound(rk, 'ray_end'),
    boxWarp: num(rk, 'box_warp', 'rendering_kwargs'),
    clampMode: 'softplus',
    disparitySpaceSampling: bool(rk, 'disparity_space_sampling', false),
    whiteBack: bool(rk, 'white_back', false),
    avgCameraRadius: num(rk, 'avg_camera_radius', 'rendering_kwargs', 2.7),
    avgCameraPivot: pivot as [number, number, number],
    // TriPlaneGenerator.mapping uses rendering_kwargs.get('c_scale', 0): absent means the camera is zeroed.
    cScale: num(rk, 'c_scale', 'rendering_kwargs', 0),
    cGenConditioningZero: bool(rk, 'c_gen_conditioning_zero', false),
    decoderLrMul: num(rk, 'decoder_lr_mul', 'rendering_kwargs', 1),
    srAntialias: bool(rk, 'sr_antialias', false),
    superresolutionNoiseMode: noiseMode(rk.superresolution_noise_mode ?? 'none'),
    superresolutionModule: sr,
    gpcRegProb: typeof rk.gpc_reg_prob === 'number' ? rk.gpc_reg_prob : undefined,
    densityReg: typeof rk.density_reg === 'number' ? rk.density_reg : undefined,
    densityRegPDist: typeof rk.density_reg_p_dist === 'number' ? rk.density_reg_p_dist : undefined,
    regType: typeof rk.reg_type === 'string' ? rk.reg_type : undefined,
  };
}

/** Blocks 4…256 of StyleGAN2's SynthesisNetwork with channels min(channel_base / res, channel_max). */
export function backboneBlocks(resolution: number, channelBase: number, channelMax: number): { blocks: BackboneBlockConfig[]; numWs: number } {
  const ch = (res: number) => Math.min(Math.floor(channelBase / res), channelMax);
  const blocks: BackboneBlockConfig[] = [];
  let w = 0;
  for (let res = 4; res <= resolution; res *= 2) {
    const inChannels = res > 4 ? ch(res / 2) : 0;
    const isLast = res === resolution;
    blocks.push({ resolution: res, inChannels, outChannels: ch(res), isLast, wOffset: w });
    w += inChannels === 0 ? 1 : 2; // w index advances by the number of convs
  }
  return { blocks, numWs: w + 1 }; // + the last block's ToRGB
}

export interface ParseConfigInput {
  initKwargs: Record<string, unknown>;
  /** The generator's `rendering_kwargs` attribute; defaults to init_kwargs.rendering_kwargs. */
  renderingKwargs?: Record<string, unknown>;
  neuralRenderingResolution: number;
}

export function parseEG3DConfig(input: ParseConfigInput): EG3DConfig {
  const ik = input.initKwargs;
  for (const k of Object.keys(ik)) {
    if (!KNOWN_INIT_KEYS.has(k)) throw new UnsupportedArchitectureError(`init_kwargs.${k} = ${JSON.stringify(ik[k])} is not supported by this port`);
  }
  checkBlockKwargs(ik, 'init_kwargs');
  const rkRaw = input.renderingKwargs ?? ik.rendering_kwargs;
  if (!isDict(rkRaw)) throw new UnsupportedArchitectureError('rendering_kwargs is missing');
  const rendering = parseRenderingOptions(rkRaw);

  const mk = isDict(ik.mapping_kwargs) ? ik.mapping_kwargs : {};
  for (const k of Object.keys(mk)) {
    if (!['num_layers', 'lr_multiplier', 'embed_features', 'layer_features', 'w_avg_beta', 'activation'].includes(k)) {
      throw new UnsupportedArchitectureError(`mapping_kwargs.${k} is not supported by this port`);
    }
  }
  if (mk.activation !== undefined && mk.activation !== 'lrelu') throw new UnsupportedArchitectureError(`mapping_kwargs.activation '${String(mk.activation)}' is not supported (only lrelu)`);
  const zDim = size(ik, 'z_dim', 'init_kwargs', 0, MAX_DIM);
  const wDim = size(ik, 'w_dim', 'init_kwargs', 1, MAX_DIM);
  const cDim = size(ik, 'c_dim', 'init_kwargs', 0, MAX_DIM);
  if (zDim <= 0) throw new UnsupportedArchitectureError(`z_dim ${zDim}: a mapping network without a latent is not supported`);
  const numLayers = size(mk, 'num_layers', 'mapping_kwargs', 1, 64, 8);
  const mapping = {
    numLayers,
    lrMul: num(mk, 'lr_multiplier', 'mapping_kwargs', 0.01),
    embedFeatures: mk.embed_features == null ? wDim : size(mk, 'embed_features', 'mapping_kwargs', 1, MAX_DIM),
    layerFeatures: mk.layer_features == null ? wDim : size(mk, 'layer_features', 'mapping_kwargs', 1, MAX_DIM),
  };

  const imgResolution = size(ik, 'img_resolution', 'init_kwargs', 1, MAX_DIM);
  const imgChannels = num(ik, 'img_channels', 'init_kwargs', 3);
  if (imgChannels !== 3) throw new UnsupportedArchitectureError(`img_channels ${imgChannels}: the super-resolution modules produce 3 channels`);

  // TriPlaneGenerator builds its backbone at 256² with 3·32 channels whatever img_resolution is.
  const channelBase = size(ik, 'channel_base', 'init_kwargs', 1, 1 << 24, 32768);
  const channelMax = size(ik, 'channel_max', 'init_kwargs', 1, MAX_DIM, 512);
  // SynthesisBlock's default conv_clamp is 256; train.py passes None for EG3D.
  const convClamp = ik.conv_clamp === undefined ? 256 : ik.conv_clamp === null ? null : num(ik, 'conv_clamp', 'init_kwargs');
  const bb = backboneBlocks(256, channelBase, channelMax);

  const srName = rendering.superresolutionModule.split('.').pop() as SuperresolutionClass;
  const srSpec = SR_CLASSES[srName];
  if (!srSpec) {
    throw new UnsupportedArchitectureError(`superresolution_module '${rendering.superresolutionModule}' is not supported (supported: ${Object.keys(SR_CLASSES).join(', ')})`);
  }
  if (srSpec.imgResolution !== imgResolution) {
    throw new UnsupportedArchitectureError(`${srName} produces ${srSpec.imgResolution}² images but img_resolution is ${imgResolution}`);
  }
  const srk = isDict(ik.sr_kwargs) ? ik.sr_kwargs : {};
  for (const k of Object.keys(srk)) {
    if (!KNOWN_SR_KEYS.has(k)) throw new UnsupportedArchitectureError(`sr_kwargs.${k} is not supported by this port`);
  }
  checkBlockKwargs(srk, 'sr_kwargs');
  const srFp16 = num(ik, 'sr_num_fp16_res', 'init_kwargs', 0);
  const featureChannels = 32;

  const nrr = input.neuralRenderingResolution;
  if (!Number.isInteger(nrr) || nrr < 1 || nrr > MAX_SAMPLES) throw new UnsupportedArchitectureError(`neural_rendering_resolution ${nrr} is not a whole number in [1, ${MAX_SAMPLES}]`);

  return {
    zDim,
    wDim,
    cDim,
    imgResolution,
    imgChannels,
    mapping,
    backbone: { resolution: 256, channels: 3 * featureChannels, channelBase, channelMax, convClamp, numWs: bb.numWs, blocks: bb.blocks },
    superresolution: {
      className: srName,
      inputResolution: srSpec.inputResolution,
      resizeWhen: srSpec.resizeWhen,
      antialias: rendering.srAntialias,
      convClamp: srFp16 > 0 ? 256 : null,
      noiseMode: rendering.superresolutionNoiseMode,
      blocks: srSpec.blocks(featureChannels),
      channels: featureChannels,
    },
    decoder: { inFeatures: featureChannels, hiddenDim: 64, outputDim: featureChannels, lrMul: rendering.decoderLrMul },
    neuralRenderingResolution: nrr,
    rendering,
  };
}

/** rendering_kwargs of the released ffhq512-128 / ffhqrebalanced512-128 networks (spec A.2). */
export const FFHQ512_128_RENDERING_KWARGS = {
  image_resolution: 512,
  disparity_space_sampling: false,
  clamp_mode: 'softplus',
  superresolution_module: 'training.superresolution.SuperresolutionHybrid8XDC',
  c_gen_conditioning_zero: false,
  gpc_reg_prob: 0.5,
  c_scale: 1.0,
  superresolution_noise_mode: 'none',
  density_reg: 0.25,
  density_reg_p_dist: 0.004,
  reg_type: 'l1',
  decoder_lr_mul: 1.0,
  sr_antialias: true,
  depth_resolution: 48,
  depth_resolution_importance: 48,
  ray_start: 2.25,
  ray_end: 3.3,
  box_warp: 1,
  avg_camera_radius: 2.7,
  avg_camera_pivot: [0, 0, 0.2],
} as const;

/** init_kwargs of the released ffhq512-128 network (spec A.2). */
export const FFHQ512_128_INIT_KWARGS = {
  z_dim: 512,
  w_dim: 512,
  c_dim: 25,
  img_resolution: 512,
  img_channels: 3,
  mapping_kwargs: { num_layers: 2 },
  channel_base: 32768,
  channel_max: 512,
  fused_modconv_default: 'inference_only',
  num_fp16_res: 0,
  conv_clamp: null,
  sr_num_fp16_res: 4,
  sr_kwargs: { channel_base: 32768, channel_max: 512, fused_modconv_default: 'inference_only' },
  rendering_kwargs: FFHQ512_128_RENDERING_KWARGS,
} as const;

/** The full ffhq512-128 architecture (neural rendering at 128²). */
export const FFHQ512_128_CONFIG: EG3DConfig = parseEG3DConfig({
  initKwargs: JSON.parse(JSON.stringify(FFHQ512_128_INIT_KWARGS)) as Record<string, unknown>,
  neuralRenderingResolution: 128,
});

/** One-line architecture summary, e.g. "EG3D 512², SuperresolutionHybrid8XDC, neural 128², 48+48 samples". */
export function describeConfig(c: EG3DConfig): string {
  const r = c.rendering;
  return `EG3D ${c.imgResolution}², ${c.superresolution.className}, neural ${c.neuralRenderingResolution}², ${r.depthResolution}+${r.depthResolutionImportance} samples, backbone channels ${c.backbone.channelBase}/${c.backbone.channelMax}`;
}

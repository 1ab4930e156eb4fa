/**
 * Every reconstructed choice of the 3D-Adapter method (spec Part C) as a named option with its
 * default; docs/method.md explains each default. `parseMethodOptions` turns the free-form
 * `AdaptSettings.options` record into a validated `MethodOptions`.
 */
import { FEATURE_STRUCTURE_MODES, IMAGE_STRUCTURE_MODES, type FeatureStructureMode, type ImageStructureMode } from './losses.ts';
import { SettingsError } from '../core/errors.ts';
import { TEMPLATE_MODES, type TemplateMode } from '../clip/prompt-templates.ts';

export type Step1Output = 'sr' | 'raw-upsampled';
export type Step2Trainable = 'g2' | 'g2+tri-d';
export type RenderDraws = 'shared-random' | 'deterministic';
/** What L_dis compares: one block's token grid (DiFa / DoRM), or STROTSS-like hypercolumns at sampled points. */
export type DisTokens = 'block' | 'hypercolumn';
export const DIS_TOKENS: readonly DisTokens[] = ['block', 'hypercolumn'];
export type ColourRegion = 'image' | 'foreground' | 'face-box' | 'regions';
export const COLOUR_REGIONS: readonly ColourRegion[] = ['image', 'foreground', 'face-box', 'regions'];

/**
 * The face box of a face-aligned square image (FFHQ alignment: the studio's reference crop, the
 * generator's frontal renders), as fractions of its side: the evaluation's face region and the
 * reference region of `disColourReference` 'face-box'.
 */
export const FACE_BOX: { readonly x: number; readonly y: number; readonly width: number; readonly height: number } = { x: 0.25, y: 0.25, width: 0.5, height: 0.55 };

export interface MethodOptions {
  /** What the losses see in step 1: the SR output through the frozen G2, or the raw render upsampled. */
  step1Output: Step1Output;
  /** Parameters trained in step 2: G2 only (Tri-D frozen at its step-1 value), or both. */
  step2Trainable: Step2Trainable;
  imageStructure: ImageStructureMode;
  /** Side of the area-down-sampled images compared by 'lowres-l1'. */
  imageStructureSize: number;
  /** Max grid side of the pooled feature image for 'feature-selfsim'. */
  imageStructureGrid: number;
  featureStructure: FeatureStructureMode;
  /**
   * > 0 (default 0.1): norm below which E(I_t) − E(I_s) is not normalised (losses.ts); 0 = the plain
   * cosine (DiFa / DoRM; the zero direction of the first iteration re-encoded from I_t + 1e-6), whose
   * first gradient swamps Adam's second moment so later steps barely move (docs/method.md, "Experiments").
   */
  directionFloor: number;
  /** Transformer block whose tokens feed L_dis and L_F-str; −1 = the encoder's default. */
  tokenBlock: number;
  /**
   * L_dis tokens: 'block' = the `tokenBlock` grid; 'hypercolumn' = the maps of `hypercolumnBlocks`
   * sampled at `disPoints` seeded points of a `disGrid`² grid (each block L2-normalised, concatenated).
   */
  disTokens: DisTokens;
  /** Blocks of the hypercolumn, early → late; empty = the encoder's default (MobileNetV2 2,5,9,12; CLIP 0,3,6,9). */
  hypercolumnBlocks: readonly number[];
  /** Points per image the hypercolumn L_dis samples each iteration (the reference uses every grid cell). */
  disPoints: number;
  /** Side of the grid the points are cell centres of. */
  disGrid: number;
  /** Weight of the encoder-feature REMD (hypercolumns or block tokens) inside L_dis; 0 = L_dis is its colour terms only. */
  disFeatureWeight: number;
  /**
   * Weight of STROTSS's colour term inside L_dis: REMD (Euclidean cost) between the RGB of the
   * adapted image and of the reference at the same points (area-down-sampled to the grid); 0 = off.
   * Applies to 'hypercolumn' (the points) and 'block' (the token grid's cells) alike.
   */
  disColourWeight: number;
  /**
   * Weight of STROTSS's moment term on the same colours inside L_dis: mean and covariance of the
   * adapted image's colours at the points vs the reference's (`lossMoments`); 0 = off. The REMD takes
   * the reference's colours, the moments their proportions. Off by default: at 10 it moved the palette
   * further on two references and less far on two others, no better on average (docs/method.md, "Experiments").
   */
  disColourMomentWeight: number;
  /**
   * Which colours the colour terms compare. 'image': every point against every cell of the reference.
   * 'foreground': the points weighted by the source render's soft foreground (`softForeground` of its
   * depth; moments and sliced distance) against every cell of the reference, so the head takes the whole
   * reference's palette, backdrop included. 'face-box': only the points inside `FACE_BOX`, weighted by the
   * foreground, against the reference's cells inside the same box (like with like: the face region of
   * the renders against the reference's face; docs/method.md, "Like with like"). 'regions': the face box
   * as in 'face-box', and the foreground outside it against the reference's cells outside it (hair, ears,
   * neck against the reference's hair, backdrop and clothes), each a term of its own — STROTSS's spatial
   * guidance with two fixed regions.
   */
  disColourRegion: ColourRegion;
  /**
   * Weight of the sliced Wasserstein-1 distance between the same colours and the reference's inside L_dis
   * (`lossSlicedWasserstein`, 32 fixed projections): every quantile of the colour distribution, so the
   * proportions too; 0 = off. Default 10: with the foreground region (session 10) it moved the palette
   * (then measured against the whole reference crop) 16–83 % toward the reference on all seven references,
   * against 2–59 % without it (docs/method.md, "Colour distributions"); with the face box, "Like with like".
   */
  disColourSlicedWeight: number;
  /** λ_dir multiplier per encoder: −1 = each encoder's own default (CLIP 1, embedded MobileNetV2 0); ≥ 0 = this for every encoder. */
  encoderDirectionWeight: number;
  /** Learning-rate multipliers of step 1 (Tri-D) and step 2 (G2) over the settings' learning rate. */
  triDLrScale: number;
  g2LrScale: number;
  /** Training-camera spread around frontal (radians): h ~ π/2 + N(0, yawStd), v ~ π/2 + N(0, pitchStd). */
  yawStd: number;
  pitchStd: number;
  /** Renderer sample positions: the same seeded random draws for source and adapted renders, or fixed midpoints. */
  renderDraws: RenderDraws;
  /** Truncation cutoff (number of ws layers truncated); 0 = all layers. */
  truncationCutoff: number;
  adamEpsilon: number;
  /**
   * Samples per forward/backward pass (1 = one sample at a time, gradients accumulated over the batch;
   * 0 = the whole batch at once). Every loss is a mean over the batch of per-sample terms, so the
   * gradient is the same up to float rounding, and the peak memory is one micro-batch's instead of
   * the batch's (docs/method.md, "Memory plan"). The one coupling: the renderer clamps depth into the
   * range of the samples rendered together, which only the colour moments' foreground weights read.
   */
  microBatch: number;
  /**
   * On webgpu, after each iteration: when the buffer pool holds more than this many MiB beyond what tensors
   * use, its free buffers are destroyed (tfjs keeps every freed buffer for reuse by exact size; docs/method.md).
   */
  poolSlackMiB: number;
  /** Batch size of the μ_s source renders. */
  meanEmbeddingBatch: number;
  /** Fixed preview latents (seeds 0..n−1) × views (yaws spread over ±previewYaw). */
  previewLatents: number;
  previewViews: number;
  previewYaw: number;
  /** Zero-shot: a description is embedded through every prompt template, averaged ('ensemble'), or as it is ('plain'). */
  textTemplates: TemplateMode;
}

export const DEFAULT_METHOD_OPTIONS: Readonly<MethodOptions> = {
  step1Output: 'sr',
  step2Trainable: 'g2',
  imageStructure: 'lowres-l1',
  imageStructureSize: 64,
  imageStructureGrid: 32,
  featureStructure: 'selfsim-mse',
  directionFloor: 0.1,
  tokenBlock: -1,
  disTokens: 'hypercolumn',
  hypercolumnBlocks: [],
  disPoints: 512,
  disGrid: 40,
  disFeatureWeight: 1,
  disColourWeight: 5,
  disColourMomentWeight: 0,
  disColourRegion: 'face-box',
  disColourSlicedWeight: 10,
  encoderDirectionWeight: -1,
  triDLrScale: 1,
  g2LrScale: 0.25,
  yawStd: 0.3,
  pitchStd: 0.155,
  renderDraws: 'shared-random',
  truncationCutoff: 0,
  adamEpsilon: 1e-8,
  microBatch: 1,
  poolSlackMiB: 1024,
  meanEmbeddingBatch: 4,
  previewLatents: 2,
  previewViews: 3,
  previewYaw: 0.45,
  textTemplates: 'ensemble',
};

export interface OptionDescription {
  name: keyof MethodOptions;
  /** 'list': comma-separated whole numbers in [min, max] (empty = default). */
  kind: 'enum' | 'number' | 'list';
  values?: readonly string[];
  min?: number;
  max?: number;
  integer?: boolean;
  help: string;
}

/** Machine-readable list (for UIs and the CLI's --option name=value). */
export const METHOD_OPTION_DESCRIPTIONS: readonly OptionDescription[] = [
  { name: 'step1Output', kind: 'enum', values: ['sr', 'raw-upsampled'], help: 'step 1 losses on the frozen-G2 output (sr) or on the raw render upsampled' },
  { name: 'step2Trainable', kind: 'enum', values: ['g2', 'g2+tri-d'], help: 'step 2 trains G2 only, or G2 and Tri-D' },
  { name: 'imageStructure', kind: 'enum', values: IMAGE_STRUCTURE_MODES, help: 'L_I-str formulation' },
  { name: 'imageStructureSize', kind: 'number', min: 4, max: 1024, integer: true, help: "down-sampled side for 'lowres-l1'" },
  { name: 'imageStructureGrid', kind: 'number', min: 1, max: 128, integer: true, help: "pooled grid side for 'feature-selfsim'" },
  { name: 'featureStructure', kind: 'enum', values: FEATURE_STRUCTURE_MODES, help: 'L_F-str distance between self-similarity matrices' },
  { name: 'directionFloor', kind: 'number', min: 0, max: 1, help: 'L_dir: 0 = plain cosine (DiFa/DoRM, zero first direction nudged by 1e-6); > 0 = directions shorter than this are not normalised' },
  { name: 'tokenBlock', kind: 'number', min: -1, max: 63, integer: true, help: 'encoder block for tokens (−1 = encoder default)' },
  { name: 'disTokens', kind: 'enum', values: DIS_TOKENS, help: "L_dis tokens: one block's grid, or hypercolumns of several blocks at sampled points (STROTSS)" },
  { name: 'hypercolumnBlocks', kind: 'list', min: 0, max: 63, help: 'hypercolumn blocks, e.g. 2,5,9,12 (empty = encoder default)' },
  { name: 'disPoints', kind: 'number', min: 16, max: 8192, integer: true, help: 'hypercolumn points sampled per image and iteration' },
  { name: 'disGrid', kind: 'number', min: 4, max: 224, integer: true, help: 'side of the grid the hypercolumn points are drawn from' },
  { name: 'disFeatureWeight', kind: 'number', min: 0, max: 100, help: 'weight of the encoder-feature REMD inside L_dis (1 = DiFa/DoRM); 0 = colour terms only' },
  { name: 'disColourWeight', kind: 'number', min: 0, max: 100, help: 'weight of the colour REMD (RGB at the same points, Euclidean) inside L_dis; 0 = off' },
  { name: 'disColourMomentWeight', kind: 'number', min: 0, max: 1000, help: 'weight of the colour moment term (mean + covariance of RGB at the points vs the reference, STROTSS ℓ_m) inside L_dis; 0 = off' },
  { name: 'disColourRegion', kind: 'enum', values: COLOUR_REGIONS, help: "colour terms: every point against the whole reference ('image'), points weighted by the source render's foreground ('foreground'), the foreground in the face box against the reference's face box ('face-box'), or that and the rest against the rest ('regions')" },
  { name: 'disColourSlicedWeight', kind: 'number', min: 0, max: 1000, help: 'weight of the sliced Wasserstein distance between the RGB at the points and the reference colours (every quantile, so proportions too) inside L_dis; 0 = off' },
  { name: 'encoderDirectionWeight', kind: 'number', min: -1, max: 100, help: 'L_dir weight multiplier per encoder (−1 = encoder default: CLIP 1, embedded MobileNetV2 0)' },
  { name: 'triDLrScale', kind: 'number', min: 0.01, max: 1000, help: 'step 1 (Tri-D) learning rate = settings lr × this' },
  { name: 'g2LrScale', kind: 'number', min: 0.01, max: 1000, help: 'step 2 (G2) learning rate = settings lr × this' },
  { name: 'yawStd', kind: 'number', min: 0, max: 3, help: 'training camera yaw spread (radians)' },
  { name: 'pitchStd', kind: 'number', min: 0, max: 1.5, help: 'training camera pitch spread (radians)' },
  { name: 'renderDraws', kind: 'enum', values: ['shared-random', 'deterministic'], help: 'renderer sample placement during training' },
  { name: 'truncationCutoff', kind: 'number', min: 0, max: 64, integer: true, help: 'ws layers truncated (0 = all)' },
  { name: 'adamEpsilon', kind: 'number', min: 1e-12, max: 1, help: 'Adam epsilon' },
  { name: 'microBatch', kind: 'number', min: 0, max: 64, integer: true, help: 'samples per forward/backward, gradients accumulated over the batch (same result, less memory); 0 = the whole batch at once' },
  { name: 'poolSlackMiB', kind: 'number', min: 0, max: 65536, integer: true, help: 'webgpu: free the buffer pool after an iteration when it holds more than this many MiB beyond the tensors in use' },
  { name: 'meanEmbeddingBatch', kind: 'number', min: 1, max: 64, integer: true, help: 'batch of the μ_s source renders' },
  { name: 'previewLatents', kind: 'number', min: 1, max: 8, integer: true, help: 'preview latents' },
  { name: 'previewViews', kind: 'number', min: 1, max: 7, integer: true, help: 'preview views per latent' },
  { name: 'previewYaw', kind: 'number', min: 0, max: 1.2, help: 'largest preview yaw (radians)' },
  { name: 'textTemplates', kind: 'enum', values: TEMPLATE_MODES, help: 'zero-shot: embed descriptions through every prompt template, averaged (ensemble), or as typed (plain)' },
];

export class MethodOptionError extends SettingsError {
  constructor(message: string) {
    super(message);
  }
}

/** Validates `raw` against the descriptions; unknown keys are an error (typos must not pass silently). */
export function parseMethodOptions(raw: Record<string, string | number | boolean> = {}): MethodOptions {
  const out: MethodOptions = { ...DEFAULT_METHOD_OPTIONS };
  const byName = new Map(METHOD_OPTION_DESCRIPTIONS.map((d) => [d.name as string, d]));
  for (const [key, value] of Object.entries(raw)) {
    const d = byName.get(key);
    if (!d) throw new MethodOptionError(`unknown method option '${key}' (known: ${[...byName.keys()].join(', ')})`);
    if (d.kind === 'list') {
      const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : null;
      const xs = text === null ? [NaN] : text === '' ? [] : text.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
      if (xs.some((n) => !Number.isInteger(n) || n < d.min! || n > d.max!)) {
        throw new MethodOptionError(`option ${key} must be comma-separated whole numbers in [${d.min}, ${d.max}] (got ${String(value)})`);
      }
      (out as unknown as Record<string, unknown>)[key] = xs;
    } else if (d.kind === 'enum') {
      if (typeof value !== 'string' || !d.values!.includes(value)) {
        throw new MethodOptionError(`option ${key} must be one of ${d.values!.join(', ')} (got ${String(value)})`);
      }
      (out as unknown as Record<string, unknown>)[key] = value;
    } else {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isFinite(n) || (d.integer && !Number.isInteger(n)) || n < d.min! || n > d.max!) {
        throw new MethodOptionError(`option ${key} must be ${d.integer ? 'a whole number' : 'a number'} in [${d.min}, ${d.max}] (got ${String(value)})`);
      }
      (out as unknown as Record<string, unknown>)[key] = n;
    }
  }
  return out;
}

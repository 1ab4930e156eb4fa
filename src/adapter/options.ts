/**
 * Every reconstructed choice of the 3D-Adapter method (spec Part C) as a named option with its
 * default; docs/method.md explains each default. `parseMethodOptions` turns the free-form
 * `AdaptSettings.options` record into a validated `MethodOptions`.
 */
import { FEATURE_STRUCTURE_MODES, IMAGE_STRUCTURE_MODES, type FeatureStructureMode, type ImageStructureMode } from './losses.ts';
import { SettingsError } from '../core/errors.ts';

export type Step1Output = 'sr' | 'raw-upsampled';
export type Step2Trainable = 'g2' | 'g2+tri-d';
export type RenderDraws = 'shared-random' | 'deterministic';

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
   * 0 = L_dir is the plain cosine (DiFa / DoRM; a zero direction at the first iteration is re-encoded
   * from I_t + 1e-6 as DoRM does). > 0: norm below which E(I_t) − E(I_s) is not normalised (losses.ts).
   */
  directionFloor: number;
  /** Transformer block whose tokens feed L_dis and L_F-str; −1 = the encoder's default. */
  tokenBlock: number;
  /** Training-camera spread around frontal (radians): h ~ π/2 + N(0, yawStd), v ~ π/2 + N(0, pitchStd). */
  yawStd: number;
  pitchStd: number;
  /** Renderer sample positions: the same seeded random draws for source and adapted renders, or fixed midpoints. */
  renderDraws: RenderDraws;
  /** Truncation cutoff (number of ws layers truncated); 0 = all layers. */
  truncationCutoff: number;
  adamEpsilon: number;
  /** Batch size of the μ_s source renders. */
  meanEmbeddingBatch: number;
  /** Fixed preview latents (seeds 0..n−1) × views (yaws spread over ±previewYaw). */
  previewLatents: number;
  previewViews: number;
  previewYaw: number;
}

export const DEFAULT_METHOD_OPTIONS: Readonly<MethodOptions> = {
  step1Output: 'sr',
  step2Trainable: 'g2',
  imageStructure: 'lowres-l1',
  imageStructureSize: 64,
  imageStructureGrid: 32,
  featureStructure: 'selfsim-mse',
  directionFloor: 0,
  tokenBlock: -1,
  yawStd: 0.3,
  pitchStd: 0.155,
  renderDraws: 'shared-random',
  truncationCutoff: 0,
  adamEpsilon: 1e-8,
  meanEmbeddingBatch: 4,
  previewLatents: 2,
  previewViews: 3,
  previewYaw: 0.45,
};

export interface OptionDescription {
  name: keyof MethodOptions;
  kind: 'enum' | 'number';
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
  { name: 'yawStd', kind: 'number', min: 0, max: 3, help: 'training camera yaw spread (radians)' },
  { name: 'pitchStd', kind: 'number', min: 0, max: 1.5, help: 'training camera pitch spread (radians)' },
  { name: 'renderDraws', kind: 'enum', values: ['shared-random', 'deterministic'], help: 'renderer sample placement during training' },
  { name: 'truncationCutoff', kind: 'number', min: 0, max: 64, integer: true, help: 'ws layers truncated (0 = all)' },
  { name: 'adamEpsilon', kind: 'number', min: 1e-12, max: 1, help: 'Adam epsilon' },
  { name: 'meanEmbeddingBatch', kind: 'number', min: 1, max: 64, integer: true, help: 'batch of the μ_s source renders' },
  { name: 'previewLatents', kind: 'number', min: 1, max: 8, integer: true, help: 'preview latents' },
  { name: 'previewViews', kind: 'number', min: 1, max: 7, integer: true, help: 'preview views per latent' },
  { name: 'previewYaw', kind: 'number', min: 0, max: 1.2, help: 'largest preview yaw (radians)' },
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
    if (d.kind === 'enum') {
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

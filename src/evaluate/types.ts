/**
 * Types of the evaluation report (source vs adapted generator). Everything in `EvaluationResult` is
 * plain data (numbers, strings, typed arrays), so it passes through structured clone (worker
 * messages, IndexedDB) unchanged.
 */
import type * as tf from '@tensorflow/tfjs';
import type { RgbaImage } from '../core/image.ts';
import type { EG3DConfig } from '../eg3d/config.ts';
import type { FeatureEncoder } from '../clip/encoder.ts';
import type { TrainerDraws } from '../adapter/trainer.ts';

/** RGBA8 image. */
export type EvalImage = RgbaImage;

/** Pixel box (x, y = top-left). */
export interface FaceBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Face recognition embeddings (injected; src/evaluate/face-identity.ts wraps face-api). */
export interface FaceEmbedder {
  readonly name: string;
  /** The most confident face with its descriptor from the aligned crop, or null when none is found. */
  detect(image: EvalImage): Promise<{ box: FaceBox; score: number; descriptor: Float32Array } | null>;
  /** Descriptor of a given crop (no detection, no alignment). */
  describeCrop(image: EvalImage, box: FaceBox): Promise<Float32Array>;
  /** The most confident face with its 68 landmarks (image pixels), or null when none is found (the face-aware reference crop). */
  landmarks?(image: EvalImage): Promise<{ box: FaceBox; score: number; points: { x: number; y: number }[] } | null>;
  dispose(): void;
}

/** Texture statistics of an image and a distance between two sets of them (injected; see texture.ts). */
export interface TextureNetwork {
  readonly name: string;
  /** Per image, one flattened statistics matrix per layer. */
  grams(images: EvalImage[]): Promise<Float32Array[][]>;
  /** Distance of `a` to the reference statistics `b`. */
  distance(a: Float32Array[], b: Float32Array[]): number;
  dispose(): void;
}

/**
 * What the evaluation needs from a generator (GeneratorView satisfies it): the synthesis in its parts,
 * so that the tri-planes of a latent are computed once for all views, and once for both generators
 * when they share the mapping and backbone tensors (an adapted generator made by `withWeights`).
 */
export interface EvalGenerator {
  readonly config: EG3DConfig;
  readonly weights: ReadonlyMap<string, tf.Tensor>;
  mapping(z: tf.Tensor2D, cCond: tf.Tensor2D, psi: number, cutoff: number | null): tf.Tensor3D;
  planes(ws: tf.Tensor3D): tf.Tensor;
  render(planes: tf.Tensor, cameras: tf.Tensor2D, draws: TrainerDraws): { features: tf.Tensor4D; depth: tf.Tensor4D };
  superresolve(imageRaw: tf.Tensor4D, features: tf.Tensor4D, ws: tf.Tensor3D): tf.Tensor4D;
}

export interface EvaluationOptions {
  /** Held-out latents (default 32). */
  latents: number;
  /** Seed of the held-out latents (default 0); latent k is z ~ N(0, I) from Random(evaluationLatentSeed(seed, k)). */
  seed: number;
  /** Yaw offsets from frontal, radians (default five: −0.4 … 0.4). */
  yaws: number[];
  /** Pitch offset of every view (default 0). */
  pitch: number;
  /** Truncation ψ (default 0.7). */
  psi: number;
  /** Side of the per-latent thumbnails (default 64). */
  thumbnailSize: number;
  /** Sliced Wasserstein: projections and quantile levels (default 64, 128) and the directions' seed (default 0). */
  swProjections: number;
  swQuantiles: number;
  swSeed: number;
  /** Visibility tolerance of the reprojection (world units, default 0.05). */
  visibilityTolerance: number;
  /** Fixed face-centred crop (fractions of the image side) used when the detector finds no face. */
  fixedFaceBox: FaceBox;
  /**
   * The reference's pixels the palette compares the renders' face region with: those inside the same face
   * box of the (face-aligned) reference crop ('face-box', the default: like with like), or all of the crop
   * ('image': a painting's backdrop then counts as a colour the head should have).
   */
  paletteReference: 'face-box' | 'image';
}

export interface ClipEvalInput {
  encoder: FeatureEncoder;
  /** μ_s, the mean source embedding ([D], not normalised). Default: the mean over this evaluation's source renders. */
  meanEmbedding?: Float32Array;
  /**
   * Zero-shot runs: the target description with its text embedding and the source description's
   * (normalised, template-averaged, src/clip/text-direction.ts). Adds a line for this encoder that
   * measures against the text: similarity to the target text, and alignment with T(target) − T(source).
   */
  prompt?: { text: string; target: Float32Array; source: Float32Array };
}

export interface EvaluationInputs {
  source: EvalGenerator;
  adapted: EvalGenerator;
  /** The reference image (square crop as the user chose it); style measures are null without it. */
  reference?: EvalImage | null;
  /** Identity similarity is null without it. */
  face?: FaceEmbedder | null;
  /** Texture-statistics distance is null without it (or without a reference). */
  texture?: TextureNetwork | null;
  /** User CLIP encoders (optional): CLIP similarity to the reference and direction alignment. */
  clip?: ClipEvalInput[];
  options?: Partial<EvaluationOptions>;
  /** Called after each latent. */
  onProgress?: (done: number, total: number) => void;
  /** Polled between latents; true stops the evaluation with the rows done so far. */
  shouldStop?: () => boolean;
}

/** How the face crop of a latent's views was found: by the detector in every view, in none (fixed crop), or in some. */
export type IdentityCrop = 'detected' | 'fixed' | 'mixed';

export interface SourceAdapted {
  source: number;
  adapted: number;
}

export interface ClipRowMeasures {
  encoder: string;
  /** Mean cosine of the renders' embeddings with the reference embedding. */
  similarity: SourceAdapted;
  /** Mean cosine of (E(adapted) − E(source)) with (E(reference) − μ_s); 0 where the two renders embed identically. */
  directionAlignment: number;
  /** 'prompt': a zero-shot line, measured against the target text (similarity) and T(target) − T(source) (alignment). */
  target?: 'prompt';
}

export interface EvaluationRow {
  /** 0-based index of the held-out latent. */
  latent: number;
  /** Seed of its z. */
  latentSeed: number;
  /** Mean over views of the cosine of source vs adapted face descriptors; null without a face embedder. */
  identity: number | null;
  identityCrop: IdentityCrop | null;
  /** Views where the detector found a face in both renders. */
  detectedViews: number;
  /** Mean |Δdepth| over the source's foreground pixels, world units (mean over views). */
  depthDiff: number;
  /** depthDiff as % of headDepth. */
  depthDiffPct: number;
  /** Mean over views of the source's foreground depth range (98th − 2nd percentile), world units. */
  headDepth: number;
  /** Sliced Wasserstein distance (Lab) of the face-region pixels to the reference's; null without a reference. */
  palette: SourceAdapted | null;
  /** Gram-matrix distance to the reference (mean over views); null without a reference or texture network. */
  texture: SourceAdapted | null;
  clip: ClipRowMeasures[];
  /** Masked L1 (RGB in [0, 1]) of neighbouring views reprojected through the rendered depth. */
  consistency: SourceAdapted;
  /** Per view (in `options.yaws` order), `thumbnailSize`² renders (super-resolved image, area-averaged). */
  thumbnails: { source: EvalImage[]; adapted: EvalImage[] };
}

export interface EvaluationMeans {
  identity: number | null;
  depthDiff: number;
  depthDiffPct: number;
  headDepth: number;
  palette: SourceAdapted | null;
  /** (adapted − source) / source × 100: negative = closer to the reference. */
  paletteChangePct: number | null;
  texture: SourceAdapted | null;
  textureChangePct: number | null;
  clip: ClipRowMeasures[];
  consistency: SourceAdapted;
  /** Latents whose identity used the detector in every view / the fixed crop in every view. */
  detectedLatents: number;
  fixedCropLatents: number;
}

export interface EvaluationResult {
  version: 1;
  options: EvaluationOptions;
  /** Index of the view nearest to frontal in `options.yaws` (the one a one-image summary shows). */
  frontalView: number;
  /** What each measure is, in words (models, definitions, units). */
  measures: Record<string, string>;
  rows: EvaluationRow[];
  means: EvaluationMeans;
  /** True when shouldStop ended it early. */
  stopped: boolean;
  seconds: number;
}

/**
 * The progressive two-step 3D-Adapter schedule (spec C.3, C.6): step 1 fine-tunes Tri-D
 * (`decoder.*`), step 2 fine-tunes G2 (`superresolution.*`); mapping and backbone are frozen and
 * shared by reference between the source generator and the adapted one, so the tri-planes of a batch
 * are computed once (no gradient) and rendered by both decoders.
 *
 * Every iteration draws its latents, cameras and renderer samples from a Random seeded by
 * (seed, global iteration), so a run is reproducible from seed + settings and resumes exactly.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { SettingsError } from '../core/errors.ts';
import { DATASET_FOCAL, FRONTAL_ANGLE, cameraVector, focalToIntrinsics, frontalCamera, lookAtPose } from '../eg3d/camera.ts';
import type { EG3DConfig } from '../eg3d/config.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import type { FeatureEncoder } from '../clip/encoder.ts';
import { clipReferencePixels } from '../clip/preprocess.ts';
import type { RgbaImage } from '../core/image.ts';
import { trimWebGPUPool } from '../nn/webgpu-pool.ts';
import { NamedAdam, type AdamState } from '../nn/adam.ts';
import { isTrainableKey } from './export.ts';
import {
  lossDirection,
  DORM_ZERO_DIRECTION_NUDGE,
  lossFeatureStructure,
  lossImageStructureFeatureSelfSim,
  lossImageStructureLowres,
  lossRemd,
  lossMoments,
  lossSlicedWasserstein,
  slicedReference,
  hemisphereDirections,
  softForeground,
  colourTokens,
  gridPoints,
  pointsByBox,
  hypercolumnTokens,
  sampleAt,
  referenceDirection,
  samplePoints,
} from './losses.ts';
import { FACE_BOX, type MethodOptions } from './options.ts';

/** Renderer sample draws (contract 3). */
export type TrainerDraws =
  | { kind: 'recorded'; coarseJitter: Float32Array; importanceU: Float32Array }
  | { kind: 'deterministic' };

/**
 * What the trainer needs from an EG3D generator (satisfied by the wrapper around EG3DGenerator in
 * ./generator-view.ts). All methods are pure tfjs ops; `render` uses this generator's decoder.
 */
export interface AdaptableGenerator {
  readonly config: EG3DConfig;
  readonly weights: WeightMap;
  /** Neural rendering resolution and samples per ray the render() call uses (sizes the draws). */
  readonly renderShape: { resolution: number; coarse: number; fine: number };
  mapping(z: tf.Tensor2D, cCond: tf.Tensor2D, psi: number, cutoff: number | null): tf.Tensor3D;
  planes(ws: tf.Tensor3D): tf.Tensor;
  /** Volume-renders tri-planes with this generator's Tri-D → feature image [N,R,R,C] (channels 0..2 = image_raw). */
  render(planes: tf.Tensor, cameras: tf.Tensor2D, draws: TrainerDraws): { features: tf.Tensor4D; depth: tf.Tensor4D };
  /** `weightGrad` false: G2 is frozen, its backward pass only reaches the inputs (no weight gradients). */
  superresolve(imageRaw: tf.Tensor4D, features: tf.Tensor4D, ws: tf.Tensor3D, opts?: { weightGrad?: boolean }): tf.Tensor4D;
  /** A generator sharing every tensor except the overrides. */
  withWeights(overrides: WeightMap): AdaptableGenerator;
}

export interface LossWeightsConfig {
  dir: number;
  dis: number;
  imageStructure: number;
  featureStructure: number;
}

export interface TrainerConfig {
  iterations: [number, number];
  batchSize: number;
  learningRate: number;
  betas: [number, number];
  lossWeights: LossWeightsConfig;
  seed: number;
  truncationPsi: number;
  options: MethodOptions;
}

/** One encoder with the reference features it is trained toward (all owned by the caller). */
export interface TrainerEncoder {
  encoder: FeatureEncoder;
  tokenBlock: number;
  /** Reference tokens [1, m, d] (or [m, d]). */
  refTokens: tf.Tensor;
  /** Δ_ref = normalize(E(I_ref) − μ_s), [D]; null when this encoder has no L_dir (direction weight 0: no μ_s needed). */
  refDirection: tf.Tensor1D | null;
  /** Multiplier of λ_dir for this encoder (prepareTrainerEncoder: option `encoderDirectionWeight` or the encoder's default); absent = 1. */
  directionWeight?: number;
  /** Blocks of the hypercolumn L_dis (empty with `disTokens` 'block'). */
  mapBlocks?: readonly number[];
  /** Reference hypercolumns at every cell of the `disGrid`² grid, [G², d] (needed with 'hypercolumn'). */
  refHypercolumn?: tf.Tensor2D | null;
  /**
   * Reference RGB in [−1, 1] at the cells of the `disGrid`² grid, one [m, 3] per colour region
   * (`colourRegionsOf`: every cell, the face box's, or the face box's then the rest's); needed with any
   * colour term (`usesColourTerms`).
   */
  refColours?: tf.Tensor2D[] | null;
  /** Per colour region, the reference colours on the sliced distance's projections, each in ascending order, [K, m] (with `disColourSlicedWeight` > 0). */
  refColourSorted?: tf.Tensor2D[] | null;
}

/** λ_dir multiplier of an encoder: the option `encoderDirectionWeight` when ≥ 0, else the encoder's default (absent = 1). */
export function directionWeightOf(encoder: FeatureEncoder, options: MethodOptions): number {
  return options.encoderDirectionWeight >= 0 ? options.encoderDirectionWeight : (encoder.defaultDirectionWeight ?? 1);
}

/** Side of the reference image the colour targets are taken from (the encoders' usual input size). */
const REFERENCE_COLOUR_SIZE = 224;

/**
 * Everything the trainer needs of one encoder for a reference: its tokens, Δ_ref from μ_s, and (as
 * the method options ask) the reference hypercolumns and colours on the `disGrid`² grid. The caller
 * owns the tensors (`disposeTrainerEncoder`).
 */
export function prepareTrainerEncoder(encoder: FeatureEncoder, reference: RgbaImage, meanEmbedding: Float32Array | null, options: MethodOptions): TrainerEncoder {
  const directionWeight = directionWeightOf(encoder, options);
  if (directionWeight > 0 && !meanEmbedding) throw new SettingsError(`${encoder.name}: L_dir is on (direction weight ${directionWeight}) but no μ_s was given`);
  const tokenBlock = options.tokenBlock < 0 ? encoder.defaultTokenBlock : options.tokenBlock;
  const hyper = options.disTokens === 'hypercolumn';
  const mapBlocks = hyper ? (options.hypercolumnBlocks.length ? options.hypercolumnBlocks : encoder.defaultMapBlocks) : [];
  for (const b of mapBlocks) {
    if (b >= encoder.numBlocks) throw new SettingsError(`hypercolumn block ${b} does not exist in ${encoder.name} (0..${encoder.numBlocks - 1})`);
  }
  const ref = encoder.encodeReference(reference, tokenBlock, mapBlocks);
  const grid = gridPoints(options.disGrid);
  const refDirection = directionWeight > 0 && meanEmbedding ? tf.tidy(() => referenceDirection(ref.embedding, tf.tensor1d(meanEmbedding))) : null;
  const refHypercolumn = hyper ? tf.tidy(() => tf.reshape(hypercolumnTokens(ref.maps, grid), [options.disGrid ** 2, -1]) as tf.Tensor2D) : null;
  const refColours = usesColourTerms(options)
    ? tf.tidy(() => {
        const s = REFERENCE_COLOUR_SIZE;
        const img = tf.sub(tf.mul(tf.tensor4d(clipReferencePixels(reference, s, [0, 0, 0], [1, 1, 1]), [1, s, s, 3]), 2), 1) as tf.Tensor4D;
        return colourRegionsOf(grid, options).map((at) => tf.reshape(colourTokens(img, at, options.disGrid), [-1, 3]) as tf.Tensor2D);
      })
    : null;
  const refColourSorted = refColours && options.disColourSlicedWeight > 0 ? tf.tidy(() => refColours.map((c) => slicedReference(c, colourProjections()))) : null;
  tf.dispose([ref.embedding, ...ref.maps]);
  return { encoder, tokenBlock, refTokens: ref.tokens, refDirection, directionWeight, mapBlocks, refHypercolumn, refColours, refColourSorted };
}

/** The reference tensors `prepareTrainerEncoder` made (not the encoder's weights). */
export function trainerEncoderTensors(e: TrainerEncoder): tf.Tensor[] {
  return [e.refTokens, e.refDirection, e.refHypercolumn, ...(e.refColours ?? []), ...(e.refColourSorted ?? [])].filter((t): t is tf.Tensor => t != null);
}

/** Frees the reference tensors of `prepareTrainerEncoder` (not the encoder). */
export function disposeTrainerEncoder(e: TrainerEncoder): void {
  tf.dispose(trainerEncoderTensors(e));
}

export type TrainPhase = 'tri-d' | 'g2';

export interface IterationLosses {
  total: number;
  dir: number;
  dis: number;
  imageStructure: number;
  featureStructure: number;
}

export interface IterationResult {
  phase: TrainPhase;
  /** 1-based within the phase. */
  iteration: number;
  globalIteration: number;
  losses: IterationLosses;
}

/** Deterministic 32-bit mix of (seed, iteration, stream) for per-iteration Randoms. */
export function iterationSeed(seed: number, iteration: number, stream = 0): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const x of [iteration, stream]) {
    h = Math.imul(h ^ (x >>> 0), 0x85ebca6b) >>> 0;
    h = (h ^ (h >>> 13)) >>> 0;
    h = Math.imul(h, 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** z ~ N(0, I) of one latent seed (the same mapping the engine's render() and previews use). */
export function latentFromSeed(seed: number, zDim: number): Float32Array {
  return new Random(seed).normalArray(zDim);
}

export interface SampledBatch {
  z: Float32Array; // [B, zDim]
  cameras: Float32Array; // [B, 25]
  draws: TrainerDraws;
}

/** Samples latents, cameras (spec C.6) and renderer draws for one iteration. */
export function sampleBatch(generator: AdaptableGenerator, batch: number, rng: Random, options: MethodOptions): SampledBatch {
  const config = generator.config;
  const z = rng.normalArray(batch * config.zDim);
  const cameras = new Float32Array(batch * 25);
  const intrinsics = focalToIntrinsics(DATASET_FOCAL);
  const pivot = config.rendering.avgCameraPivot;
  const radius = config.rendering.avgCameraRadius;
  for (let i = 0; i < batch; i++) {
    const h = FRONTAL_ANGLE + options.yawStd * rng.normal();
    const v = FRONTAL_ANGLE + options.pitchStd * rng.normal();
    cameras.set(cameraVector(lookAtPose(h, v, { pivot, radius }), intrinsics), i * 25);
  }
  let draws: TrainerDraws = { kind: 'deterministic' };
  if (options.renderDraws === 'shared-random') {
    const shape = generator.renderShape;
    const rays = batch * shape.resolution ** 2;
    draws = {
      kind: 'recorded',
      coarseJitter: rng.uniformArray(rays * shape.coarse),
      importanceU: rng.uniformArray(rays * shape.fine),
    };
  }
  return { z, cameras, draws };
}

/**
 * Samples [s, e) of a sampled batch: their latents, cameras and renderer draws. Every array is laid out
 * sample-major (recorded draws: each sample's rays × samples contiguous), so each is cut at the same
 * fraction of its length.
 */
export function sliceBatch(b: SampledBatch, s: number, e: number): SampledBatch {
  const batch = b.cameras.length / 25;
  const cut = (a: Float32Array) => a.subarray((s * a.length) / batch, (e * a.length) / batch);
  const draws: TrainerDraws = b.draws.kind === 'recorded' ? { kind: 'recorded', coarseJitter: cut(b.draws.coarseJitter), importanceU: cut(b.draws.importanceU) } : b.draws;
  return { z: cut(b.z), cameras: cut(b.cameras), draws };
}

/** tfjs variable names must be unique per engine; a counter keeps them so. */
let nextVariableId = 0;

export class AdapterTrainer {
  /** Trainable Tri-D + G2 parameters (tfjs layout); the adapted generator reads them. */
  readonly variables: Map<string, tf.Variable>;
  readonly adapted: AdaptableGenerator;
  private adam: NamedAdam | null = null;
  private adamPhase: TrainPhase | null = null;
  private position = 0;
  private disposed = false;

  constructor(
    readonly source: AdaptableGenerator,
    readonly encoders: TrainerEncoder[],
    readonly config: TrainerConfig,
    initial?: ReadonlyMap<string, tf.Tensor>,
  ) {
    if (encoders.length === 0) throw new Error('the trainer needs at least one encoder');
    this.variables = new Map();
    for (const [key, t] of source.weights) {
      if (!isTrainableKey(key)) continue;
      this.variables.set(key, tf.variable(initial?.get(key) ?? t, true, `adapted/${nextVariableId++}/${key}`));
    }
    this.adapted = source.withWeights(this.variables as unknown as WeightMap);
  }

  get totalIterations(): number {
    return this.config.iterations[0] + this.config.iterations[1];
  }

  /** Iterations completed over both steps. */
  get globalIteration(): number {
    return this.position;
  }

  get done(): boolean {
    return this.position >= this.totalIterations;
  }

  phaseAt(globalIteration: number): TrainPhase {
    return globalIteration < this.config.iterations[0] ? 'tri-d' : 'g2';
  }

  /** Names of the parameters the given phase trains. */
  trainableKeys(phase: TrainPhase): string[] {
    const keys = [...this.variables.keys()];
    if (phase === 'tri-d') return keys.filter((k) => k.startsWith('decoder.'));
    return keys.filter((k) => k.startsWith('superresolution.') || (this.config.options.step2Trainable === 'g2+tri-d' && k.startsWith('decoder.')));
  }

  private optimizerFor(phase: TrainPhase): NamedAdam {
    if (this.adam && this.adamPhase === phase) return this.adam;
    this.adam?.dispose();
    const params = new Map(this.trainableKeys(phase).map((k) => [k, this.variables.get(k)!]));
    const scale = phase === 'tri-d' ? this.config.options.triDLrScale : this.config.options.g2LrScale;
    this.adam = new NamedAdam(
      { learningRate: this.config.learningRate * scale, beta1: this.config.betas[0], beta2: this.config.betas[1], epsilon: this.config.options.adamEpsilon },
      params,
    );
    this.adamPhase = phase;
    return this.adam;
  }

  /** The batch of a given global iteration (pure function of seed and iteration). */
  batchAt(globalIteration: number): SampledBatch {
    return sampleBatch(this.source, this.config.batchSize, new Random(iterationSeed(this.config.seed, globalIteration)), this.config.options);
  }

  /**
   * Loss and gradients of one iteration w.r.t. the phase's parameters. Returns kept tensors the
   * caller must dispose (`grads`, `components` = [total, dir, dis, I-str, F-str]).
   *
   * The frozen part of the iteration (mapping, backbone, the source generator's render, image and
   * encoder features, and in step 2 the adapted render) runs once for the whole batch, off the tape;
   * only the part that back-propagates runs per micro-batch (`microBatch`), on slices of it.
   */
  computeGradients(globalIteration: number): { grads: Map<string, tf.Tensor>; components: tf.Tensor1D } {
    const batch = this.batchAt(globalIteration);
    const B = this.config.batchSize;
    const micro = this.config.options.microBatch;
    const points = this.pointsAt(globalIteration);
    const frozen = this.frozenPart(globalIteration, batch, B, points);
    try {
      if (micro <= 0 || micro >= B) return this.tapedGradients(globalIteration, batch, frozen, points);
      // Gradient accumulation in two stages (docs/method.md, "Memory plan"): the losses' gradient
      // w.r.t. the adapted image (and features) for the whole batch, on a tape that holds only the
      // encoders and losses; then, one micro-batch at a time, the image recomputed on a tape of its
      // own (renderer and/or G2) and back-propagated with its slice of that gradient. The peak is the
      // larger of the two tapes, and the encoders run once per batch, not once per micro-batch.
      const { seeds, components } = this.outputGradients(globalIteration, batch, frozen, points);
      const acc = new Map<string, tf.Tensor>();
      try {
        for (let s = 0; s < B; s += micro) {
          const e = Math.min(B, s + micro);
          const part = sliceFrozen(frozen, s, e);
          const seed = { image: tf.slice(seeds.image, s, e - s), features: seeds.features && tf.slice(seeds.features, s, e - s) };
          try {
            const grads = this.outputBackward(globalIteration, sliceBatch(batch, s, e), part, seed);
            for (const [k, g] of grads) {
              const prev = acc.get(k);
              acc.set(k, prev ? tf.tidy(() => tf.add(prev, g)) : g);
              if (prev) {
                prev.dispose();
                g.dispose();
              }
            }
          } finally {
            disposeFrozen(part);
            tf.dispose([seed.image, ...(seed.features ? [seed.features] : [])]);
          }
        }
      } catch (err) {
        tf.dispose([components, ...acc.values()]);
        throw err;
      } finally {
        tf.dispose([seeds.image, ...(seeds.features ? [seeds.features] : [])]);
      }
      return { grads: acc, components };
    } finally {
      disposeFrozen(frozen);
    }
  }

  /** Whether the phase renders on the tape (step 1, or step 2 training the Tri-D too); else the adapted render is a constant. */
  private rendersOnTape(phase: TrainPhase): boolean {
    return phase === 'tri-d' || this.config.options.step2Trainable === 'g2+tri-d';
  }

  /** Hypercolumn / colour points of an iteration (a stream of their own: the batch draws are unchanged), or null when no loss reads them. */
  private pointsAt(globalIteration: number): Float32Array | null {
    const opts = this.config.options;
    const colour = usesColourTerms(opts);
    const needPoints = this.config.lossWeights.dis !== 0 && (opts.disTokens === 'hypercolumn' || colour);
    for (const e of this.encoders) {
      if (opts.disTokens === 'hypercolumn' && needPoints && !e.refHypercolumn) throw new Error(`${e.encoder.name}: hypercolumn L_dis needs the reference hypercolumns (prepareTrainerEncoder)`);
      if (colour && needPoints && !e.refColours) throw new Error(`${e.encoder.name}: the colour term needs the reference colours (prepareTrainerEncoder)`);
      if (opts.disColourSlicedWeight > 0 && needPoints && !e.refColourSorted) throw new Error(`${e.encoder.name}: the sliced colour distance needs the sorted reference colours (prepareTrainerEncoder)`);
    }
    return needPoints ? samplePoints(new Random(iterationSeed(this.config.seed, globalIteration, 1)), opts.disGrid, opts.disPoints) : null;
  }

  /** What the phase sees of a render: through G2 (`g`), or in step 1 optionally the raw render up-sampled. */
  private view(phase: TrainPhase, features: tf.Tensor4D, g: AdaptableGenerator, ws: tf.Tensor3D): tf.Tensor4D {
    const raw = rawOf(features);
    if (phase === 'tri-d' && this.config.options.step1Output === 'raw-upsampled') {
      const s = this.source.config.imgResolution;
      return tf.image.resizeBilinear(raw, [s, s], false, true);
    }
    // Step 1 back-propagates through the frozen G2 to the features only.
    return g.superresolve(raw, features, ws, { weightGrad: phase !== 'tri-d' });
  }

  /** The constants of an iteration's losses for `B` samples, computed off the tape (kept tensors: `disposeFrozen`). */
  private frozenPart(globalIteration: number, { z, cameras, draws }: SampledBatch, B: number, points: Float32Array | null): FrozenPart {
    const phase = this.phaseAt(globalIteration);
    const opts = this.config.options;
    const renderWithGrad = this.rendersOnTape(phase);
    let frozen!: FrozenPart;
    tf.tidy(() => {
      const src = this.source;
      const cCond = tf.tensor2d(tileCamera(frontalCamera(), B), [B, 25]);
      const cams = tf.tensor2d(cameras, [B, 25]);
      // Mapping + backbone once for both generators.
      const ws = src.mapping(tf.tensor2d(z, [B, src.config.zDim]), cCond, this.config.truncationPsi, opts.truncationCutoff > 0 ? opts.truncationCutoff : null);
      const planes = src.planes(ws);
      const srcRender = src.render(planes, cams, draws);
      const srcFeatures = srcRender.features;
      // The colour points per region, and their foreground weights (source render) when the colour terms ask for them.
      const colourPoints = points && usesColourTerms(opts) ? colourRegionsOf(points, opts) : null;
      const colourWeights =
        colourPoints && (opts.disColourMomentWeight > 0 || opts.disColourSlicedWeight > 0) && opts.disColourRegion !== 'image'
          ? colourPoints.map((at) => (at.length ? (sampleAt(softForeground(srcRender.depth), at) as tf.Tensor3D) : null))
          : null;
      const srcImage = this.view(phase, srcFeatures, src, ws);
      const srcEnc = this.encoders.map((e) => {
        const f = e.encoder.encodeImages(srcImage, e.tokenBlock);
        return { embedding: f.embedding, tokens: f.tokens };
      });
      // Step 2 (G2 only): the adapted render is a constant too.
      const adaptedFeatures = renderWithGrad ? null : this.adapted.render(planes, cams, draws).features;
      frozen = { ws, planes, cams, srcFeatures, srcImage, srcEnc, colourPoints, colourWeights, adaptedFeatures };
      for (const t of frozenTensors(frozen)) tf.keep(t);
    });
    return frozen;
  }

  /** Whether the phase's losses reach the trainable parameters through the rendered features directly (not only through the image). */
  private featuresOnTape(phase: TrainPhase): boolean {
    const opts = this.config.options;
    return this.rendersOnTape(phase) && this.config.lossWeights.imageStructure !== 0 && opts.imageStructure === 'feature-selfsim';
  }

  /** The adapted features and image of the samples of `frozen`, on the active tape if any. */
  private adaptedOutput(phase: TrainPhase, draws: TrainerDraws, frozen: FrozenPart): { features: tf.Tensor4D; image: tf.Tensor4D } {
    const features = frozen.adaptedFeatures ?? this.adapted.render(frozen.planes, frozen.cams, draws).features;
    return { features, image: this.view(phase, features, phase === 'tri-d' ? this.source : this.adapted, frozen.ws) };
  }

  /**
   * The iteration's total loss from the adapted image and features (`components` receives the kept
   * [total, dir, dis, I-str, F-str]).
   */
  private lossOf(globalIteration: number, adImage: tf.Tensor4D, adFeatures: tf.Tensor4D, frozen: FrozenPart, points: Float32Array | null, kept: { components: tf.Tensor1D | null }): tf.Scalar {
    const opts = this.config.options;
    const w = this.config.lossWeights;
    const colour = usesColourTerms(opts);
    const { srcFeatures, srcImage, srcEnc, colourPoints, colourWeights } = frozen;
    const zero = tf.scalar(0);
    let dir: tf.Scalar = zero;
    let dis: tf.Scalar = zero;
    let fstr: tf.Scalar = zero;
    this.encoders.forEach((e, i) => {
      const ad = e.encoder.encodeImages(adImage, e.tokenBlock, w.dis && opts.disFeatureWeight > 0 && opts.disTokens === 'hypercolumn' ? (e.mapBlocks ?? []) : []);
      const dirWeight = e.directionWeight ?? 1;
      if (w.dir && dirWeight && e.refDirection) {
        // DoRM: at the first iteration the adapted generator equals the source, E(I_t) − E(I_s) is
        // exactly 0 and its direction undefined; DoRM then encodes I_t + 1e-6 for L_dir.
        const nudge = globalIteration === 0 && opts.directionFloor <= 0;
        const adDir = nudge ? e.encoder.encodeImages(tf.add(adImage, DORM_ZERO_DIRECTION_NUDGE) as tf.Tensor4D, e.tokenBlock).embedding : ad.embedding;
        dir = tf.add(dir, tf.mul(dirWeight, lossDirection(adDir, srcEnc[i].embedding, e.refDirection, opts.directionFloor)));
      }
      if (w.dis) {
        if (opts.disFeatureWeight > 0) {
          const remd = opts.disTokens === 'hypercolumn' ? lossRemd(hypercolumnTokens(ad.maps, points!), e.refHypercolumn!) : lossRemd(ad.tokens, e.refTokens);
          dis = tf.add(dis, tf.mul(opts.disFeatureWeight, remd));
        }
      }
      if (w.featureStructure) fstr = tf.add(fstr, lossFeatureStructure(ad.tokens, srcEnc[i].tokens, opts.featureStructure));
    });
    // The colour terms do not depend on the encoder: counted once, like L_I-str (the reference colours are the same in every encoder's targets).
    // With several colour regions each is compared with its counterpart in the reference, as a term of its own.
    if (w.dis && colour && colourPoints) {
      colourPoints.forEach((cp, r) => {
        if (!cp.length) return;
        const refColours = this.encoders[0].refColours![r];
        const refColourSorted = this.encoders[0].refColourSorted?.[r];
        const weights = colourWeights?.[r] ?? undefined;
        const adColours = colourTokens(adImage, cp, opts.disGrid);
        const add = (weight: number, term: tf.Scalar) => (dis = tf.add(dis, tf.mul(weight, term)));
        if (opts.disColourWeight > 0) add(opts.disColourWeight, lossRemd(adColours, refColours, 'euclidean'));
        if (opts.disColourMomentWeight > 0) add(opts.disColourMomentWeight, lossMoments(adColours, refColours, weights));
        if (opts.disColourSlicedWeight > 0) add(opts.disColourSlicedWeight, lossSlicedWasserstein(adColours, refColourSorted!, colourProjections(), weights));
      });
    }
    let istr: tf.Scalar = zero;
    if (w.imageStructure) {
      istr =
        opts.imageStructure === 'feature-selfsim'
          ? lossImageStructureFeatureSelfSim(adFeatures, srcFeatures, opts.imageStructureGrid)
          : lossImageStructureLowres(adImage, srcImage, opts.imageStructureSize, opts.imageStructure === 'lowres-l1-standardized');
    }
    const total = tf.addN([tf.mul(dir, w.dir), tf.mul(dis, w.dis), tf.mul(istr, w.imageStructure), tf.mul(fstr, w.featureStructure)]) as tf.Scalar;
    kept.components = tf.keep(tf.stack([total, dir, dis, istr, fstr]) as tf.Tensor1D);
    return total;
  }

  /** Gradients w.r.t. the phase's parameters, keyed by parameter name, of `f` (run on the tape). */
  private parameterGrads(phase: TrainPhase, f: () => tf.Scalar): Map<string, tf.Tensor> {
    const trainKeys = this.trainableKeys(phase);
    const trainVars = trainKeys.map((k) => this.variables.get(k)!);
    const grads = tf.tidy(() => {
      const { grads } = tf.variableGrads(f, trainVars);
      // variableGrads keys by variable name; re-key by parameter name (a plain object, so tidy keeps them).
      const out: Record<string, tf.Tensor> = {};
      trainKeys.forEach((k, i) => {
        const g = grads[trainVars[i].name];
        if (g) out[k] = g;
      });
      return out;
    });
    return new Map(Object.entries(grads));
  }

  /** The whole iteration on one tape, for the samples of `frozen` (microBatch 0, or a batch of one micro-batch). */
  private tapedGradients(globalIteration: number, { draws }: SampledBatch, frozen: FrozenPart, points: Float32Array | null): { grads: Map<string, tf.Tensor>; components: tf.Tensor1D } {
    const phase = this.phaseAt(globalIteration);
    const kept: { components: tf.Tensor1D | null } = { components: null };
    const grads = this.parameterGrads(phase, () => {
      const ad = this.adaptedOutput(phase, draws, frozen);
      return this.lossOf(globalIteration, ad.image, ad.features, frozen, points, kept);
    });
    return { grads, components: kept.components! };
  }

  /**
   * Stage 1 of the two-stage accumulation: the adapted image (and features, when a loss reads them)
   * of the whole batch off the tape, and the loss's gradient w.r.t. them (kept tensors).
   */
  private outputGradients(globalIteration: number, { draws }: SampledBatch, frozen: FrozenPart, points: Float32Array | null): { seeds: { image: tf.Tensor4D; features: tf.Tensor4D | null }; components: tf.Tensor1D } {
    const phase = this.phaseAt(globalIteration);
    const withFeatures = this.featuresOnTape(phase);
    const kept: { components: tf.Tensor1D | null } = { components: null };
    const seeds = tf.tidy(() => {
      const ad = this.adaptedOutput(phase, draws, frozen);
      const xs = withFeatures ? [ad.image, ad.features] : [ad.image];
      // A loss that does not read the image (every image term weighted 0) back-propagates zeros.
      const { grads } = tf.engine().gradients(() => this.lossOf(globalIteration, ad.image, ad.features, frozen, points, kept), xs, undefined, true);
      const seed = (i: number) => grads[i] ?? tf.zerosLike(xs[i]);
      return withFeatures ? { image: seed(0), features: seed(1) } : { image: seed(0) };
    });
    return { seeds: { image: seeds.image as tf.Tensor4D, features: (seeds.features as tf.Tensor4D | undefined) ?? null }, components: kept.components! };
  }

  /** Stage 2: the parameters' gradients of the samples of `frozen`, back-propagating the given output gradients. */
  private outputBackward(globalIteration: number, { draws }: SampledBatch, frozen: FrozenPart, seed: { image: tf.Tensor; features: tf.Tensor | null }): Map<string, tf.Tensor> {
    const phase = this.phaseAt(globalIteration);
    return this.parameterGrads(phase, () => {
      const ad = this.adaptedOutput(phase, draws, frozen);
      const viaImage = tf.sum(tf.mul(ad.image, seed.image)) as tf.Scalar;
      return seed.features ? (tf.add(viaImage, tf.sum(tf.mul(ad.features, seed.features))) as tf.Scalar) : viaImage;
    });
  }

  /** Runs the next iteration (computes the loss, applies one Adam step). */
  async step(): Promise<IterationResult> {
    if (this.disposed) throw new Error('trainer has been disposed');
    if (this.done) throw new Error('the schedule is complete');
    const g = this.position;
    const phase = this.phaseAt(g);
    const adam = this.optimizerFor(phase);
    const { grads, components } = this.computeGradients(g);
    try {
      adam.apply(grads);
    } finally {
      for (const t of grads.values()) t.dispose();
    }
    const v = await components.data();
    components.dispose();
    // The loss readback waited for the queue: the pool's free buffers are idle (docs/method.md, memory plan item 4).
    trimWebGPUPool(this.config.options.poolSlackMiB * 2 ** 20);
    if (!Number.isFinite(v[0])) throw new Error(`the loss became ${v[0]} at iteration ${g + 1}; lower the learning rate`);
    this.position = g + 1;
    const iteration = phase === 'tri-d' ? g + 1 : g + 1 - this.config.iterations[0];
    return { phase, iteration, globalIteration: g + 1, losses: { total: v[0], dir: v[1], dis: v[2], imageStructure: v[3], featureStructure: v[4] } };
  }

  /** Optimiser state of the step in progress (null before the first iteration of a step). */
  async optimizerState(): Promise<AdamState | null> {
    if (!this.adam || this.adamPhase !== this.phaseAt(this.position) || this.done) return null;
    return this.adam.getState();
  }

  /** Continues from a checkpoint position (weights already passed to the constructor). */
  restore(globalIteration: number, adam: AdamState | null): void {
    if (globalIteration < 0 || globalIteration > this.totalIterations) {
      throw new Error(`checkpoint iteration ${globalIteration} is outside this schedule (0..${this.totalIterations})`);
    }
    this.position = globalIteration;
    if (adam && !this.done && globalIteration > 0 && this.phaseAt(globalIteration - 1) === this.phaseAt(globalIteration)) {
      this.optimizerFor(this.phaseAt(globalIteration)).setState(adam);
    }
  }

  /** Releases the optimiser; the variables are handed over to the caller (or disposed with `alsoVariables`). */
  dispose(alsoVariables = false): void {
    if (this.disposed) return;
    this.disposed = true;
    this.adam?.dispose();
    this.adam = null;
    if (alsoVariables) for (const v of this.variables.values()) v.dispose();
  }
}

/** The constants of an iteration's losses (`AdapterTrainer.frozenPart`), batch-major. */
interface FrozenPart {
  ws: tf.Tensor3D;
  planes: tf.Tensor;
  cams: tf.Tensor2D;
  srcFeatures: tf.Tensor4D;
  srcImage: tf.Tensor4D;
  srcEnc: { embedding: tf.Tensor2D; tokens: tf.Tensor3D }[];
  /** Per colour region, the source render's soft foreground at its points (null: unweighted, or a region without points). */
  colourWeights: (tf.Tensor3D | null)[] | null;
  /** The iteration's colour points per region (`colourRegionsOf`; null without colour terms), shared by every micro-batch. */
  colourPoints: Float32Array[] | null;
  /** Step 2: the adapted render (a constant); null when the phase renders on the tape. */
  adaptedFeatures: tf.Tensor4D | null;
}

/** Samples [s, e) of every tensor of a frozen part (new tensors: `disposeFrozen` them). */
function sliceFrozen(f: FrozenPart, s: number, e: number): FrozenPart {
  const cut = <T extends tf.Tensor>(t: T): T => tf.slice(t, s, e - s) as T;
  return {
    ws: cut(f.ws),
    planes: cut(f.planes),
    cams: cut(f.cams),
    srcFeatures: cut(f.srcFeatures),
    srcImage: cut(f.srcImage),
    srcEnc: f.srcEnc.map((x) => ({ embedding: cut(x.embedding), tokens: cut(x.tokens) })),
    colourWeights: f.colourWeights && f.colourWeights.map((t) => t && cut(t)),
    colourPoints: f.colourPoints,
    adaptedFeatures: f.adaptedFeatures && cut(f.adaptedFeatures),
  };
}

function frozenTensors(f: FrozenPart): tf.Tensor[] {
  const optional = [...(f.colourWeights ?? []), f.adaptedFeatures].filter((t): t is tf.Tensor3D | tf.Tensor4D => t !== null);
  return [f.ws, f.planes, f.cams, f.srcFeatures, f.srcImage, ...f.srcEnc.flatMap((x) => [x.embedding, x.tokens]), ...optional];
}

function disposeFrozen(f: FrozenPart): void {
  tf.dispose(frozenTensors(f));
}

/**
 * The colour regions of a point set (an iteration's points, or the reference's grid cells), each compared
 * with the same region of the reference: every point ('image', 'foreground'); those inside `FACE_BOX`
 * ('face-box'); those inside it, then the rest ('regions'). A region may be empty.
 */
export function colourRegionsOf(points: Float32Array, opts: Pick<MethodOptions, 'disColourRegion'>): Float32Array[] {
  if (opts.disColourRegion === 'image' || opts.disColourRegion === 'foreground') return [points];
  const { inside, outside } = pointsByBox(points, FACE_BOX);
  return opts.disColourRegion === 'face-box' ? [inside] : [inside, outside];
}

/** Projections of the sliced colour distance (`disColourSlicedWeight`): fixed, spread over the hemisphere. */
const COLOUR_PROJECTION_COUNT = 32;
const COLOUR_PROJECTIONS = hemisphereDirections(COLOUR_PROJECTION_COUNT);
const colourProjections = (): tf.Tensor2D => tf.tensor2d(COLOUR_PROJECTIONS, [COLOUR_PROJECTION_COUNT, 3]);

/** Whether L_dis has a colour term (the REMD, the moments or the sliced distance of the colours at the points). */
function usesColourTerms(opts: MethodOptions): boolean {
  return opts.disColourWeight > 0 || opts.disColourMomentWeight > 0 || opts.disColourSlicedWeight > 0;
}

function tileCamera(c: Float32Array, n: number): Float32Array {
  const out = new Float32Array(n * 25);
  for (let i = 0; i < n; i++) out.set(c, i * 25);
  return out;
}

/** image_raw = the first three channels of the rendered feature image. */
function rawOf(features: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w] = features.shape;
  return tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]);
}

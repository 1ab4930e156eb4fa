/**
 * Training of the embedded demo generator (issue 6) on procedural heads, in two phases:
 *
 * 1. "fields": mapping → StyleGAN2 backbone → tri-planes → Tri-D, supervised directly with the
 *    ground-truth raw density and colour at sampled 3D points. Latent z stands for the head
 *    `headParamsFromLatent(z)`, so the generator learns z → head. No rendering is needed, which is
 *    what makes this affordable on two CPU cores. By default ("fast planes") the backbone is trained
 *    up to its 64² block and the b128/b256 ToRGB layers are held at zero, so the official 256² plane
 *    output is exactly upsample2d(upsample2d(img64)); the trainer samples it through the equivalent
 *    sparse linear map of the 64² planes (`sampleUpsampledTriplanesTrainable`), much cheaper to
 *    differentiate on wasm than building and back-propagating 256² planes.
 * 2. "sr": G2 (the official SuperresolutionHybrid2X) fitted on pairs (the generator's own 64² render
 *    through the EG3D renderer, the procedural head's 128² ground-truth render). Its ToRGB weights
 *    start at zero, so it starts as upsample2d(image_raw) and learns the residual.
 *
 * Every step's randomness derives from (seed, phase, step), so a run resumed from a checkpoint
 * continues exactly as an uninterrupted one. Weights stay in tfjs layout under official names;
 * `exportSafetensors` writes PyTorch layouts with the construction kwargs in the metadata.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import type { ByteSource } from '../io/byte-source.ts';
import { NamedAdam, type AdamState } from '../nn/adam.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from '../eg3d/camera.ts';
import type { EG3DConfig } from '../eg3d/config.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { runMapping } from '../eg3d/mapping.ts';
import { runBackbone, splitPlanes, synthesisBlock } from '../eg3d/synthesis.ts';
import { getWeight, initRandomWeights, tensorSpecs, tfToTorch, torchToTf, type WeightMap } from '../eg3d/weights.ts';
import { demoConfig, demoInitKwargs, demoRenderingKwargs, DEMO_NEURAL_RENDERING_RESOLUTION } from './config.ts';
import { DENSITY_SLOPE, headParamsFromLatent, headParamsFromUniforms, headUniformsFromLatent, NUM_HEAD_FACTORS, ProceduralHead, SIGMA_RAW_EMPTY, SIGMA_RAW_SOLID } from './heads.ts';
import { renderGroundTruth } from './gt-render.ts';
import { samplePoints } from './points.ts';
import { decodePoints, sampleTriplanesTrainable, sampleUpsampledTriplanesTrainable, sparseRows, upsampleMatrix, type SparseRows } from './train-ops.ts';
import { InternalError } from '../core/errors.ts';

export interface DemoTrainOptions {
  seed: number;
  /** Steps of phase 1 (point-supervised mapping + backbone + Tri-D). */
  fieldSteps: number;
  /** Steps of phase 2 (G2 on rendered pairs). */
  srSteps: number;
  /** Heads per phase-1 step. */
  batch: number;
  /** Supervision points per head. */
  pointsPerHead: number;
  /** Images per phase-2 step. */
  srBatch: number;
  learningRate: number;
  /** Tri-D learning rate: larger, because its raw density must reach ≈ 150 through unit-gain layers. */
  decoderLearningRate: number;
  srLearningRate: number;
  /** Train the backbone up to 64² with zero b128/b256 ToRGB (see module comment); false = full 256² backbone. */
  fastPlanes: boolean;
  /**
   * Phase-1 density target slope k: σ_raw target = clamp(1 − k·sdf, SIGMA_RAW_EMPTY, SIGMA_RAW_SOLID),
   * annealed geometrically from `targetSlopeStart` to `targetSlopeEnd` over the first
   * `slopeAnnealFraction` of phase 1, then held. The ground truth (renders, eval) keeps DENSITY_SLOPE.
   */
  targetSlopeStart: number;
  targetSlopeEnd: number;
  slopeAnnealFraction: number;
  /** Half-width of the |SDF| band of near-surface supervision points (world units). */
  surfaceBand: number;
  /** Fraction of uniform (box-wide) supervision points. */
  uniformFraction: number;
  /** Fraction of the near-surface points drawn in the face-feature region (see samplePoints). */
  faceFraction: number;
  /** Weight of the colour (L1) term against the density term. */
  colourWeight: number;
  /**
   * From step round(lrDropAt · fieldSteps) on, the phase-1 learning rates (mapping + backbone and
   * Tri-D) are multiplied by `lrDropFactor`: the high initial rates build the coarse head quickly, then
   * their step noise limits the fit.
   */
  lrDropAt: number;
  lrDropFactor: number;
  /**
   * Multiplies the learning rate of the mapping layers `backbone.mapping.fc*`, whose official
   * lr_multiplier (0.01) otherwise makes them 100× slower than the rest: the head factors are 36 of
   * z's 512 dimensions, and w must come to carry them.
   */
  mappingLrBoost: number;
  /**
   * Weight of the factor-probe loss: a linear probe (training-only, never exported) predicts the head
   * factors Φ(z[0..NUM_HEAD_FACTORS)) from w, and its squared error also trains the mapping. It makes
   * w expose every factor linearly, which the backbone's affine styles can read at once; without it
   * factors with a weak loss signal (backdrop colour, facial features) stay mixed in w and are learned
   * very slowly. 0 = off, the default: in a warm-started run it first cost more face accuracy than it
   * gained (docs/method.md, "Backdrop colour"); meant for longer (GPU) runs.
   */
  factorProbeWeight: number;
  /** Adam learning rate of the factor probe. */
  factorProbeLearningRate: number;
}

export const DEFAULT_DEMO_TRAIN_OPTIONS: DemoTrainOptions = {
  seed: 1,
  fieldSteps: 3000,
  srSteps: 200,
  batch: 4,
  pointsPerHead: 2048,
  srBatch: 2,
  learningRate: 0.03,
  decoderLearningRate: 0.2,
  srLearningRate: 0.002,
  fastPlanes: true,
  targetSlopeStart: 300,
  targetSlopeEnd: DENSITY_SLOPE,
  slopeAnnealFraction: 0.85,
  surfaceBand: 0.06,
  uniformFraction: 0.2,
  faceFraction: 0.3,
  colourWeight: 1,
  lrDropAt: 0.07,
  lrDropFactor: 1 / 6,
  mappingLrBoost: 100,
  factorProbeWeight: 0,
  factorProbeLearningRate: 0.001,
};

/** Options from older checkpoints lack the later fields: fill them with what those runs used. */
function withOptionDefaults(o: Partial<DemoTrainOptions>): DemoTrainOptions {
  return { ...DEFAULT_DEMO_TRAIN_OPTIONS, targetSlopeStart: DENSITY_SLOPE, targetSlopeEnd: DENSITY_SLOPE, slopeAnnealFraction: 0.7, surfaceBand: 0.03, uniformFraction: 0.2, faceFraction: 0, colourWeight: 4, lrDropAt: 1, lrDropFactor: 1, mappingLrBoost: 1, factorProbeWeight: 0, ...o };
}

/** The phase-1 target slope at step `step` (see DemoTrainOptions.targetSlopeStart). */
export function targetSlopeAt(o: DemoTrainOptions, step: number): number {
  const span = Math.max(1, Math.round(o.fieldSteps * o.slopeAnnealFraction));
  const t = Math.min(1, step / span);
  return o.targetSlopeStart * Math.pow(o.targetSlopeEnd / o.targetSlopeStart, t);
}

/** The phase-1 raw-density target for a signed distance under slope `k`. */
export function trainingSigmaTarget(sdf: number, k: number): number {
  return Math.min(Math.max(1 - k * sdf, SIGMA_RAW_EMPTY), SIGMA_RAW_SOLID);
}

export type DemoPhase = 'fields' | 'sr' | 'done';

export interface DemoStepResult {
  phase: 'fields' | 'sr';
  step: number;
  loss: number;
  /** Phase 1: density and colour terms; phase 2: L1 of the 128² image. */
  terms: Record<string, number>;
  ms: number;
}

/** Scale of density errors in the loss (σ_raw units). */
const DENSITY_UNIT = 30;
/** Steps over which the phase-1 learning rates ramp up after a warm start (see fromWeights). */
const WARM_START_RAMP = 100;
/** Lower bound asked of σ_raw on the solid plateau (see fieldsStep). */
const SOLID_HINGE = 60;
/** Checkpoint names of the factor probe's tensors. */
const PROBE_WEIGHT = 'factor_probe.weight';
const PROBE_BIAS = 'factor_probe.bias';

export class DemoTrainError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Robust-enough 32-bit mix of (seed, phase, step) for per-step random streams. */
function stepSeed(seed: number, phase: number, step: number): number {
  let h = (seed ^ 0x9e3779b9) >>> 0;
  for (const v of [phase, step]) {
    h = Math.imul(h ^ v, 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
  }
  return h;
}

/** The random conditioning camera of a training sample: frontal half the time, else a jittered pose. */
function conditioningCamera(rng: Random): Float32Array {
  if (rng.next() < 0.5) return frontalCamera();
  return cameraFromYawPitch(rng.normal() * 0.3, rng.normal() * 0.15);
}

/** Weights trained in phase 1. */
function isFieldParameter(name: string, config: EG3DConfig, fastPlanes: boolean): boolean {
  if (name.startsWith('decoder.')) return true;
  if (name.startsWith('backbone.mapping.')) return !name.endsWith('w_avg');
  if (!name.startsWith('backbone.synthesis.')) return false;
  if (name.endsWith('resample_filter') || name.endsWith('noise_const') || name.endsWith('noise_strength')) return false; // noise stays off
  if (!fastPlanes) return true;
  const res = Number(/^backbone\.synthesis\.b(\d+)\./.exec(name)?.[1]);
  return res <= 64 && res <= config.backbone.resolution;
}

function isSrParameter(name: string): boolean {
  return name.startsWith('superresolution.') && !name.endsWith('resample_filter') && !name.endsWith('noise_const') && !name.endsWith('noise_strength');
}

export class DemoTrainer {
  readonly config: EG3DConfig;
  stepFields = 0;
  stepSr = 0;
  /** Recent loss values per phase (for summaries). */
  readonly history: { fields: number[]; sr: number[] } = { fields: [], sr: [] };
  private readonly weights: WeightMap;
  private readonly fieldVars = new Map<string, tf.Variable>();
  private readonly srVars = new Map<string, tf.Variable>();
  /** The factor probe (see DemoTrainOptions.factorProbeWeight): training state, not generator weights. */
  private readonly probeVars = new Map<string, tf.Variable>();
  /** Optimizers per parameter group (mapping + backbone, Tri-D, G2, factor probe). */
  private readonly adams: Record<'fields' | 'decoder' | 'sr' | 'probe', NamedAdam>;
  private readonly upsample: SparseRows;
  /** Phase-1 step at which a warm start (fresh optimizers on trained weights) began, if any. */
  private warmStartStep: number | null = null;

  private constructor(
    readonly options: DemoTrainOptions,
    weights: WeightMap,
  ) {
    this.config = demoConfig();
    this.weights = weights;
    for (const [name, t] of weights) {
      const field = isFieldParameter(name, this.config, options.fastPlanes);
      const sr = isSrParameter(name);
      if (!field && !sr) continue;
      const v = tf.variable(t, true);
      t.dispose();
      weights.set(name, v);
      (field ? this.fieldVars : this.srVars).set(name, v);
    }
    // Zero probe weights: the probe starts as the constant mean and leaves the mapping alone until it learns.
    this.probeVars.set(PROBE_WEIGHT, tf.variable(tf.zeros([this.config.wDim, NUM_HEAD_FACTORS]), true));
    this.probeVars.set(PROBE_BIAS, tf.variable(tf.fill([NUM_HEAD_FACTORS], 0.5), true));
    const adam = (lr: number, vars: Map<string, tf.Variable>) => new NamedAdam({ learningRate: lr, beta1: 0.9, beta2: 0.99, epsilon: 1e-8 }, vars);
    const isDecoder = (k: string) => k.startsWith('decoder.');
    this.adams = {
      fields: adam(options.learningRate, new Map([...this.fieldVars].filter(([k]) => !isDecoder(k)))),
      decoder: adam(options.decoderLearningRate, new Map([...this.fieldVars].filter(([k]) => isDecoder(k)))),
      sr: adam(options.srLearningRate, this.srVars),
      probe: adam(options.factorProbeLearningRate, this.probeVars),
    };
    this.upsample = sparseRows(upsampleMatrix(64, 2));
  }

  /** A fresh run: official random initialisation from the seed, then the demo's zero ToRGB starts. */
  static create(options: DemoTrainOptions): DemoTrainer {
    const config = demoConfig();
    const weights = initRandomWeights(config, new Random(options.seed));
    const zeroOut = (name: string) => {
      const t = weights.get(name)!;
      weights.set(name, tf.zerosLike(t));
      t.dispose();
    };
    for (const name of weights.keys()) {
      // G2 starts as upsample2d(image_raw): its ToRGB layers output zero.
      if (/^superresolution\.block\d\.torgb\.weight$/.test(name)) zeroOut(name);
      // Fast planes: the 128²/256² blocks contribute nothing to the planes (exact 64² training).
      if (options.fastPlanes && /^backbone\.synthesis\.b(128|256)\.torgb\.(weight|bias)$/.test(name)) zeroOut(name);
    }
    // Tri-D starts with empty space (σ_raw bias = SIGMA_RAW_EMPTY): most of the box is empty.
    const b2 = weights.get('decoder.net.2.bias')!;
    const b2data = b2.dataSync().slice();
    b2data[0] = SIGMA_RAW_EMPTY;
    weights.set('decoder.net.2.bias', tf.tensor1d(b2data));
    b2.dispose();
    return new DemoTrainer(options, weights);
  }

  get phase(): DemoPhase {
    if (this.stepFields < this.options.fieldSteps) return 'fields';
    if (this.stepSr < this.options.srSteps) return 'sr';
    return 'done';
  }

  /** The current weights as a generator (shares the trainer's tensors: use it, do not dispose it). */
  generator(): EG3DGenerator {
    return EG3DGenerator.create(this.config, new Map(this.weights)).withWeights(new Map());
  }

  /** One step of the current phase. */
  async step(): Promise<DemoStepResult> {
    const phase = this.phase;
    if (phase === 'done') throw new DemoTrainError('training is finished');
    return phase === 'fields' ? this.fieldsStep() : this.srStep();
  }

  /** ws → backbone image up to the 64² block (the rest of the skip path is the fixed ×4 up-sampling). */
  private backbone64(ws: tf.Tensor3D): tf.Tensor4D {
    const [n, , d] = ws.shape;
    let x: tf.Tensor4D | null = null;
    let img: tf.Tensor4D | null = null;
    for (const b of this.config.backbone.blocks) {
      if (b.resolution > 64) break;
      const rows = (b.inChannels === 0 ? 1 : 2) + 1;
      const blockWs = tf.slice(ws, [0, b.wOffset, 0], [n, rows, d]) as tf.Tensor3D;
      const r = synthesisBlock(
        this.weights,
        { prefix: `backbone.synthesis.b${b.resolution}`, kind: b.inChannels === 0 ? 'const' : 'up', convClamp: this.config.backbone.convClamp },
        x,
        img,
        blockWs,
        { noiseMode: 'none' },
      );
      x = r.x;
      img = r.img;
    }
    return img!;
  }

  /**
   * ws → tri-plane features at the points (`[N·P, 32]`), differentiable w.r.t. the phase-1 weights:
   * what the generator's planes + tri-plane sampler give at those points (tests compare the two).
   */
  trainableFeatures(ws: tf.Tensor3D, points: Float32Array[]): tf.Tensor2D {
    const boxWarp = this.config.rendering.boxWarp;
    if (this.options.fastPlanes) return sampleUpsampledTriplanesTrainable(splitPlanes(this.backbone64(ws)), points, this.upsample, boxWarp);
    return sampleTriplanesTrainable(splitPlanes(runBackbone(this.config, this.weights, ws, { noiseMode: 'none' })), points, boxWarp);
  }

  private async fieldsStep(): Promise<DemoStepResult> {
    const t0 = performance.now();
    const o = this.options;
    const rng = new Random(stepSeed(o.seed, 1, this.stepFields));
    const B = o.batch;
    const P = o.pointsPerHead;
    const z = new Float32Array(B * this.config.zDim);
    const cams: Float32Array[] = [];
    const pts: Float32Array[] = [];
    const lo = new Float32Array(B * P);
    const hi = new Float32Array(B * P);
    const rgbGt = new Float32Array(B * P * 3);
    const visible = new Float32Array(B * P);
    const slope = targetSlopeAt(o, this.stepFields);
    // Each head's factors: what its ground truth is made from, and the factor probe's targets.
    const factors = new Float32Array(B * NUM_HEAD_FACTORS);
    for (let b = 0; b < B; b++) {
      const zb = rng.normalArray(this.config.zDim);
      z.set(zb, b * this.config.zDim);
      cams.push(conditioningCamera(rng));
      const u = headUniformsFromLatent(zb);
      factors.set(u, b * NUM_HEAD_FACTORS);
      const s = samplePoints(new ProceduralHead(headParamsFromUniforms(u)), rng, { count: P, band: o.surfaceBand, uniformFraction: o.uniformFraction, faceFraction: o.faceFraction });
      pts.push(s.points);
      rgbGt.set(s.rgb, b * P * 3);
      for (let i = 0; i < P; i++) {
        const v = trainingSigmaTarget(s.sdf[i], slope);
        // Clamped regression: at the empty/solid plateaus only the wrong side is penalised. Deep
        // inside, any σ_raw ≥ SOLID_HINGE renders the same (the ray is ~90 % absorbed by then), so
        // the plateau asks for that much rather than the full SIGMA_RAW_SOLID.
        lo[b * P + i] = v <= SIGMA_RAW_EMPTY ? -1e9 : Math.min(v, SOLID_HINGE);
        hi[b * P + i] = v >= SIGMA_RAW_SOLID ? 1e9 : v;
        visible[b * P + i] = s.sigmaRaw[i] > SIGMA_RAW_EMPTY ? 1 : 0; // colour is defined where the true field is
      }
    }
    const terms: Record<string, number> = { density: 0, colour: 0 };
    const useProbe = o.factorProbeWeight > 0;
    const vars = [...this.fieldVars.values(), ...(useProbe ? this.probeVars.values() : [])];
    const nameToKey = new Map([...this.fieldVars, ...this.probeVars].map(([k, v]) => [v.name, k]));
    const lossT = tf.tidy(() => {
      const zT = tf.tensor2d(z, [B, this.config.zDim]);
      const cT = camerasTensor(cams);
      const loT = tf.tensor1d(lo), hiT = tf.tensor1d(hi), rgbT = tf.tensor2d(rgbGt, [B * P, 3]), visT = tf.tensor2d(visible, [B * P, 1]);
      const { value, grads } = tf.variableGrads(() => {
        const ws = runMapping(this.config, this.weights, zT, cT);
        const feats = this.trainableFeatures(ws, pts);
        const { sigma, feat } = decodePoints(feats, this.weights, this.config.rendering.decoderLrMul);
        // density: squared clamped error in units of DENSITY_UNIT (σ_raw spans −4 … 150). Quadratic,
        // not L1: with errors of tens of units an L1 loss only sees signs and settles on a constant.
        const err = tf.div(tf.add(tf.relu(tf.sub(loT, sigma)), tf.relu(tf.sub(sigma, hiT))), DENSITY_UNIT);
        const density = tf.mean(tf.square(err));
        // colour: L1 on the first 3 features (image_raw = 2F − 1) where the head is not empty
        const rgb = tf.slice(feat, [0, 0], [B * P, 3]);
        const colour = tf.div(tf.sum(tf.mul(tf.abs(tf.sub(rgb, rgbT)), visT)), tf.add(tf.mul(tf.sum(visT), 3), 1));
        terms.density = density.dataSync()[0];
        terms.colour = colour.dataSync()[0];
        const fieldLoss = tf.add(density, tf.mul(colour, o.colourWeight));
        if (!useProbe) return fieldLoss as tf.Scalar;
        const w = tf.reshape(tf.slice(ws, [0, 0, 0], [B, 1, this.config.wDim]), [B, this.config.wDim]);
        const predicted = tf.add(tf.matMul(w, this.probeVars.get(PROBE_WEIGHT)!), this.probeVars.get(PROBE_BIAS)!);
        const probe = tf.mean(tf.square(tf.sub(predicted, tf.tensor2d(factors, [B, NUM_HEAD_FACTORS]))));
        terms.probe = probe.dataSync()[0];
        return tf.add(fieldLoss, tf.mul(probe, o.factorProbeWeight)) as tf.Scalar;
      }, vars);
      const named = new Map<string, tf.Tensor>();
      for (const [n, g] of Object.entries(grads)) named.set(nameToKey.get(n)!, g);
      // After a warm start the optimizers' moments are empty: ramp the rates up over WARM_START_RAMP
      // steps, or Adam's first steps (update ≈ ±lr in every weight) would jolt the trained field.
      const ramp = this.warmStartStep === null ? 1 : Math.min(1, (this.stepFields - this.warmStartStep + 1) / WARM_START_RAMP);
      const lrScale = ramp * (this.stepFields >= Math.round(o.lrDropAt * o.fieldSteps) ? o.lrDropFactor : 1);
      this.adams.fields.apply(named, lrScale, (k) => (/^backbone\.mapping\.fc\d+\./.test(k) ? o.mappingLrBoost : 1));
      this.adams.decoder.apply(named, lrScale);
      if (useProbe) this.adams.probe.apply(named);
      return value;
    });
    const loss = (await lossT.data())[0];
    lossT.dispose();
    if (!Number.isFinite(loss)) throw new DemoTrainError(`phase 1 loss is ${loss} at step ${this.stepFields}`);
    this.stepFields++;
    this.pushHistory(this.history.fields, loss);
    return { phase: 'fields', step: this.stepFields, loss, terms: { ...terms, slope }, ms: performance.now() - t0 };
  }

  private async srStep(): Promise<DemoStepResult> {
    const t0 = performance.now();
    const o = this.options;
    const rng = new Random(stepSeed(o.seed, 2, this.stepSr));
    const B = o.srBatch;
    const S = this.config.imgResolution;
    const z = new Float32Array(B * this.config.zDim);
    const views: Float32Array[] = [];
    const target = new Float32Array(B * S * S * 3);
    for (let b = 0; b < B; b++) {
      const zb = rng.normalArray(this.config.zDim);
      z.set(zb, b * this.config.zDim);
      const view = cameraFromYawPitch((2 * rng.next() - 1) * 0.55, (2 * rng.next() - 1) * 0.3);
      views.push(view);
      target.set(renderGroundTruth(new ProceduralHead(headParamsFromLatent(zb)), view, { resolution: S }).rgb, b * S * S * 3);
    }
    const gen = this.generator();
    // The generator's own raw render (constants for this phase), through the official code path.
    const { ws, imageRaw, features } = tf.tidy(() => {
      const zT = tf.tensor2d(z, [B, this.config.zDim]);
      const ws = gen.mapping(zT, camerasTensor(views.map(() => frontalCamera())));
      const planes = gen.planes(ws, { noiseMode: 'const' });
      const r = gen.render(planes, camerasTensor(views), { draws: { kind: 'deterministic' } });
      const R = r.features.shape[1];
      return { ws, imageRaw: tf.slice(r.features, [0, 0, 0, 0], [B, R, R, 3]) as tf.Tensor4D, features: r.features };
    });
    const vars = [...this.srVars.values()];
    const nameToKey = new Map([...this.srVars].map(([k, v]) => [v.name, k]));
    const lossT = tf.tidy(() => {
      const targetT = tf.tensor4d(target, [B, S, S, 3]);
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(gen.superresolve(imageRaw, features, ws), targetT))) as tf.Scalar, vars);
      const named = new Map<string, tf.Tensor>();
      for (const [n, g] of Object.entries(grads)) named.set(nameToKey.get(n)!, g);
      this.adams.sr.apply(named);
      return value;
    });
    tf.dispose([ws, imageRaw, features]);
    const loss = (await lossT.data())[0];
    lossT.dispose();
    if (!Number.isFinite(loss)) throw new DemoTrainError(`phase 2 loss is ${loss} at step ${this.stepSr}`);
    this.stepSr++;
    this.pushHistory(this.history.sr, loss);
    return { phase: 'sr', step: this.stepSr, loss, terms: { l1: loss }, ms: performance.now() - t0 };
  }

  private pushHistory(h: number[], v: number): void {
    h.push(v);
    if (h.length > 200) h.shift();
  }

  /** w_avg as StyleGAN tracks it: the mean mapping output over many latents (frontal conditioning). */
  private computeWAvg(count = 2048): void {
    const rng = new Random(stepSeed(this.options.seed, 3, 0));
    const wAvg = tf.tidy(() => {
      const chunk = 256;
      let sum = tf.zeros([this.config.wDim]);
      for (let i = 0; i < count; i += chunk) {
        const z = tf.tensor2d(rng.normalArray(chunk * this.config.zDim), [chunk, this.config.zDim]);
        const c = camerasTensor(Array.from({ length: chunk }, () => frontalCamera()));
        const ws = runMapping(this.config, this.weights, z, c);
        sum = tf.add(sum, tf.sum(tf.slice(ws, [0, 0, 0], [chunk, 1, this.config.wDim]).reshape([chunk, this.config.wDim]), 0));
      }
      return tf.div(sum, count);
    });
    const old = this.weights.get('backbone.mapping.w_avg')!;
    this.weights.set('backbone.mapping.w_avg', wAvg);
    old.dispose();
  }

  /** The shipped file: official key names, PyTorch layouts, construction kwargs + training summary in the metadata. */
  async exportSafetensors(summary: Record<string, unknown> = {}): Promise<Uint8Array> {
    this.computeWAvg();
    const tensors = new Map<string, TensorToWrite>();
    for (const s of tensorSpecs(this.config)) tensors.set(s.name, tfToTorch(s.name, getWeight(this.weights, s.name)));
    const metadata: Record<string, string> = {
      name: 'Adapter3D demo EG3D (procedural heads)',
      description:
        'A reduced EG3D (TriPlaneGenerator) trained by this project on procedurally generated 3D heads (src/demo). ' +
        'Not the NVIDIA EG3D model: load a real EG3D network pickle for real faces.',
      format: 'EG3D G_ema state dict (official key names, PyTorch layouts)',
      init_kwargs: JSON.stringify(demoInitKwargs()),
      rendering_kwargs: JSON.stringify(demoRenderingKwargs()),
      neural_rendering_resolution: String(DEMO_NEURAL_RENDERING_RESOLUTION),
      training: JSON.stringify({
        script: 'npm run train:demo',
        options: this.options,
        field_steps: this.stepFields,
        sr_steps: this.stepSr,
        final_field_loss: mean(this.history.fields.slice(-50)),
        final_sr_loss: mean(this.history.sr.slice(-20)),
        ...(this.warmStartStep === null ? {} : { warm_start_step: this.warmStartStep }),
        ...summary,
      }),
    };
    return writeSafetensors(tensors, metadata);
  }

  /** Everything needed to resume: weights (official names, PyTorch layouts), both optimizers, counters. */
  async serializeCheckpoint(): Promise<Uint8Array> {
    const tensors = new Map<string, TensorToWrite>();
    for (const s of tensorSpecs(this.config)) tensors.set(s.name, tfToTorch(s.name, getWeight(this.weights, s.name)));
    const addAdam = (prefix: string, st: AdamState) => {
      for (const [k, m] of st.m) tensors.set(`${prefix}.m.${k}`, { shape: [m.length], data: m });
      for (const [k, v] of st.v) tensors.set(`${prefix}.v.${k}`, { shape: [v.length], data: v });
    };
    for (const [name, v] of this.probeVars) tensors.set(name, { shape: v.shape, data: (await v.data()) as Float32Array });
    const states: Record<string, AdamState> = {};
    for (const [group, opt] of Object.entries(this.adams)) {
      states[group] = await opt.getState();
      addAdam(`adam_${group}`, states[group]);
    }
    return writeSafetensors(tensors, {
      format: 'demo-eg3d-training-checkpoint',
      options: JSON.stringify(this.options),
      step_fields: String(this.stepFields),
      step_sr: String(this.stepSr),
      adam_steps: JSON.stringify(Object.fromEntries(Object.entries(states).map(([g, st]) => [g, st.step]))),
      history: JSON.stringify(this.history),
      ...(this.warmStartStep === null ? {} : { warm_start_step: String(this.warmStartStep) }),
    });
  }

  /**
   * Resumes from `serializeCheckpoint` output. Options come from the checkpoint except those given in
   * `overrides` (step targets, learning rates, ...; a run resumed with overrides is no longer the same
   * function of its seed as an uninterrupted one, and its options record the new values).
   */
  static async fromCheckpoint(source: ByteSource, overrides: Partial<DemoTrainOptions> = {}): Promise<DemoTrainer> {
    const file = await SafetensorsFile.open(source);
    if (file.metadata.format !== 'demo-eg3d-training-checkpoint') throw new DemoTrainError(`${source.name} is not a demo training checkpoint`);
    const options: DemoTrainOptions = withOptionDefaults({ ...(JSON.parse(file.metadata.options) as Partial<DemoTrainOptions>), ...stripUndefined(overrides) });
    const weights = await readGeneratorWeights(file);
    const trainer = new DemoTrainer(options, weights);
    const steps = JSON.parse(file.metadata.adam_steps ?? '{}') as Record<string, number>;
    const readAdam = async (prefix: string, names: string[], step: number): Promise<AdamState> => {
      const m = new Map<string, Float32Array>();
      const v = new Map<string, Float32Array>();
      for (const k of names) {
        m.set(k, (await file.readFloat32(`${prefix}.m.${k}`)).data);
        v.set(k, (await file.readFloat32(`${prefix}.v.${k}`)).data);
      }
      return { step, m, v };
    };
    for (const [group, opt] of Object.entries(trainer.adams)) {
      if (steps[group] === undefined) continue; // a group the checkpoint predates (the probe): fresh
      const st = await opt.getState();
      opt.setState(await readAdam(`adam_${group}`, [...st.m.keys()], steps[group]));
    }
    for (const [name, v] of trainer.probeVars) if (file.has(name)) v.assign(tf.tensor((await file.readFloat32(name)).data, v.shape));
    trainer.stepFields = Number(file.metadata.step_fields);
    if (file.metadata.warm_start_step !== undefined) trainer.warmStartStep = Number(file.metadata.warm_start_step);
    trainer.stepSr = Number(file.metadata.step_sr);
    const h = JSON.parse(file.metadata.history ?? '{}') as { fields?: number[]; sr?: number[] };
    trainer.history.fields.push(...(h.fields ?? []));
    trainer.history.sr.push(...(h.sr ?? []));
    return trainer;
  }

  /**
   * Warm start: continues training from exported generator weights (`exportSafetensors` output, e.g.
   * the shipped file) with fresh optimizers. Options are the file's recorded training options with
   * `overrides` on top; the phase-1 step count continues from the file's. If phase 1 goes on
   * (overrides raise `fieldSteps`), phase 2 runs its `srSteps` again afterwards, from the file's G2.
   */
  static async fromWeights(source: ByteSource, overrides: Partial<DemoTrainOptions> = {}): Promise<DemoTrainer> {
    const file = await SafetensorsFile.open(source);
    const training = file.metadata.training ? (JSON.parse(file.metadata.training) as { options?: Partial<DemoTrainOptions>; field_steps?: number; sr_steps?: number }) : null;
    if (!training?.options || training.field_steps === undefined) throw new DemoTrainError(`${source.name} is not an exported demo generator (no training metadata)`);
    const options = withOptionDefaults({ ...training.options, ...stripUndefined(overrides) });
    const weights = await readGeneratorWeights(file);
    const trainer = new DemoTrainer(options, weights);
    trainer.stepFields = training.field_steps;
    trainer.stepSr = options.fieldSteps > training.field_steps ? 0 : (training.sr_steps ?? 0);
    trainer.warmStartStep = training.field_steps;
    return trainer;
  }

  dispose(): void {
    for (const opt of Object.values(this.adams)) opt.dispose();
    for (const t of this.weights.values()) t.dispose();
    for (const t of this.probeVars.values()) t.dispose();
    this.weights.clear();
  }
}

/** Every generator tensor of a demo checkpoint or export (official names, PyTorch layouts → tfjs). */
async function readGeneratorWeights(file: SafetensorsFile): Promise<WeightMap> {
  const weights: WeightMap = new Map();
  for (const s of tensorSpecs(demoConfig())) {
    const { shape, data } = await file.readFloat32(s.name);
    weights.set(s.name, torchToTf(s.name, shape, data));
  }
  return weights;
}

function mean(a: number[]): number | null {
  return a.length ? a.reduce((s, v) => s + v, 0) / a.length : null;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

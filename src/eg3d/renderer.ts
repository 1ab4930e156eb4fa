/**
 * EG3D's volume renderer (ImportanceRenderer + MipRayMarcher2, spec A.9), for tri-planes
 * `[N, 3, H, W, C]` and cameras `[N, 25]`:
 *
 *  1. rays through the pixel centres (rays.ts);
 *  2. stratified depths t_k = start + k·Δ + jitter·Δ (Δ = (end − start)/(D − 1)), or the same in
 *     disparity space; `ray_start = ray_end = 'auto'` intersects the rays with the tri-plane box;
 *  3. tri-plane features → decoder (σ, 32 features) at every sample;
 *  4. importance sampling from the coarse weights (max-pool/avg-pool smoothing + 0.01, PDF over the
 *     inner weights + 1e−5, piece-wise linear CDF inversion with searchsorted-right), no gradient;
 *  5. the coarse and fine samples merged and sorted by depth, composited with MipNeRF midpoints.
 *
 * Gradients flow only into the decoder tensors. The tri-planes and all sample positions are
 * constants (as in the official code, which samples under `no_grad`). Rays are processed in chunks
 * of `chunkRays`; chunking does not change any value (the one global quantity, the depth clamp
 * range over the whole batch, is applied after all chunks).
 *
 * This file is EG3D's `ImportanceRenderer` (the coarse / fine orchestration and the decoder calls,
 * `renderer.py`); the compositing is MipRayMarcher2 (ray-marcher.ts), the sample depths and the
 * importance sampling are ray-sampler.ts, the rays rays.ts, the tri-plane lookup triplane.ts.
 *
 * Implementation notes (measured on wasm): the sampling plan (importance inversion, depth sort)
 * runs in plain JS on CPU-side backends and as tensor ops on webgpu; the decoder, the merge and
 * the compositing are single ops with hand-written backward passes, because every taped tfjs op
 * on wasm keeps copies of its inputs until the backward pass — a training render keeps ~270 bytes
 * per sample (the 32 sampled features and the 33 decoder outputs), ~420 MiB at 128² × 96.
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import { permuteRows } from '../nn/gather.ts';
import { decodePacked, type DecoderWeights } from './decoder.ts';
import { decodeAlongRays } from './fused-decoder.ts';
import { generateRays, rayBoxLimits } from './rays.ts';
import { compositePacked, compositeWeights, splitFused } from './ray-marcher.ts';
import { compositeFused, FUSED_EXTRA_COLUMNS, fusedColumns, importancePlanKernel, stratifiedDepthsKernel, type StratifiedRange } from './ray-kernels-webgpu.ts';
import { importanceDepths, importanceInvert, mergeOrder, stratifiedDepths } from './ray-sampler.ts';
import { createTriplaneSampler, planeGeometry, type TriplaneImplementation, type TriplaneSampler } from './triplane.ts';
import { isWebGPUBackend } from './triplane-webgpu.ts';
import { InternalError } from '../core/errors.ts';

export class RenderSettingsError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Neural rendering settings: the resolution plus every renderer field of EG3D's `rendering_kwargs`. */
export interface RenderSettings {
  /** Neural rendering resolution R (rays = R²). */
  resolution: number;
  /** `depth_resolution`: stratified (coarse) samples per ray. */
  depthResolution: number;
  /** `depth_resolution_importance`: importance (fine) samples per ray; 0 disables the fine pass. */
  depthResolutionImportance: number;
  /** `ray_start` / `ray_end`: distances along the ray, or both 'auto' (intersect the tri-plane box). */
  rayStart: number | 'auto';
  rayEnd: number | 'auto';
  /** `box_warp`: side length of the tri-plane cube (points are scaled by 2/box_warp). */
  boxWarp: number;
  /** `disparity_space_sampling`: stratify in 1/t instead of t. */
  disparitySpaceSampling: boolean;
  /** `clamp_mode`: density activation; MipRayMarcher2 supports only 'softplus'. */
  clampMode: string;
  /** `white_back`: composite over white (features + 1 − Σw before the 2F − 1 scaling). */
  whiteBack: boolean;
  /** `decoder_lr_mul`: learning-rate multiplier of the decoder's FC layers (also scales the weights at run time). */
  decoderLrMul: number;
  /** Rays per chunk (memory bound; does not change results). */
  chunkRays: number;
  /** Tri-plane sampler implementation (default: WGSL kernel on webgpu, plain TS elsewhere). */
  triplaneImpl?: TriplaneImplementation;
  /**
   * Per-sample-point work (points, tri-plane features, decoder): `fused` = one WGSL kernel forward
   * and five backward (fused-decoder.ts, webgpu only); `generic` = the tri-plane sampler, then
   * `decodePacked`. Default `auto`: fused on webgpu unless `triplaneImpl` is 'cpu'.
   */
  pointImpl?: 'auto' | 'fused' | 'generic';
  /**
   * Per-ray work (importance-sampling plan, coarse/fine merge, compositing): `fused` = one WGSL kernel
   * for the plan, one for the merged compositing forward and two backward (ray-kernels-webgpu.ts,
   * webgpu only); `generic` = tf ops (on webgpu the oracle) and the plan in plain JS on CPU-side
   * backends. Default `auto`: fused on webgpu.
   */
  rayImpl?: 'auto' | 'fused' | 'generic';
}

/**
 * Draws for the two random parts of the renderer. `recorded`: the official U(0,1) draws in the
 * official order (`coarseJitter` (n, ray, k), `importanceU` (n·rays + ray, i)); `random`: drawn
 * from `rng` in that same order (all coarse jitter first); `deterministic`: jitter 0.5 and
 * u = linspace(0, 1, Di) (what EG3D's `det=True` would use).
 */
export type RendererDraws =
  | { kind: 'recorded'; coarseJitter: Float32Array; importanceU: Float32Array }
  | { kind: 'random'; rng: Random }
  | { kind: 'deterministic' };

export interface RenderOutput {
  /** [N, R, R, 32]: composited features scaled to 2F − 1 (white_back variant applied); image_raw = [..., 0:3]. */
  features: tf.Tensor4D;
  /** [N, R, R, 1]: expected depth along the ray, NaN → far end, clamped into the batch's depth range. */
  depth: tf.Tensor4D;
}

/** Default rays per chunk: 4096 rays × 96 samples keeps every tensor under ~100 MB. */
export const DEFAULT_CHUNK_RAYS = 4096;

/** Builds `RenderSettings` from an official `rendering_kwargs` dict (snake_case, as in the pickle). */
export function renderSettingsFromKwargs(kwargs: Record<string, unknown>, resolution: number, chunkRays = DEFAULT_CHUNK_RAYS): RenderSettings {
  const num = (k: string, dflt?: number): number => {
    const v = kwargs[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RenderSettingsError(`rendering_kwargs.${k} must be a number (got ${JSON.stringify(v)})`);
    return v;
  };
  const startOrAuto = (k: string): number | 'auto' => (kwargs[k] === 'auto' ? 'auto' : num(k));
  // run_model's optional `density_noise` (σ += N(0, s²) at every sample) is a training regulariser
  // no released configuration sets; refuse it rather than render something else silently.
  if (typeof kwargs.density_noise === 'number' && kwargs.density_noise > 0) {
    throw new RenderSettingsError(`rendering_kwargs.density_noise = ${kwargs.density_noise} is not supported`);
  }
  const s: RenderSettings = {
    resolution,
    depthResolution: num('depth_resolution'),
    depthResolutionImportance: num('depth_resolution_importance', 0),
    rayStart: startOrAuto('ray_start'),
    rayEnd: startOrAuto('ray_end'),
    boxWarp: num('box_warp'),
    disparitySpaceSampling: Boolean(kwargs.disparity_space_sampling ?? false),
    clampMode: String(kwargs.clamp_mode ?? 'softplus'),
    whiteBack: Boolean(kwargs.white_back ?? false),
    decoderLrMul: num('decoder_lr_mul', 1),
    chunkRays,
  };
  validateSettings(s);
  return s;
}

function validateSettings(s: RenderSettings): void {
  const posInt = (v: number, name: string, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new RenderSettingsError(`${name} must be an integer ≥ ${min} (got ${v})`);
  };
  posInt(s.resolution, 'resolution', 1);
  posInt(s.depthResolution, 'depthResolution', 2);
  posInt(s.depthResolutionImportance, 'depthResolutionImportance', 0);
  posInt(s.chunkRays, 'chunkRays', 1);
  if (s.depthResolutionImportance > 0 && s.depthResolution < 4) {
    throw new RenderSettingsError(`importance sampling needs depthResolution ≥ 4 (the PDF uses the inner D − 3 weights; got ${s.depthResolution})`);
  }
  if (s.clampMode !== 'softplus') throw new RenderSettingsError(`clamp_mode '${s.clampMode}' is not supported: MipRayMarcher2 only supports 'softplus'`);
  if ((s.rayStart === 'auto') !== (s.rayEnd === 'auto')) throw new RenderSettingsError(`ray_start and ray_end must both be 'auto' or both numbers (got ${s.rayStart}, ${s.rayEnd})`);
  if (s.rayStart === 'auto' && s.disparitySpaceSampling) {
    // The official code would fail on this combination (per-ray limits do not broadcast in its disparity branch).
    throw new RenderSettingsError(`disparity_space_sampling is not supported with ray_start = ray_end = 'auto'`);
  }
  if (typeof s.rayStart === 'number' && typeof s.rayEnd === 'number') {
    if (!Number.isFinite(s.rayStart) || !Number.isFinite(s.rayEnd)) throw new RenderSettingsError(`ray_start/ray_end must be finite (got ${s.rayStart}, ${s.rayEnd})`);
    if (s.disparitySpaceSampling && (s.rayStart <= 0 || s.rayEnd <= 0)) throw new RenderSettingsError('disparity-space sampling needs positive ray_start and ray_end');
  }
  if (!(s.boxWarp > 0)) throw new RenderSettingsError(`box_warp must be positive (got ${s.boxWarp})`);
  if (!(s.decoderLrMul > 0)) throw new RenderSettingsError(`decoder_lr_mul must be positive (got ${s.decoderLrMul})`);
}

/** Materialises the draws as the two official arrays (N·R²·D jitter, N·R²·Di importance u). */
export function resolveDraws(draws: RendererDraws, batch: number, rays: number, d: number, di: number): { jitter: Float32Array; u: Float32Array } {
  const nj = batch * rays * d;
  const nu = batch * rays * di;
  switch (draws.kind) {
    case 'recorded':
      if (draws.coarseJitter.length !== nj) throw new RenderSettingsError(`recorded coarseJitter has ${draws.coarseJitter.length} values, expected N·R²·D = ${nj}`);
      if (draws.importanceU.length !== nu) throw new RenderSettingsError(`recorded importanceU has ${draws.importanceU.length} values, expected N·R²·Di = ${nu}`);
      return { jitter: draws.coarseJitter, u: draws.importanceU };
    case 'random':
      return { jitter: draws.rng.uniformArray(nj), u: draws.rng.uniformArray(nu) };
    case 'deterministic': {
      const jitter = new Float32Array(nj).fill(0.5);
      const u = new Float32Array(nu);
      for (let r = 0; r < batch * rays; r++) for (let i = 0; i < di; i++) u[r * di + i] = di > 1 ? i / (di - 1) : 0;
      return { jitter, u };
    }
  }
}

/**
 * Runs `fn` off the gradient tape and returns its result as a constant (the equivalent of the
 * official `torch.no_grad()` + `.detach()`). Work inside a customGrad forward is not recorded and
 * keeps nothing for backprop; `anchor` must itself be a constant (not derived from trainable
 * tensors), so the result is not connected to them either.
 */
function asConstant(anchor: tf.Tensor, fn: () => tf.Tensor): tf.Tensor {
  const op = tf.customGrad((a) => ({ value: fn(), gradFunc: () => tf.zerosLike(a as tf.Tensor) }));
  return op(anchor);
}

interface ChunkInputs {
  sampler: TriplaneSampler;
  /** `[N, 3, H, W, C]` (the fused path samples them itself). */
  planes: tf.Tensor;
  weights: DecoderWeights;
  settings: RenderSettings;
  n: number;
  origins: tf.Tensor2D; // [B, 3]
  directions: tf.Tensor2D; // [B, 3]
  /** Per-ray start/end `[B, 1]` ('auto' mode) or null for the scalar settings. */
  start: tf.Tensor2D | null;
  end: tf.Tensor2D | null;
  jitter: tf.Tensor2D; // [B, D]
  u: tf.Tensor2D | null; // [B, Di]
}

/** Whether the per-point work runs as the fused WGSL kernels (`RenderSettings.pointImpl`). */
export function usesFusedPoints(settings: RenderSettings): boolean {
  const impl = settings.pointImpl ?? 'auto';
  if (impl === 'fused' && !isWebGPUBackend()) throw new RenderSettingsError(`pointImpl 'fused' needs the webgpu backend (active: ${tf.getBackend()})`);
  return impl === 'fused' || (impl === 'auto' && isWebGPUBackend() && settings.triplaneImpl !== 'cpu');
}

/** Decoder outputs `[B, K, 33]` at depths `[B, K]` along the chunk's rays. */
function evaluate(c: ChunkInputs, depths: tf.Tensor2D): tf.Tensor3D {
  if (usesFusedPoints(c.settings)) {
    // Points, features and decoder in one kernel; positions and planes are constants there too.
    const rays = { origins: c.origins, directions: c.directions, depths };
    return decodeAlongRays(c.planes, c.n, c.settings.boxWarp, rays, c.weights, { lrMul: c.settings.decoderLrMul });
  }
  const [b, k] = depths.shape;
  // Sample positions and tri-plane features are constants: computed off the tape.
  const features = asConstant(depths, () => {
    const points = tf.reshape(tf.add(tf.expandDims(c.origins, 1), tf.mul(tf.expandDims(depths, 2), tf.expandDims(c.directions, 1))), [b * k, 3]) as tf.Tensor2D;
    return c.sampler.sample(c.n, points);
  }) as tf.Tensor2D;
  return decodePacked<tf.Tensor3D>(features, c.weights, { lrMul: c.settings.decoderLrMul, outputShape: [b, k, -1] });
}

/**
 * Coarse `[B, D, C]` and fine `[B, Di, C]` decoder outputs merged into depth order: `rows[i]` is
 * the row of the concatenation `[B·(D + Di), C]` that goes to sorted position i. One op, so the
 * tape keeps only the indices; both directions are scatters (fast on wasm, see `permuteRows`).
 */
function mergeSorted(coarse: tf.Tensor3D, fine: tf.Tensor3D, rows: tf.Tensor1D): tf.Tensor3D {
  const [b, d, ch] = coarse.shape;
  const di = fine.shape[1];
  const k = d + di;
  const op = tf.customGrad((co, fi, save) => {
    const targets = tf.reshape(rows, [b * k, 1]);
    (save as tf.GradSaveFunc)([targets]);
    const merged = tf.reshape(tf.concat([co as tf.Tensor3D, fi as tf.Tensor3D], 1), [b * k, ch]);
    return {
      value: tf.reshape(permuteRows(merged, rows), [b, k, ch]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          // d merged[rows[i]] = dy[i]
          const g = tf.reshape(tf.scatterND(saved[0], tf.reshape(dy, [b * k, ch]), [b * k, ch]), [b, k, ch]);
          return [tf.slice(g, [0, 0, 0], [b, d, ch]), tf.slice(g, [0, d, 0], [b, di, ch])];
        }),
    };
  });
  return op(coarse, fine) as tf.Tensor3D;
}

/** A chunk composited by the fused kernels: `[B, C + 5]` (ray-kernels-webgpu.ts `fusedColumns`), split once for all chunks. */
interface FusedChunk {
  fused: tf.Tensor2D;
}

interface ChunkResult {
  rgb: tf.Tensor2D;
  weightTotal: tf.Tensor2D;
  depth: tf.Tensor2D;
  depthValid: tf.Tensor2D;
  minDepth: tf.Tensor;
  maxDepth: tf.Tensor;
}

/**
 * One chunk of rays. Everything about sample positions is computed off the tape (`asConstant`):
 * besides matching the official `no_grad`, a taped op on wasm keeps copies of its inputs until
 * the backward pass, even when no gradient can flow through it.
 */
function renderChunk(c: ChunkInputs): ChunkResult | FusedChunk {
  if (usesFusedRays(c.settings)) {
    // webgpu: the coarse depths and the sampling plan are one kernel each (constants, off the tape); the
    // merge into depth order happens inside the compositing kernels, which write the gradients back to
    // the coarse and fine rows.
    const range: StratifiedRange = c.start && c.end
      ? { kind: 'per-ray', start: c.start, end: c.end }
      : { kind: 'fixed', start: c.settings.rayStart as number, end: c.settings.rayEnd as number, disparity: c.settings.disparitySpaceSampling };
    const coarseDepths = stratifiedDepthsKernel(c.jitter, range);
    const coarse = evaluate(c, coarseDepths); // [B, D, 33]
    if (!c.u) return { fused: compositeFused(coarse, coarseDepths) };
    const fineDepths = importancePlanKernel(coarse, coarseDepths, c.u);
    return { fused: compositeFused(coarse, coarseDepths, evaluate(c, fineDepths), fineDepths) };
  }
  const coarseDepths = asConstant(c.jitter, () => stratifiedDepths(c.jitter, c.settings, c.start && c.end ? { start: c.start, end: c.end } : null)) as tf.Tensor2D;
  const [b, d] = coarseDepths.shape;
  const coarse = evaluate(c, coarseDepths); // [B, D, 33]
  let depths: tf.Tensor2D;
  let outputs: tf.Tensor3D;
  if (c.u) {
    const u = c.u;
    const di = u.shape[1];
    const k = d + di;
    const coarseSigma = () => tf.reshape(tf.slice(coarse, [0, 0, 0], [b, d, 1]), [b, d]) as tf.Tensor2D;
    let fineDepths: tf.Tensor2D;
    let rows: tf.Tensor1D;
    if (!isWebGPUBackend()) {
      // CPU-side backends: the sampling plan in plain JS (inputs are small, [B, D]).
      const weights = asConstant(coarseDepths, () => compositeWeights(coarseSigma(), coarseDepths).weights);
      const coarseT = coarseDepths.dataSync();
      const fine = importanceInvert(weights.dataSync(), coarseT, u.dataSync(), b, d, di);
      const order = mergeOrder(coarseT, fine, b, d, di);
      fineDepths = tf.tensor2d(fine, [b, di]);
      depths = tf.tensor2d(order.depths, [b, k]);
      rows = tf.tensor1d(order.rows, 'int32');
    } else {
      fineDepths = asConstant(coarseDepths, () => importanceDepths(coarseSigma(), coarseDepths, u)) as tf.Tensor2D;
      // Sort by depth (topk of −t).
      const order = () => tf.topk(tf.neg(tf.concat([coarseDepths, fineDepths], 1)), k, true);
      depths = asConstant(coarseDepths, () => tf.neg(order().values)) as tf.Tensor2D;
      rows = asConstant(coarseDepths, () => {
        const rowStart = tf.mul(tf.reshape(tf.range(0, b, 1, 'int32'), [b, 1]), tf.scalar(k, 'int32'));
        return tf.reshape(tf.add(order().indices, rowStart), [b * k]);
      }) as tf.Tensor1D;
    }
    const fine = evaluate(c, fineDepths);
    // The merge moves the decoder outputs into depth order so that the gradient reaches both passes.
    outputs = mergeSorted(coarse, fine, rows);
  } else {
    depths = coarseDepths;
    outputs = coarse;
  }
  const r = compositePacked(outputs, depths, { impl: 'generic' });
  return { ...r, minDepth: asConstant(depths, () => tf.min(depths)), maxDepth: asConstant(depths, () => tf.max(depths)) };
}

/** Whether the per-ray work runs as the fused WGSL kernels (`RenderSettings.rayImpl`). */
export function usesFusedRays(settings: RenderSettings): boolean {
  const impl = settings.rayImpl ?? 'auto';
  if (impl === 'fused' && !isWebGPUBackend()) throw new RenderSettingsError(`rayImpl 'fused' needs the webgpu backend (active: ${tf.getBackend()})`);
  return impl === 'fused' || (impl === 'auto' && isWebGPUBackend());
}

/** The chunks' results side by side: fused chunks are concatenated first and split once. */
function joinChunks(chunks: (ChunkResult | FusedChunk)[], anchor: tf.Tensor): ChunkResult {
  const fused = chunks.filter((r): r is FusedChunk => 'fused' in r);
  if (fused.length > 0) {
    if (fused.length !== chunks.length) throw new RenderSettingsError('chunks rendered by different paths');
    const all = fused.length === 1 ? fused[0].fused : (tf.concat(fused.map((r) => r.fused), 0) as tf.Tensor2D);
    const cols = all.shape[1] - FUSED_EXTRA_COLUMNS + 1;
    const col = fusedColumns(cols);
    const b = all.shape[0];
    // The clamp range is a constant (as in the generic path): no gradient through the min / max columns.
    const column = (i: number) => tf.slice(all, [0, i], [b, 1]);
    return { ...splitFused(all, cols), minDepth: asConstant(anchor, () => tf.min(column(col.minDepth))), maxDepth: asConstant(anchor, () => tf.max(column(col.maxDepth))) };
  }
  const split = chunks as ChunkResult[];
  const cat = (pick: (r: ChunkResult) => tf.Tensor2D) => (split.length === 1 ? pick(split[0]) : (tf.concat(split.map(pick), 0) as tf.Tensor2D));
  return {
    rgb: cat((r) => r.rgb),
    weightTotal: cat((r) => r.weightTotal),
    depth: cat((r) => r.depth),
    depthValid: cat((r) => r.depthValid),
    minDepth: tf.min(tf.stack(split.map((r) => r.minDepth))),
    maxDepth: tf.max(tf.stack(split.map((r) => r.maxDepth))),
  };
}

/**
 * Renders tri-planes `[N, 3, H, W, C]` from cameras `[N, 25]`. Returns NHWC features (2F − 1, or the
 * white-background variant) and depth. Differentiable w.r.t. the `decoder.*` tensors in `weights`.
 */
export function renderTriplanes(planes: tf.Tensor, weights: DecoderWeights, cameras: tf.Tensor2D, settings: RenderSettings, draws: RendererDraws): RenderOutput {
  validateSettings(settings);
  const geom = planeGeometry(planes);
  if (cameras.rank !== 2 || cameras.shape[1] !== 25 || cameras.shape[0] !== geom.batch) {
    throw new RenderSettingsError(`cameras must be [${geom.batch}, 25] to match the planes (got [${cameras.shape}])`);
  }
  const n = geom.batch;
  const res = settings.resolution;
  const m = res * res;
  const d = settings.depthResolution;
  const di = settings.depthResolutionImportance;
  const { jitter, u } = resolveDraws(draws, n, m, d, di);
  const sampler = createTriplaneSampler(planes, settings.boxWarp, settings.triplaneImpl ?? 'auto');
  try {
    return tf.tidy(() => {
      const rays = generateRays(cameras, res);
      let limits: { start: tf.Tensor3D; end: tf.Tensor3D } | null = null;
      if (settings.rayStart === 'auto') limits = autoRayLimits(rays.origins, rays.directions, settings.boxWarp);
      const chunks: (ChunkResult | FusedChunk)[] = [];
      for (let b = 0; b < n; b++) {
        for (let m0 = 0; m0 < m; m0 += settings.chunkRays) {
          const cb = Math.min(settings.chunkRays, m - m0);
          const ray0 = b * m + m0;
          const rows = (t: tf.Tensor3D, cols: number) => asConstant(t, () => tf.reshape(tf.slice(t, [b, m0, 0], [1, cb, cols]), [cb, cols])) as tf.Tensor2D;
          chunks.push(
            renderChunk({
              sampler,
              planes,
              weights,
              settings,
              n: b,
              origins: rows(rays.origins, 3),
              directions: rows(rays.directions, 3),
              start: limits ? rows(limits.start, 1) : null,
              end: limits ? rows(limits.end, 1) : null,
              jitter: tf.tensor2d(jitter.subarray(ray0 * d, (ray0 + cb) * d), [cb, d]),
              u: di > 0 ? tf.tensor2d(u.subarray(ray0 * di, (ray0 + cb) * di), [cb, di]) : null,
            }),
          );
        }
      }
      const joined = joinChunks(chunks, cameras);
      let rgb: tf.Tensor = joined.rgb;
      if (settings.whiteBack) rgb = tf.sub(tf.add(rgb, 1), joined.weightTotal);
      const features = tf.reshape(tf.sub(tf.mul(rgb, 2), 1), [n, res, res, -1]) as tf.Tensor4D;
      // Depth clamp range over the whole batch (torch.min/max of all sample depths); NaN (Σw = 0) → far end.
      const { minDepth, maxDepth } = joined;
      const valid = tf.cast(joined.depthValid, 'bool');
      const rawDepth = joined.depth;
      const depthFilled = tf.where(valid, rawDepth, tf.broadcastTo(maxDepth, rawDepth.shape));
      const depth = tf.reshape(tf.minimum(tf.maximum(depthFilled, minDepth), maxDepth), [n, res, res, 1]) as tf.Tensor4D;
      return { features, depth };
    });
  } finally {
    sampler.dispose();
  }
}

/**
 * `ray_start = ray_end = 'auto'`: per-ray box intersection; rays that miss the box get the smallest
 * valid start and, as in the official code, the largest valid *start* as their end.
 */
function autoRayLimits(origins: tf.Tensor3D, directions: tf.Tensor3D, boxWarp: number): { start: tf.Tensor3D; end: tf.Tensor3D } {
  return tf.tidy(() => {
    const { start, end } = rayBoxLimits(origins, directions, boxWarp);
    const valid = tf.greater(end, start);
    const anyValid = tf.any(valid);
    const big = tf.fill(start.shape, Number.POSITIVE_INFINITY);
    const minStart = tf.min(tf.where(valid, start, big));
    const maxStart = tf.max(tf.where(valid, start, tf.neg(big)));
    // Without any valid ray the official code leaves (−1, −2) untouched.
    const fillStart = tf.where(anyValid, minStart, tf.scalar(-1));
    const fillEnd = tf.where(anyValid, maxStart, tf.scalar(-2));
    return {
      start: tf.where(valid, start, tf.broadcastTo(fillStart, start.shape)) as tf.Tensor3D,
      end: tf.where(valid, end, tf.broadcastTo(fillEnd, end.shape)) as tf.Tensor3D,
    };
  });
}

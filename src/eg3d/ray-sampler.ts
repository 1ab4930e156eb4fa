/**
 * Where the samples along each ray go (EG3D's `ImportanceRenderer.sample_stratified`,
 * `sample_importance` + `sample_pdf` and `unify_samples`/`sort_samples`; the rays themselves, EG3D's
 * `RaySampler`, are rays.ts): stratified depths, the importance depths from the coarse weights
 * (max-pool/avg-pool smoothing + 0.01, PDF over the inner weights + 1e−5, piece-wise linear CDF
 * inversion with searchsorted-right) as tensor ops (webgpu) and in plain JS (CPU-side backends), and
 * the depth order of the merged coarse and fine samples. Sample positions are constants: nothing
 * here is differentiated.
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { compositeWeights } from './ray-marcher.ts';

export class SamplingError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Where the stratified samples of a ray lie: the settings' fixed range, or per-ray limits in 'auto' mode. */
export interface DepthRange {
  /** `disparity_space_sampling`: stratify in 1/t instead of t (fixed range only). */
  disparitySpaceSampling: boolean;
  rayStart: number | 'auto';
  rayEnd: number | 'auto';
}

/**
 * Coarse depths `[B, D]` (EG3D's `sample_stratified`) from jitter `[B, D]` in [0, 1): t_k = start +
 * k·Δ + jitter·Δ, Δ = (end − start)/(D − 1), or the same in disparity space. `limits` are the per-ray
 * `[B, 1]` start and end in 'auto' mode, null for the fixed range of `range`.
 */
export function stratifiedDepths(jitter: tf.Tensor2D, range: DepthRange, limits: { start: tf.Tensor2D; end: tf.Tensor2D } | null): tf.Tensor2D {
  const d = jitter.shape[1];
  return tf.tidy(() => {
    const steps = tf.reshape(tf.range(0, d, 1, 'float32'), [1, d]);
    if (range.disparitySpaceSampling) {
      const start = range.rayStart as number;
      const end = range.rayEnd as number;
      const lin = tf.add(tf.div(steps, d - 1), tf.mul(jitter, 1 / (d - 1)));
      return tf.div(1, tf.add(tf.mul(1 / start, tf.sub(1, lin)), tf.mul(1 / end, lin))) as tf.Tensor2D;
    }
    if (limits) {
      const delta = tf.div(tf.sub(limits.end, limits.start), d - 1); // [B,1]
      return tf.add(tf.add(limits.start, tf.mul(tf.div(steps, d - 1), tf.sub(limits.end, limits.start))), tf.mul(jitter, delta)) as tf.Tensor2D;
    }
    const start = range.rayStart as number;
    const end = range.rayEnd as number;
    const delta = (end - start) / (d - 1);
    const base = tf.add(tf.mul(steps, delta), start);
    return tf.add(base, tf.mul(jitter, delta)) as tf.Tensor2D;
  });
}

/**
 * Importance depths `[B, Di]` from coarse σ and depths `[B, D]` and draws u `[B, Di]` (EG3D's
 * `sample_importance` + `sample_pdf(det=False)`). Not differentiable (positions are constants).
 */
export function importanceDepths(sigma: tf.Tensor2D, depths: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => importanceFromWeights(compositeWeights(sigma, depths).weights, depths, u));
}

/** The inversion step of `importanceDepths`: coarse weights `[B, D−1]`, depths `[B, D]`, u `[B, Di]` → `[B, Di]`. */
export function importanceFromWeights(weights: tf.Tensor2D, depths: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, d] = depths.shape;
    const di = u.shape[1];
    if (weights.shape[0] !== b || weights.shape[1] !== d - 1) throw new SamplingError(`weights must be [${b}, ${d - 1}] (got [${weights.shape}])`);
    if (d < 4) throw new SamplingError(`importance sampling needs at least 4 coarse samples (got ${d})`);
    const w = d - 1;
    // max_pool1d(kernel 2, stride 1, padding 1) → D values, then avg_pool1d(2, 1) → D − 1, + 0.01.
    const pairMax = tf.maximum(tf.slice(weights, [0, 0], [b, w - 1]), tf.slice(weights, [0, 1], [b, w - 1]));
    const pooled = tf.concat([tf.slice(weights, [0, 0], [b, 1]), pairMax, tf.slice(weights, [0, w - 1], [b, 1])], 1);
    const smooth = tf.add(tf.div(tf.add(tf.slice(pooled, [0, 0], [b, w]), tf.slice(pooled, [0, 1], [b, w])), 2), 0.01);
    // Bin edges: the D − 1 midpoints of the coarse depths; PDF over the inner D − 3 smoothed weights.
    const bins = tf.mul(tf.add(tf.slice(depths, [0, 0], [b, w]), tf.slice(depths, [0, 1], [b, w])), 0.5);
    const nBins = w - 2;
    const pw = tf.add(tf.slice(smooth, [0, 1], [b, nBins]), 1e-5);
    const pdf = tf.div(pw, tf.sum(pw, 1, true));
    const cdf = tf.concat([tf.zeros([b, 1]), tf.cumsum(pdf, 1)], 1) as tf.Tensor2D; // [B, nBins + 1]
    const inds = tf.searchSorted(cdf, u, 'right'); // [B, Di] in [0, nBins + 1]
    const int = (v: number) => tf.scalar(v, 'int32'); // keeps index arithmetic in int32
    const below = tf.maximum(tf.sub(inds, int(1)), int(0));
    const above = tf.minimum(inds, int(nBins));
    // Row-wise gathers through flat indices (the last bin edge is never addressed, as in EG3D).
    const rowBase = (cols: number) => tf.mul(tf.reshape(tf.range(0, b, 1, 'int32'), [b, 1]), int(cols));
    const take = (table: tf.Tensor2D, idx: tf.Tensor) => {
      const cols = table.shape[1];
      const flat = tf.reshape(tf.add(idx, rowBase(cols)), [b * di]);
      return tf.reshape(tf.gather(tf.reshape(table, [b * cols]), flat), [b, di]);
    };
    const cdfBelow = take(cdf, below);
    const cdfAbove = take(cdf, above);
    const binBelow = take(bins as tf.Tensor2D, below);
    const binAbove = take(bins as tf.Tensor2D, above);
    const rawDenom = tf.sub(cdfAbove, cdfBelow);
    const denom = tf.where(tf.less(rawDenom, 1e-5), tf.onesLike(rawDenom), rawDenom);
    return tf.add(binBelow, tf.mul(tf.div(tf.sub(u, cdfBelow), denom), tf.sub(binAbove, binBelow))) as tf.Tensor2D;
  });
}

/**
 * Plain-JS (float64) version of `importanceFromWeights` for CPU-side backends, where it is much
 * faster than the tensor version (wasm's row-wise gathers cost ~90 ns per element). Inputs are
 * row-major `[rays, D−1]` weights, `[rays, D]` depths and `[rays, Di]` draws.
 */
export function importanceInvert(weights: ArrayLike<number>, depths: ArrayLike<number>, u: ArrayLike<number>, rays: number, d: number, di: number): Float32Array {
  if (d < 4) throw new SamplingError(`importance sampling needs at least 4 coarse samples (got ${d})`);
  const w = d - 1;
  const nb = w - 2;
  const out = new Float32Array(rays * di);
  const smooth = new Float64Array(w);
  const cdf = new Float64Array(nb + 1);
  const bins = new Float64Array(w);
  for (let r = 0; r < rays; r++) {
    const wr = r * w;
    const tr = r * d;
    // max-pool (kernel 2, stride 1, padding 1) then avg-pool (2, 1), + 0.01
    let prev = weights[wr];
    for (let k = 0; k < w; k++) {
      const next = k + 1 < w ? Math.max(weights[wr + k], weights[wr + k + 1]) : weights[wr + w - 1];
      smooth[k] = (prev + next) / 2 + 0.01;
      prev = next;
      bins[k] = 0.5 * (depths[tr + k] + depths[tr + k + 1]);
    }
    let total = 0;
    for (let j = 0; j < nb; j++) total += smooth[j + 1] + 1e-5;
    cdf[0] = 0;
    for (let j = 0; j < nb; j++) cdf[j + 1] = cdf[j] + (smooth[j + 1] + 1e-5) / total;
    for (let i = 0; i < di; i++) {
      const uu = u[r * di + i];
      // searchsorted(right): first index whose cdf exceeds u
      let lo = 0;
      let hi = nb + 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] <= uu) lo = mid + 1;
        else hi = mid;
      }
      const below = Math.max(lo - 1, 0);
      const above = Math.min(lo, nb);
      let denom = cdf[above] - cdf[below];
      if (denom < 1e-5) denom = 1;
      out[r * di + i] = bins[below] + ((uu - cdf[below]) / denom) * (bins[above] - bins[below]);
    }
  }
  return out;
}

/**
 * Depth order of the coarse `[rays, D]` and fine `[rays, Di]` samples of each ray (stable; the
 * coarse samples first on ties):
 * sorted depths `[rays, D + Di]` and, per sorted position, the row of the per-ray concatenation
 * (coarse first) in the flat `[rays·(D + Di)]` layout.
 */
export function mergeOrder(coarse: ArrayLike<number>, fine: ArrayLike<number>, rays: number, d: number, di: number): { depths: Float32Array; rows: Int32Array } {
  const k = d + di;
  const depths = new Float32Array(rays * k);
  const rows = new Int32Array(rays * k);
  const fineOrder = new Int32Array(di);
  const all = new Int32Array(k);
  const put = (r: number, pos: number, j: number, value: number) => {
    depths[r * k + pos] = value;
    rows[r * k + pos] = r * k + j;
  };
  for (let r = 0; r < rays; r++) {
    const c0 = r * d;
    const f0 = r * di;
    let ascending = true;
    for (let j = 1; j < d && ascending; j++) ascending = coarse[c0 + j - 1] <= coarse[c0 + j];
    if (ascending) {
      // Stable insertion sort of the (few) fine samples, then a linear merge (coarse first on ties).
      for (let j = 0; j < di; j++) {
        const v = fine[f0 + j];
        let p = j;
        while (p > 0 && fine[f0 + fineOrder[p - 1]] > v) {
          fineOrder[p] = fineOrder[p - 1];
          p--;
        }
        fineOrder[p] = j;
      }
      let i = 0;
      let j = 0;
      for (let pos = 0; pos < k; pos++) {
        if (j >= di || (i < d && coarse[c0 + i] <= fine[f0 + fineOrder[j]])) {
          put(r, pos, i, coarse[c0 + i]);
          i++;
        } else {
          put(r, pos, d + fineOrder[j], fine[f0 + fineOrder[j]]);
          j++;
        }
      }
    } else {
      // Coarse depths out of order (rays that miss the box in 'auto' mode): stable sort of all.
      const value = (j: number) => (j < d ? coarse[c0 + j] : fine[f0 + j - d]);
      for (let j = 0; j < k; j++) all[j] = j;
      const sorted = Array.from(all).sort((a, b) => value(a) - value(b) || a - b);
      sorted.forEach((j, pos) => put(r, pos, j, value(j)));
    }
  }
  return { depths, rows };
}

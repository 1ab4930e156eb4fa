/**
 * The per-ray fused kernels of the renderer in plain TS: the CPU twins of the WGSL kernels in
 * ray-kernels-webgpu.ts (same inputs, same outputs, same formulas; float64 here, float32 there).
 *
 *  - `stratifiedDepthsCpu`: jitter `[B, D]` → coarse depths (EG3D's `sample_stratified`).
 *  - `importancePlan`: coarse decoder outputs `[B, D, cols]` (σ = column 0) + coarse depths `[B, D]` +
 *    draws u `[B, Di]` → fine depths `[B, Di]`: MipRayMarcher2 weights, then `importanceInvert`
 *    (ray-sampler.ts: EG3D's smoothing, PDF, searchsorted-right CDF inversion).
 *  - `compositeFusedForward`: coarse `[B, D, cols]` and fine `[B, Di, cols]` decoder outputs with their
 *    depths, merged into depth order (`mergeOrder`: stable, coarse first on ties; without a fine pass
 *    the coarse samples in their given order) and composited (MipRayMarcher2, as `compositePacked` in
 *    ray-marcher.ts) → `[B, C + 5]` = features (columns 1… of the decoder outputs, C = cols − 1), Σw,
 *    depth, valid, and the ray's smallest and largest sample depth (the renderer's clamp range).
 *  - `compositeFusedBackward`: the gradient of a loss w.r.t. those outputs (only features, Σw and
 *    depth carry one) → the gradients w.r.t. the coarse and the fine decoder outputs, in their own
 *    (unsorted) layouts, i.e. the merge's scatter folded in. Formulas: `compositePacked`'s doc comment.
 */
import { importanceInvert, mergeOrder } from './ray-sampler.ts';
import { fusedColumns, RayKernelError } from './ray-kernels-webgpu.ts';

/** Where the coarse samples lie (the twin of `StratifiedRange`): fixed range (in t or disparity), or per-ray `[rays]` start / end. */
export type StratifiedRangeCpu =
  | { kind: 'fixed'; start: number; end: number; disparity: boolean }
  | { kind: 'per-ray'; start: ArrayLike<number>; end: ArrayLike<number> };

/** Coarse depths `[rays, D]` from jitter `[rays, D]` (EG3D's `sample_stratified`, as `stratifiedDepths`). */
export function stratifiedDepthsCpu(jitter: ArrayLike<number>, range: StratifiedRangeCpu, rays: number, d: number): Float32Array {
  const out = new Float32Array(rays * d);
  for (let r = 0; r < rays; r++) {
    for (let k = 0; k < d; k++) {
      const j = jitter[r * d + k];
      let t: number;
      if (range.kind === 'per-ray') {
        const s = range.start[r];
        const e = range.end[r];
        t = s + (k / (d - 1)) * (e - s) + j * ((e - s) / (d - 1));
      } else if (range.disparity) {
        const lin = k / (d - 1) + j / (d - 1);
        t = 1 / ((1 / range.start) * (1 - lin) + (1 / range.end) * lin);
      } else {
        const delta = (range.end - range.start) / (d - 1);
        t = k * delta + range.start + j * delta;
      }
      out[r * d + k] = t;
    }
  }
  return out;
}

/** The samples of a chunk of rays: decoder outputs (column 0 = raw σ) and depths, coarse and optionally fine. */
export interface RaySamples {
  rays: number;
  /** Coarse samples per ray. */
  d: number;
  /** Fine samples per ray (0: no fine pass). */
  di: number;
  /** Decoder output columns (σ + C features). */
  cols: number;
  coarse: ArrayLike<number>; // [rays, d, cols]
  coarseDepths: ArrayLike<number>; // [rays, d]
  fine?: ArrayLike<number>; // [rays, di, cols]
  fineDepths?: ArrayLike<number>; // [rays, di]
}

/** softplus as tfjs computes it (exp below, identity above ±(log ε + 2)). */
export function softplus(x: number): number {
  const threshold = Math.log(1.1920928955078125e-7) + 2;
  if (x < threshold) return Math.exp(x);
  if (x > -threshold) return x;
  return Math.log(1 + Math.exp(x));
}

/** MipRayMarcher2 along one ray of K sorted samples (σ and t by sorted position). */
interface March {
  delta: Float64Array; // [K−1]
  arg: Float64Array; // σ̄ − 1
  alpha: Float64Array;
  trans: Float64Array; // T_k
  w: Float64Array;
  mid: Float64Array;
  total: number;
  valid: number;
  safeTotal: number;
  depth: number;
}

function march(sigma: (p: number) => number, t: (p: number) => number, k: number): March {
  const n = k - 1;
  const m: March = {
    delta: new Float64Array(n), arg: new Float64Array(n), alpha: new Float64Array(n), trans: new Float64Array(n),
    w: new Float64Array(n), mid: new Float64Array(n), total: 0, valid: 0, safeTotal: 1, depth: 0,
  };
  let trans = 1;
  let depthSum = 0;
  for (let j = 0; j < n; j++) {
    const t0 = t(j);
    const t1 = t(j + 1);
    m.delta[j] = t1 - t0;
    m.arg[j] = (sigma(j) + sigma(j + 1)) / 2 - 1;
    m.alpha[j] = 1 - Math.exp(-(softplus(m.arg[j]) * m.delta[j]));
    m.trans[j] = trans;
    m.w[j] = m.alpha[j] * trans;
    trans *= 1 - m.alpha[j] + 1e-10;
    m.mid[j] = (t0 + t1) / 2;
    m.total += m.w[j];
    depthSum += m.w[j] * m.mid[j];
  }
  m.valid = m.total > 0 ? 1 : 0;
  m.safeTotal = m.total + 1 - m.valid;
  m.depth = depthSum / m.safeTotal;
  return m;
}

/** MipRayMarcher2 weights `[rays, D − 1]` of samples in their given order (`compositeWeights` in plain TS). */
export function marchWeights(sigma: (ray: number, j: number) => number, depths: ArrayLike<number>, rays: number, k: number): Float64Array {
  const out = new Float64Array(rays * (k - 1));
  for (let r = 0; r < rays; r++) {
    const m = march((j) => sigma(r, j), (j) => depths[r * k + j], k);
    out.set(m.w, r * (k - 1));
  }
  return out;
}

/** Fine depths `[rays, Di]` from the coarse decoder outputs `[rays, D, cols]`, coarse depths and draws u `[rays, Di]`. */
export function importancePlan(coarse: ArrayLike<number>, coarseDepths: ArrayLike<number>, u: ArrayLike<number>, rays: number, d: number, di: number, cols: number): Float32Array {
  const weights = marchWeights((r, j) => coarse[(r * d + j) * cols], coarseDepths, rays, d);
  return importanceInvert(weights, coarseDepths, u, rays, d, di);
}

/** Per ray, sorted position → index into the per-ray concatenation (coarse 0…D−1, then fine D…). */
function sampleOrder(s: RaySamples): Int32Array {
  const k = s.d + s.di;
  if (s.di === 0) return Int32Array.from({ length: s.rays * k }, (_, i) => i % k);
  if (!s.fine || !s.fineDepths) throw new RayKernelError('compositeFused: fine samples missing');
  const { rows } = mergeOrder(s.coarseDepths, s.fineDepths, s.rays, s.d, s.di);
  return rows.map((row, i) => row - Math.floor(i / k) * k);
}

/** Reads a decoder output value of the per-ray concatenation: ray r, concatenated index j, column c. */
function valueAt(s: RaySamples): (r: number, j: number, c: number) => number {
  const fine = s.fine;
  return (r, j, c) => (j < s.d ? s.coarse[(r * s.d + j) * s.cols + c] : fine![(r * s.di + j - s.d) * s.cols + c]);
}

function depthAt(s: RaySamples): (r: number, j: number) => number {
  const fine = s.fineDepths;
  return (r, j) => (j < s.d ? s.coarseDepths[r * s.d + j] : fine![r * s.di + j - s.d]);
}

/** Compositing weights of the feature mix per sorted position: v_p = (w_{p−1} + w_p)/2. */
function mixWeight(w: Float64Array, p: number): number {
  const k = w.length + 1;
  return ((p > 0 ? w[p - 1] : 0) + (p < k - 1 ? w[p] : 0)) / 2;
}

/** Forward: `[rays, C + 5]` (features, Σw, depth, valid, min depth, max depth). */
export function compositeFusedForward(s: RaySamples): Float32Array {
  const k = s.d + s.di;
  const col = fusedColumns(s.cols);
  const out = new Float32Array(s.rays * col.width);
  const order = sampleOrder(s);
  const val = valueAt(s);
  const dep = depthAt(s);
  for (let r = 0; r < s.rays; r++) {
    const src = (p: number) => order[r * k + p];
    const m = march((p) => val(r, src(p), 0), (p) => dep(r, src(p)), k);
    const o = r * col.width;
    for (let c = 1; c < s.cols; c++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += mixWeight(m.w, p) * val(r, src(p), c);
      out[o + c - 1] = acc;
    }
    let lo = Infinity;
    let hi = -Infinity;
    for (let j = 0; j < k; j++) {
      lo = Math.min(lo, dep(r, j));
      hi = Math.max(hi, dep(r, j));
    }
    out[o + col.total] = m.total;
    out[o + col.depth] = m.depth;
    out[o + col.valid] = m.valid;
    out[o + col.minDepth] = lo;
    out[o + col.maxDepth] = hi;
  }
  return out;
}

/** Backward: upstream gradient `[rays, C + 5]` → gradients w.r.t. the coarse `[rays, D, cols]` and fine `[rays, Di, cols]` outputs. */
export function compositeFusedBackward(s: RaySamples, dy: ArrayLike<number>): { coarse: Float32Array; fine: Float32Array } {
  const k = s.d + s.di;
  const col = fusedColumns(s.cols);
  const gCoarse = new Float32Array(s.rays * s.d * s.cols);
  const gFine = new Float32Array(s.rays * s.di * s.cols);
  const order = sampleOrder(s);
  const val = valueAt(s);
  const dep = depthAt(s);
  const dv = new Float64Array(k);
  const dArg = new Float64Array(k - 1);
  for (let r = 0; r < s.rays; r++) {
    const src = (p: number) => order[r * k + p];
    const m = march((p) => val(r, src(p), 0), (p) => dep(r, src(p)), k);
    const o = r * col.width;
    const gTotal = dy[o + col.total];
    const gDepth = dy[o + col.depth];
    for (let p = 0; p < k; p++) {
      let acc = 0;
      for (let c = 1; c < s.cols; c++) acc += val(r, src(p), c) * dy[o + c - 1];
      dv[p] = acc;
    }
    const depthScale = (gDepth * m.valid) / m.safeTotal;
    let later = 0; // Σ_{m>j} ∂L/∂w_m·w_m
    for (let j = k - 2; j >= 0; j--) {
      const dw = (dv[j] + dv[j + 1]) / 2 + gTotal + depthScale * (m.mid[j] - m.depth);
      const dAlpha = dw * m.trans[j] - later / (1 - m.alpha[j] + 1e-10);
      later += dw * m.w[j];
      dArg[j] = dAlpha * (m.delta[j] * Math.exp(-(softplus(m.arg[j]) * m.delta[j]))) * (1 / (1 + Math.exp(-m.arg[j])));
    }
    for (let p = 0; p < k; p++) {
      const j = src(p);
      const dst = j < s.d ? gCoarse : gFine;
      const row = j < s.d ? (r * s.d + j) * s.cols : (r * s.di + j - s.d) * s.cols;
      const v = mixWeight(m.w, p);
      dst[row] = ((p > 0 ? dArg[p - 1] : 0) + (p < k - 1 ? dArg[p] : 0)) / 2;
      for (let c = 1; c < s.cols; c++) dst[row + c] = v * dy[o + c - 1];
    }
  }
  return { coarse: gCoarse, fine: gFine };
}

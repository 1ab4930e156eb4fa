/**
 * Differentiable pieces used only to train the demo generator, each numerically the same as the
 * inference code path it stands in for (the tests compare them):
 *
 * - `sampleUpsampledTriplanesTrainable`: the tri-plane lookup on upsample2d(upsample2d(img64)) — the
 *   backbone's 256² output when its b128/b256 ToRGB layers output zero — folded into one sparse
 *   linear map of the 64² planes (cheap to differentiate; the 256² planes are never built);
 * - `sampleTriplanesTrainable`: EG3D's tri-plane lookup (spec A.6: axes (x,y), (x,z), (z,x),
 *   bilinear, align_corners=False, zero padding, mean over planes) with gradients into the planes
 *   (the renderer's sampler treats planes as constants);
 * - `decodePoints`: Tri-D (spec A.7) with gradients into its input features.
 */
import * as tf from '@tensorflow/tfjs';
import { fullyConnected } from '../nn/fc.ts';
import { gatherRows } from '../nn/gather.ts';
import { stableSoftplus } from '../eg3d/decoder.ts';
import { getWeight, type WeightMap } from '../eg3d/weights.ts';

/** 1-D matrix `[2n, n]` of upfirdn2d.upsample2d with [1,3,3,1]: out[2q] = (x[q−1] + 3x[q])/4, out[2q+1] = (3x[q] + x[q+1])/4. */
export function upsampleMatrix1d(n: number): Float32Array {
  const m = new Float32Array(2 * n * n);
  for (let q = 0; q < n; q++) {
    m[2 * q * n + q] += 0.75;
    if (q > 0) m[2 * q * n + q - 1] += 0.25;
    m[(2 * q + 1) * n + q] += 0.75;
    if (q + 1 < n) m[(2 * q + 1) * n + q + 1] += 0.25;
  }
  return m;
}

/** Product of `factorLog2` successive ×2 up-sampling matrices: `[n·2^k, n]` row-major. */
export function upsampleMatrix(n: number, factorLog2: number): { rows: number; cols: number; data: Float32Array } {
  let m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  let size = n;
  for (let k = 0; k < factorLog2; k++) {
    const step = upsampleMatrix1d(size); // [2·size, size]
    const next = new Float64Array(2 * size * n);
    for (let r = 0; r < 2 * size; r++) {
      for (let j = 0; j < size; j++) {
        const a = step[r * size + j];
        if (a === 0) continue;
        for (let c = 0; c < n; c++) next[r * n + c] += a * m[j * n + c];
      }
    }
    m = next;
    size *= 2;
  }
  return { rows: size, cols: n, data: Float32Array.from(m) };
}

/** Sparse rows of an up-sampling matrix: for each fine index, its (coarse index, weight) pairs. */
export interface SparseRows {
  fine: number;
  coarse: number;
  /** `[fine · maxTaps]` coarse indices and weights (weight 0 = unused slot). */
  index: Int32Array;
  weight: Float32Array;
  maxTaps: number;
}

export function sparseRows(m: { rows: number; cols: number; data: Float32Array }): SparseRows {
  let maxTaps = 0;
  for (let r = 0; r < m.rows; r++) {
    let k = 0;
    for (let c = 0; c < m.cols; c++) if (m.data[r * m.cols + c] !== 0) k++;
    maxTaps = Math.max(maxTaps, k);
  }
  const index = new Int32Array(m.rows * maxTaps);
  const weight = new Float32Array(m.rows * maxTaps);
  for (let r = 0; r < m.rows; r++) {
    let k = 0;
    for (let c = 0; c < m.cols; c++) {
      const v = m.data[r * m.cols + c];
      if (v === 0) continue;
      index[r * maxTaps + k] = c;
      weight[r * maxTaps + k] = v;
      k++;
    }
  }
  return { fine: m.rows, coarse: m.cols, index, weight, maxTaps };
}

/**
 * Per-axis weights over the coarse grid of a bilinear lookup (align_corners=False, zero padding) at
 * continuous fine-grid index `i` of the up-sampled axis: Σ over the 2 fine taps of their up-sampling
 * rows, merged by coarse index. Writes at most `slots` (index, weight) pairs; returns how many.
 */
function axisTaps(i: number, up: SparseRows, outIdx: Int32Array, outW: Float64Array, slots: number): number {
  const i0 = Math.floor(i);
  const f = i - i0;
  let n = 0;
  for (let t = 0; t < 2; t++) {
    const r = i0 + t;
    if (r < 0 || r >= up.fine || !Number.isFinite(i)) continue;
    const wr = t ? f : 1 - f;
    for (let k = 0; k < up.maxTaps; k++) {
      const w = up.weight[r * up.maxTaps + k];
      if (w === 0) continue;
      const c = up.index[r * up.maxTaps + k];
      let j = 0;
      while (j < n && outIdx[j] !== c) j++;
      if (j === n) {
        if (n === slots) throw new Error('axisTaps: more coarse taps than slots');
        outIdx[n] = c;
        outW[n] = 0;
        n++;
      }
      outW[j] += wr * w;
    }
  }
  return n;
}

/**
 * Gather indices/weights of EG3D's tri-plane lookup on planes that are `up` applied to coarse planes
 * (`[N, 3, h, h, C]` flattened to rows), for the points of batch element `n`: 3 planes × slots²
 * taps per point (unused taps have weight 0), each weight including the 1/3 of the plane mean.
 * Sampling the up-sampled planes bilinearly is a linear map of the coarse planes; this is that map.
 */
export function upsampledTriplaneTaps(points: Float32Array, n: number, up: SparseRows, boxWarp: number, slots: number, indices: Int32Array, weights: Float32Array, offset: number): void {
  const count = points.length / 3;
  const scale = 2 / boxWarp;
  const h = up.coarse;
  const H = up.fine;
  const planeSize = h * h;
  const base = n * 3 * planeSize;
  const per = slots * slots;
  const ci = new Int32Array(slots), cw = new Float64Array(slots), ri = new Int32Array(slots), rw = new Float64Array(slots);
  for (let p = 0; p < count; p++) {
    const x = points[3 * p] * scale, y = points[3 * p + 1] * scale, z = points[3 * p + 2] * scale;
    for (let pl = 0; pl < 3; pl++) {
      const u = pl === 2 ? z : x;
      const v = pl === 0 ? y : pl === 1 ? z : x;
      const nc = axisTaps(((u + 1) * H - 1) / 2, up, ci, cw, slots);
      const nr = axisTaps(((v + 1) * H - 1) / 2, up, ri, rw, slots);
      const o = offset + (p * 3 + pl) * per;
      for (let a = 0; a < slots; a++) {
        for (let b = 0; b < slots; b++) {
          const k = o + a * slots + b;
          if (a < nr && b < nc) {
            indices[k] = base + pl * planeSize + ri[a] * h + ci[b];
            weights[k] = (rw[a] * cw[b]) / 3;
          } else {
            indices[k] = 0;
            weights[k] = 0;
          }
        }
      }
    }
  }
}

/**
 * Coarse planes `[N, 3, h, h, C]` → features `[N·P, C]` of EG3D's tri-plane lookup on the planes
 * up-sampled by `up` (e.g. 64² → 256² by the backbone's two skip up-samplings), differentiable
 * w.r.t. the coarse planes, without materialising the fine planes.
 */
export function sampleUpsampledTriplanesTrainable(coarsePlanes: tf.Tensor5D, points: Float32Array[], up: SparseRows, boxWarp: number): tf.Tensor2D {
  const [n, three, h, w, c] = coarsePlanes.shape;
  if (three !== 3 || h !== up.coarse || w !== up.coarse || points.length !== n) {
    throw new Error(`sampleUpsampledTriplanesTrainable: planes [${coarsePlanes.shape}] do not match ${n} point sets on a ${up.coarse}² grid`);
  }
  const p = points[0].length / 3;
  if (!points.every((a) => a.length === 3 * p)) throw new Error('sampleUpsampledTriplanesTrainable: every batch element needs the same number of points');
  // Two adjacent fine rows share all but at most one coarse tap for the [1,3,3,1] up-samplings
  // (axisTaps throws if a position ever needs more slots, so this cannot silently drop weight).
  const slots = up.maxTaps + 1;
  const taps = 3 * slots * slots;
  const idx = new Int32Array(n * p * taps);
  const wts = new Float32Array(n * p * taps);
  for (let b = 0; b < n; b++) upsampledTriplaneTaps(points[b], b, up, boxWarp, slots, idx, wts, b * p * taps);
  return tf.tidy(() => {
    const table = tf.reshape(coarsePlanes, [n * 3 * h * w, c]);
    const rows = gatherRows(table, idx);
    const weighted = tf.mul(rows, tf.tensor2d(wts, [n * p * taps, 1]));
    return tf.sum(tf.reshape(weighted, [n * p, taps, c]), 1) as tf.Tensor2D;
  });
}

/**
 * Gather indices and weights of EG3D's tri-plane bilinear lookup: for each point of batch element
 * `n`, 3 planes × 4 taps into the flattened table `[N·3·H·W, C]`. Taps outside the plane get weight 0
 * (zero padding); each weight includes the 1/3 of the mean over planes.
 */
export function triplaneTaps(points: Float32Array, n: number, height: number, width: number, boxWarp: number, indices: Int32Array, weights: Float32Array, offset: number): void {
  const count = points.length / 3;
  const scale = 2 / boxWarp;
  const planeSize = height * width;
  const base = n * 3 * planeSize;
  for (let p = 0; p < count; p++) {
    const x = points[3 * p] * scale, y = points[3 * p + 1] * scale, z = points[3 * p + 2] * scale;
    for (let pl = 0; pl < 3; pl++) {
      const u = pl === 2 ? z : x;
      const v = pl === 0 ? y : pl === 1 ? z : x;
      const ix = ((u + 1) * width - 1) / 2;
      const iy = ((v + 1) * height - 1) / 2;
      const x0 = Math.floor(ix), y0 = Math.floor(iy);
      const fx = ix - x0, fy = iy - y0;
      for (let k = 0; k < 4; k++) {
        const cx = x0 + (k & 1), cy = y0 + (k >> 1);
        const o = offset + (p * 3 + pl) * 4 + k;
        if (cx < 0 || cx >= width || cy < 0 || cy >= height || !Number.isFinite(ix) || !Number.isFinite(iy)) {
          indices[o] = 0;
          weights[o] = 0;
        } else {
          indices[o] = base + pl * planeSize + cy * width + cx;
          weights[o] = ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy) / 3;
        }
      }
    }
  }
}

/**
 * planes `[N, 3, H, W, C]`, `points[n]` `[P·3]` per batch element (same P) → features `[N·P, C]`,
 * differentiable w.r.t. the planes (row gather with a scatterND gradient: wasm-safe).
 */
export function sampleTriplanesTrainable(planes: tf.Tensor5D, points: Float32Array[], boxWarp: number): tf.Tensor2D {
  const [n, three, h, w, c] = planes.shape;
  if (three !== 3 || points.length !== n) throw new Error(`sampleTriplanesTrainable: planes [${planes.shape}] need ${n} point sets (got ${points.length})`);
  const p = points[0].length / 3;
  if (!points.every((a) => a.length === 3 * p)) throw new Error('sampleTriplanesTrainable: every batch element needs the same number of points');
  const taps = 12;
  const idx = new Int32Array(n * p * taps);
  const wts = new Float32Array(n * p * taps);
  for (let b = 0; b < n; b++) triplaneTaps(points[b], b, h, w, boxWarp, idx, wts, b * p * taps);
  return tf.tidy(() => {
    const table = tf.reshape(planes, [n * 3 * h * w, c]);
    const rows = gatherRows(table, idx);
    const weighted = tf.mul(rows, tf.tensor2d(wts, [n * p * taps, 1]));
    return tf.sum(tf.reshape(weighted, [n * p, taps, c]), 1) as tf.Tensor2D;
  });
}

/** Tri-D on sampled features `[P, 32]` → raw density `[P]` and the 32 features `[P, 32]` (sigmoid·1.002 − 0.001). */
export function decodePoints(features: tf.Tensor2D, weights: WeightMap, lrMul: number): { sigma: tf.Tensor1D; feat: tf.Tensor2D } {
  return tf.tidy(() => {
    const h = stableSoftplus(fullyConnected(features, getWeight(weights, 'decoder.net.0.weight'), getWeight(weights, 'decoder.net.0.bias'), { lrMul }));
    const out = fullyConnected(h, getWeight(weights, 'decoder.net.2.weight'), getWeight(weights, 'decoder.net.2.bias'), { lrMul });
    const [p, k] = out.shape;
    const sigma = tf.reshape(tf.slice(out, [0, 0], [p, 1]), [p]) as tf.Tensor1D;
    const feat = tf.sub(tf.mul(tf.sigmoid(tf.slice(out, [0, 1], [p, k - 1])), 1.002), 0.001) as tf.Tensor2D;
    return { sigma, feat };
  });
}

/**
 * EG3D's MipRayMarcher2 (`ray_marcher.py`, spec A.9): compositing of depth-sorted samples along each
 * ray. Midpoint densities through softplus(σ̄ − 1) (clamp_mode 'softplus'), α = 1 − exp(−ρ·δ),
 * T_k = Π_{j<k}(1 − α_j + 1e−10), w = α·T; features and depth are the w-weighted sums over the
 * interval midpoints. `compositeWeights` gives the weights alone (importance sampling uses them);
 * `compositePacked` composites the decoder outputs in one op with a hand-written backward pass: on
 * webgpu by default the fused WGSL kernels of ray-kernels-webgpu.ts, elsewhere (and with
 * `impl: 'generic'`, the oracle) tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { compositeFused, fusedColumns } from './ray-kernels-webgpu.ts';
import { isWebGPUBackend } from './triplane-webgpu.ts';

/**
 * Σ_{m≥k} x_m (or Σ_{m>k} when `exclusive`) along axis 1, as a forward cumsum between two reversals.
 * Not `tf.cumsum(x, 1, exclusive, true)`: tfjs-webgpu 4.22 bakes the axis length into the reverse
 * cumsum's shader but leaves it out of the shader's cache key, so after the first length in a process
 * every other length reuses the wrong shader (measured: gradients off by up to 500 % on the second
 * ray-sample count; src/eg3d/ray-marcher.test.ts keeps a test of that tfjs behaviour).
 */
export function reverseCumsumAxis1(x: tf.Tensor2D, exclusive = false): tf.Tensor2D {
  return tf.tidy(() => tf.reverse(tf.cumsum(tf.reverse(x, 1), 1, exclusive), 1) as tf.Tensor2D);
}

/**
 * Cumulative product along axis 1 with a gradient (tfjs registers none for Cumprod):
 * d/dx_j = Σ_{k≥j} dy_k·y_k / x_j, the same formula PyTorch uses when no input is zero
 * (the transmittance factors are ≥ 1e−10 by construction).
 */
function cumprodAxis1(x: tf.Tensor2D): tf.Tensor2D {
  const op = tf.customGrad((xt, save) => {
    const y = tf.cumprod(xt as tf.Tensor2D, 1);
    (save as tf.GradSaveFunc)([xt as tf.Tensor, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.div(reverseCumsumAxis1(tf.mul(dy, saved[1]) as tf.Tensor2D), saved[0])),
    };
  });
  return op(x) as tf.Tensor2D;
}

interface MarchTerms {
  /** [B, K−1] interval lengths δ_k. */
  deltas: tf.Tensor2D;
  /** [B, K−1] σ̄_k − 1, the softplus argument. */
  densityArg: tf.Tensor2D;
  /** [B, K−1] α_k = 1 − exp(−ρ_k δ_k). */
  alpha: tf.Tensor2D;
  /** [B, K−1] T_k = Π_{j<k}(1 − α_j + 1e−10). */
  transmittance: tf.Tensor2D;
  /** [B, K−1] w_k = α_k T_k. */
  weights: tf.Tensor2D;
  /** [B, K−1] interval midpoints t̄_k. */
  depthMid: tf.Tensor2D;
}

function marchTerms(sigma: tf.Tensor2D, depths: tf.Tensor2D): MarchTerms {
  const [b, k] = sigma.shape;
  const head = (t: tf.Tensor2D) => tf.slice(t, [0, 0], [b, k - 1]);
  const tail = (t: tf.Tensor2D) => tf.slice(t, [0, 1], [b, k - 1]);
  const deltas = tf.sub(tail(depths), head(depths)) as tf.Tensor2D;
  const densityArg = tf.sub(tf.div(tf.add(head(sigma), tail(sigma)), 2), 1) as tf.Tensor2D;
  const alpha = tf.sub(1, tf.exp(tf.neg(tf.mul(tf.softplus(densityArg), deltas)))) as tf.Tensor2D;
  const keep = tf.add(tf.sub(1, alpha), 1e-10) as tf.Tensor2D;
  const shifted = tf.concat([tf.ones([b, 1]), tf.slice(keep, [0, 0], [b, k - 2])], 1) as tf.Tensor2D;
  const transmittance = cumprodAxis1(shifted);
  const weights = tf.mul(alpha, transmittance) as tf.Tensor2D;
  const depthMid = tf.div(tf.add(head(depths), tail(depths)), 2) as tf.Tensor2D;
  return { deltas, densityArg, alpha, transmittance, weights, depthMid };
}

/**
 * MipRayMarcher2 weights for sorted samples: σ `[B, K]`, depths `[B, K]` → weights `[B, K−1]` and
 * interval midpoints `[B, K−1]`. Midpoint densities through softplus(σ̄ − 1), α = 1 − exp(−ρ·δ),
 * T_k = Π_{j<k}(1 − α_j + 1e−10), w = α·T.
 */
export function compositeWeights(sigma: tf.Tensor2D, depths: tf.Tensor2D): { weights: tf.Tensor2D; depthMid: tf.Tensor2D } {
  return tf.tidy(() => {
    const { weights, depthMid } = marchTerms(sigma, depths);
    return { weights, depthMid };
  });
}

export interface CompositeResult {
  /** [B, C] Σ w_k c̄_k (before the 2F − 1 scaling). */
  rgb: tf.Tensor2D;
  /** [B, 1] Σ w_k. */
  weightTotal: tf.Tensor2D;
  /** [B, 1] Σ w_k t̄_k / Σ w_k, with the far end substituted later where Σ w = 0 (NaN in the official code). */
  depth: tf.Tensor2D;
  /** [B, 1] 1 where Σ w > 0. */
  depthValid: tf.Tensor2D;
}

export interface CompositeOptions {
  /** `fused`: the WGSL kernels (webgpu only); `generic`: tf ops (the oracle); `auto` (default): fused on webgpu. */
  impl?: 'auto' | 'fused' | 'generic';
}

/** The four `CompositeResult` columns of a fused compositing output `[B, C + 5]` (ray-kernels-webgpu.ts) for decoder outputs with `cols` columns. */
export function splitFused(out: tf.Tensor2D, cols: number): CompositeResult {
  const b = out.shape[0];
  const col = fusedColumns(cols);
  return {
    rgb: tf.slice(out, [0, 0], [b, col.features]) as tf.Tensor2D,
    weightTotal: tf.slice(out, [0, col.total], [b, 1]) as tf.Tensor2D,
    depth: tf.slice(out, [0, col.depth], [b, 1]) as tf.Tensor2D,
    depthValid: tf.slice(out, [0, col.valid], [b, 1]) as tf.Tensor2D,
  };
}

/**
 * Composites sorted samples given packed decoder outputs `[B, K, 1 + C]` (column 0 = raw σ,
 * then the C features) and constant depths `[B, K]`; differentiable w.r.t. `packed`.
 *
 * One op with a hand-written backward pass: on wasm every tensor a taped op keeps for backprop
 * is a copy, and the per-op tape of this computation kept ~2.5 copies of `packed`; here only
 * `packed` itself is kept and the march terms are recomputed. Backward, with v_k = (w_{k−1} + w_k)/2:
 *   ∂F/∂c_k = v_k;  ∂L/∂w_k = (g_{v_k} + g_{v_{k+1}})/2 + g_S + g_D·(t̄_k − D)/S;
 *   ∂L/∂α_k = ∂L/∂w_k·T_k − (Σ_{m>k} ∂L/∂w_m·w_m)/(1 − α_k + 1e−10);
 *   ∂α_k/∂σ̄_k = δ_k·exp(−ρ_k δ_k)·sigmoid(σ̄_k − 1);  σ̄_k = (σ_k + σ_{k+1})/2.
 */
export function compositePacked(packed: tf.Tensor3D, depths: tf.Tensor2D, opts: CompositeOptions = {}): CompositeResult {
  const [b, k, cols] = packed.shape;
  const impl = opts.impl ?? 'auto';
  if (impl === 'fused' || (impl === 'auto' && isWebGPUBackend())) {
    return tf.tidy(() => ({ ...splitFused(compositeFused(packed, depths), cols) }));
  }
  const op = tf.customGrad((pt, save) => {
    const p = pt as tf.Tensor3D;
    (save as tf.GradSaveFunc)([p, depths]);
    const m = marchTerms(tf.reshape(tf.slice(p, [0, 0, 0], [b, k, 1]), [b, k]) as tf.Tensor2D, depths);
    // Σ_k w_k (c_k + c_{k+1})/2 = Σ_k c_k v_k: one batched matmul (column 0 of `mixed` is unused).
    const v = tf.div(tf.add(tf.pad(m.weights, [[0, 0], [1, 0]]), tf.pad(m.weights, [[0, 0], [0, 1]])), 2);
    const mixed = tf.reshape(tf.matMul(tf.reshape(v, [b, 1, k]), p), [b, cols]);
    const total = tf.sum(m.weights, 1, true);
    const valid = tf.step(total);
    const depth = tf.div(tf.sum(tf.mul(m.weights, m.depthMid), 1, true), tf.add(total, tf.sub(1, valid)));
    return {
      value: tf.concat([mixed, total, depth, valid], 1),
      // tidy: the engine does not scope custom gradient functions (temporaries would live until
      // the end of the whole backward pass).
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const [sp, sd] = saved as [tf.Tensor3D, tf.Tensor2D];
        const r = marchTerms(tf.reshape(tf.slice(sp, [0, 0, 0], [b, k, 1]), [b, k]) as tf.Tensor2D, sd);
        const gMixed = tf.slice(dy, [0, 0], [b, cols]);
        const gTotal = tf.slice(dy, [0, cols], [b, 1]);
        const gDepth = tf.slice(dy, [0, cols + 1], [b, 1]);
        const vv = tf.div(tf.add(tf.pad(r.weights, [[0, 0], [1, 0]]), tf.pad(r.weights, [[0, 0], [0, 1]])), 2);
        const tot = tf.sum(r.weights, 1, true);
        const ok = tf.step(tot);
        const safeTot = tf.add(tot, tf.sub(1, ok));
        const dep = tf.div(tf.sum(tf.mul(r.weights, r.depthMid), 1, true), safeTot);
        // through the feature mix
        const dPackedMix = tf.mul(tf.reshape(vv, [b, k, 1]), tf.reshape(gMixed, [b, 1, cols]));
        const dv = tf.reshape(tf.matMul(sp, tf.reshape(gMixed, [b, cols, 1])), [b, k]);
        const dw = tf.add(
          tf.add(tf.div(tf.add(tf.slice(dv, [0, 0], [b, k - 1]), tf.slice(dv, [0, 1], [b, k - 1])), 2), gTotal),
          tf.mul(tf.div(tf.mul(gDepth, ok), safeTot), tf.sub(r.depthMid, dep)),
        );
        const later = reverseCumsumAxis1(tf.mul(dw, r.weights) as tf.Tensor2D, true); // Σ_{m>k}
        const dAlpha = tf.sub(tf.mul(dw, r.transmittance), tf.div(later, tf.add(tf.sub(1, r.alpha), 1e-10)));
        const dArg = tf.mul(tf.mul(dAlpha, tf.mul(r.deltas, tf.exp(tf.neg(tf.mul(tf.softplus(r.densityArg), r.deltas))))), tf.sigmoid(r.densityArg));
        const dSigma = tf.div(tf.add(tf.pad(dArg, [[0, 0], [1, 0]]), tf.pad(dArg, [[0, 0], [0, 1]])), 2);
        const sigmaColumn = tf.pad(tf.reshape(dSigma, [b, k, 1]), [[0, 0], [0, 0], [0, cols - 1]]);
        return tf.add(dPackedMix, sigmaColumn);
      }),
    };
  });
  return tf.tidy(() => {
    const out = op(packed) as tf.Tensor2D;
    return {
      rgb: tf.slice(out, [0, 1], [b, cols - 1]) as tf.Tensor2D,
      weightTotal: tf.slice(out, [0, cols], [b, 1]) as tf.Tensor2D,
      depth: tf.slice(out, [0, cols + 1], [b, 1]) as tf.Tensor2D,
      depthValid: tf.slice(out, [0, cols + 2], [b, 1]) as tf.Tensor2D,
    };
  });
}

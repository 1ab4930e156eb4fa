/**
 * The FIR resampling that StyleGAN2/EG3D uses around up-sampling, specialised to the only filter the
 * released networks use: f = [1,3,3,1] (2-D filter outer(f,f)/64, applied separably). Everything is
 * built from pad/slice/mul/add/stack/reshape so gradients work on every backend (wasm has no
 * depthwise-conv input gradient). NHWC throughout. On webgpu `upsample2d` and the up-sampling conv's
 * `upConvLowpass` / `upConvLowpassAdjoint` run as fused WGSL kernels instead (upfirdn-webgpu.ts:
 * upsample2d one dispatch forward, one backward; plain-TS twins upfirdn-kernels.ts);
 * the tf-op path stays for cpu/wasm and as the oracle the kernels are tested against.
 */
import * as tf from '@tensorflow/tfjs';
import { upConvLowpassBackwardKernels, upConvLowpassForwardKernel, upsample2dFused } from './upfirdn-webgpu.ts';
import { isWebGPUBackend } from './webgpu-program.ts';

/**
 * How `upsample2d` runs: 'fused' = the WGSL kernels of upfirdn-webgpu.ts (webgpu only), 'generic' = the
 * tf ops below (the oracle, and the path on cpu/wasm), 'auto' = fused on webgpu for float32, generic elsewhere.
 */
export type UpfirdnImpl = 'auto' | 'fused' | 'generic';

/** The module-wide default of `upsample2d`'s `impl` argument (tests force 'generic' to compare). */
export const upfirdnOptions: { impl: UpfirdnImpl } = { impl: 'auto' };

/** Whether `impl` ('auto': webgpu and float32) picks the fused kernels for x (also used by modconv.ts's up-sampling conv). */
export function useFused(impl: UpfirdnImpl, x: tf.Tensor): boolean {
  if (impl === 'generic') return false;
  if (impl === 'fused') return true;
  return isWebGPUBackend() && x.dtype === 'float32' && x.size > 0;
}

/** The 1-D taps of setup_filter([1,3,3,1]), normalised to sum 1. */
export const RESAMPLE_TAPS = [1 / 8, 3 / 8, 3 / 8, 1 / 8];

type SpatialAxis = 1 | 2;

function padAxis(x: tf.Tensor4D, axis: SpatialAxis, before: number, after: number): tf.Tensor4D {
  if (before === 0 && after === 0) return x;
  const p: Array<[number, number]> = [[0, 0], [0, 0], [0, 0], [0, 0]];
  p[axis] = [before, after];
  return tf.pad(x, p);
}

function sliceAxis(x: tf.Tensor4D, axis: SpatialAxis, start: number, size: number): tf.Tensor4D {
  const begin = [0, 0, 0, 0];
  const sizes = [...x.shape];
  begin[axis] = start;
  sizes[axis] = size;
  return tf.slice(x, begin, sizes);
}

/** fir1d without a custom gradient (for use inside other custom ops). */
export function fir1dForward(x: tf.Tensor4D, axis: SpatialAxis, taps: number[], before: number, after: number): tf.Tensor4D {
  return tf.tidy(() => {
    const xp = padAxis(x, axis, before, after);
    const outLen = xp.shape[axis] - taps.length + 1;
    const terms = taps.map((t, j) => tf.mul(sliceAxis(xp, axis, j, outLen), t) as tf.Tensor4D);
    return tf.addN(terms);
  });
}

/**
 * Σ_j taps[j] · x[r + j] along `axis` after zero padding (before, after); output length
 * L + before + after − taps + 1. A custom op: the slices are temporaries, nothing is kept for the
 * backward pass, which is the adjoint filter (reversed taps, padding taps−1−before / taps−1−after).
 */
export function fir1d(x: tf.Tensor4D, axis: SpatialAxis, taps: number[], before: number, after: number): tf.Tensor4D {
  const t = taps.length;
  if (before > t - 1 || after > t - 1) throw new Error(`fir1d: padding (${before}, ${after}) larger than taps − 1 is not supported`);
  const reversed = [...taps].reverse();
  const op = tf.customGrad((xin) => ({
    value: fir1dForward(xin as tf.Tensor4D, axis, taps, before, after),
    gradFunc: (dy: tf.Tensor4D) => fir1dForward(dy, axis, reversed, t - 1 - before, t - 1 - after),
  }));
  return op(x) as tf.Tensor4D;
}

/**
 * Interleaves even/odd phases along `axis`: out[2q] = even[q], out[2q+1] = odd[q]. A custom op so
 * the stacked intermediate is not kept for the backward pass (tfjs' reshape keeps its input).
 */
export function interleave(even: tf.Tensor4D, odd: tf.Tensor4D, axis: SpatialAxis): tf.Tensor4D {
  const op = tf.customGrad((e, o) => ({
    value: interleaveForward(e as tf.Tensor4D, o as tf.Tensor4D, axis),
    gradFunc: (dy: tf.Tensor4D) => deinterleave(dy, axis),
  }));
  return op(even, odd) as tf.Tensor4D;
}

/** interleave without a custom gradient (for use inside other custom ops). */
export function interleaveForward(even: tf.Tensor4D, odd: tf.Tensor4D, axis: SpatialAxis): tf.Tensor4D {
  const merged = [...even.shape] as number[];
  merged[axis] *= 2;
  return tf.tidy(() => tf.stack([even, odd], axis + 1).reshape(merged)) as tf.Tensor4D;
}

/**
 * The inverse of interleave: [even, odd] phases along `axis` (length must be even). Moves the phase
 * axis to the front (one transpose) and cuts two contiguous halves; tfjs-wasm's unstack / strided
 * slices along an inner axis are 10–50× slower at these sizes.
 */
export function deinterleave(y: tf.Tensor4D, axis: SpatialAxis): [tf.Tensor4D, tf.Tensor4D] {
  const half = [...y.shape] as number[];
  if (half[axis] % 2 !== 0) throw new Error(`deinterleave: axis ${axis} has odd length ${half[axis]}`);
  half[axis] /= 2;
  const split = [...half];
  split.splice(axis + 1, 0, 2);
  const perm = [axis + 1, ...[0, 1, 2, 3, 4].filter((a) => a !== axis + 1)];
  const size = half.reduce((a, b) => a * b, 1);
  return tf.tidy(() => {
    const phases = tf.transpose(y.reshape(split), perm).reshape([2, size]);
    return [tf.slice(phases, [0, 0], [1, size]).reshape(half) as tf.Tensor4D, tf.slice(phases, [1, 0], [1, size]).reshape(half) as tf.Tensor4D];
  });
}

/**
 * `upfirdn2d.upsample2d(x, f)`: zero-insertion ×2, pad (2, 1), filter with 4·F → 2H × 2W.
 * Polyphase form per axis: out[2q] = (x[q−1] + 3x[q])/4, out[2q+1] = (3x[q] + x[q+1])/4.
 * `impl` picks the fused WGSL kernels or the tf-op path (default `upfirdnOptions.impl`, 'auto').
 */
export function upsample2d(x: tf.Tensor4D, impl: UpfirdnImpl = upfirdnOptions.impl): tf.Tensor4D {
  if (useFused(impl, x)) return upsample2dFused(x);
  // One axis at a time, each in its own scope: off the tape its intermediates (padded copy, three shifted
  // views, products, phases: ≈ 12 tensors up to twice the input) are freed before the next axis, which at
  // the backbone's 256² tri-plane image was most of a frozen forward pass's peak memory.
  const axisPass = (y: tf.Tensor4D, axis: SpatialAxis): tf.Tensor4D =>
    tf.tidy(() => {
      const n = y.shape[axis];
      const yp = padAxis(y, axis, 1, 1);
      const cur = sliceAxis(yp, axis, 1, n);
      const even = tf.tidy(() => tf.add(tf.mul(sliceAxis(yp, axis, 0, n), 0.25), tf.mul(cur, 0.75)) as tf.Tensor4D);
      const odd = tf.tidy(() => tf.add(tf.mul(cur, 0.75), tf.mul(sliceAxis(yp, axis, 2, n), 0.25)) as tf.Tensor4D);
      return interleave(even, odd, axis);
    });
  return tf.tidy(() => {
    const rows = axisPass(x, 1);
    const out = axisPass(rows, 2);
    rows.dispose();
    return out;
  });
}

/** The up-sampling conv's low-pass taps: 2·f per axis (2-D gain 4). */
export const UPCONV_LOWPASS_TAPS = RESAMPLE_TAPS.map((t) => 2 * t);

/** The four phase outputs of a stride-2 transposed conv, (row phase, column phase) = 00, 01, 10, 11, each `[n, H+1, W+1, c]`. */
export type PhaseQuad = [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];

/**
 * The up-sampling conv's tail: interleaves the four phases into y' (2H+2 × 2W+2: y'[2a+py, 2b+px] =
 * phase_{py,px}[a, b]) and applies the low-pass (taps 2f, padding (1, 0) per axis) → 2H × 2W. Forward
 * only (the conv's custom op provides the gradient through `upConvLowpassAdjoint`). On webgpu ('auto')
 * one WGSL kernel (upfirdn-webgpu.ts); the tf ops (3 interleaves, 2 fir1d) elsewhere and as the oracle.
 */
export function upConvLowpass(phases: PhaseQuad, impl: UpfirdnImpl = upfirdnOptions.impl): tf.Tensor4D {
  if (useFused(impl, phases[0])) return upConvLowpassForwardKernel(phases);
  return tf.tidy(() => {
    const rows = [interleaveForward(phases[0], phases[1], 2), interleaveForward(phases[2], phases[3], 2)];
    const y = interleaveForward(rows[0], rows[1], 1);
    return fir1dForward(fir1dForward(y, 1, UPCONV_LOWPASS_TAPS, 1, 0), 2, UPCONV_LOWPASS_TAPS, 1, 0);
  });
}

/**
 * The adjoint of `upConvLowpass`: ∂L/∂phase for each of the four phases from dy `[n, 2H, 2W, c]`.
 * On webgpu ('auto') four WGSL dispatches; the tf ops (2 fir1d with reversed taps, 3 deinterleaves) elsewhere.
 * The caller owns (and disposes) the four results.
 */
export function upConvLowpassAdjoint(dy: tf.Tensor4D, impl: UpfirdnImpl = upfirdnOptions.impl): PhaseQuad {
  if (useFused(impl, dy)) return upConvLowpassBackwardKernels(dy);
  const reversed = [...UPCONV_LOWPASS_TAPS].reverse();
  // Adjoint of the low-pass: reversed taps, padding (taps−1−before, taps−1−after) = (2, 3).
  const g1 = fir1dForward(dy, 2, reversed, 2, 3);
  const g = fir1dForward(g1, 1, reversed, 2, 3);
  g1.dispose();
  const rows = deinterleave(g, 1);
  g.dispose();
  const out: tf.Tensor4D[] = [];
  for (const r of rows) {
    out.push(...deinterleave(r, 2));
    r.dispose();
  }
  return out as PhaseQuad;
}

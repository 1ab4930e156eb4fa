/**
 * StyleGAN2 modulated convolution (per-sample modulated/demodulated weights, one ordinary conv per
 * sample), the up-sampling variant, and the SynthesisLayer / ToRGB layers built on it.
 * Every convolution goes through `conv2d` (custom filter gradient) so the layers train on wasm.
 * Layouts: x NHWC, weight `[kh, kw, in, out]`, styles `[N, in]`, FC weights `[in, out]`.
 */
import * as tf from '@tensorflow/tfjs';
import { conv2d, filterGradientStride1, inputGradientStride1 } from './conv.ts';
import { ACTIVATION_GAIN, biasAct, biasActForward, biasActInputGradient, blockedColumnSum, fullyConnected } from './fc.ts';
import { interleaveForward, upConvLowpass, upConvLowpassAdjoint, upfirdnOptions, useFused, type PhaseQuad } from './upfirdn.ts';
import { phaseKernelKernel, phaseKernelScatterKernel } from './upfirdn-webgpu.ts';
import { isWebGPUBackend } from './webgpu-program.ts';

export interface ModulatedConvOptions {
  demodulate: boolean;
  /** 1 = same-size 'k//2'-padded conv, 2 = StyleGAN2 up-sampling conv (k must be 3). */
  up: 1 | 2;
  /**
   * false: the backward pass skips the weight's gradient (zeros), for a frozen layer that only passes
   * the gradient on to its input (G2 in step 1): a third of the backward's work. Default true.
   */
  weightGrad?: boolean;
}

/** The sub-kernel of the taps rows × cols (generic tf ops: slices and concats). */
export function tapKernel(weight: tf.Tensor4D, rows: number[], cols: number[]): tf.Tensor4D {
  const [, , cin, cout] = weight.shape;
  const rowTensors = rows.map((ky) => tf.concat(cols.map((kx) => tf.slice(weight, [ky, kx, 0, 0], [1, 1, cin, cout])), 1));
  return tf.concat(rowTensors, 0) as tf.Tensor4D;
}

/** Per axis phases of the stride-2 transposed 3×3 conv: input padding and the kernel taps used. */
const UP_PHASES = [
  { pad: [1, 1] as [number, number], taps: [2, 0] },
  { pad: [0, 1] as [number, number], taps: [1] },
];

/**
 * The kernel of phase (iy, ix) (UP_PHASES' taps): on webgpu ('auto', `upfirdnOptions.impl`) one gather
 * kernel (upfirdn-webgpu.ts), else `tapKernel`'s slices and concats.
 */
function phaseKernel(weight: tf.Tensor4D, iy: number, ix: number): tf.Tensor4D {
  if (useFused(upfirdnOptions.impl, weight)) return phaseKernelKernel(weight, iy, ix);
  return tf.tidy(() => tapKernel(weight, UP_PHASES[iy].taps, UP_PHASES[ix].taps));
}

/**
 * The whole up-sampling conv of one sample — transposed conv (four phase convs + interleave) and the
 * low-pass — as one custom op: only x and the (small) weight are kept, and the backward pass frees
 * its intermediate gradients as it goes (tfjs keeps every op-level gradient until the end of the
 * backward pass, which at 512² would be several 100 MB tensors per layer).
 */
export function upConv3x3(x: tf.Tensor4D, weight: tf.Tensor4D, weightGrad = true): tf.Tensor4D {
  const op = tf.customGrad((xin, win, save) => {
    const xi = xin as tf.Tensor4D;
    const wi = win as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xi, wi]);
    return {
      value: upConvValue(xi, wi),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => upConvBackward(dy, saved[0] as tf.Tensor4D, saved[1] as tf.Tensor4D, weightGrad),
    };
  });
  return op(x, weight) as tf.Tensor4D;
}

/**
 * Up-sampling conv value: the transposed conv's four phases, interleaved into y' (2H+2, trailing zero
 * row/column) and low-passed with padding (1, 0) — `upConvLowpass` (one WGSL kernel on webgpu).
 */
function upConvValue(x: tf.Tensor4D, weight: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => upConvLowpass(upConvPhases(x, weight)));
}

/** [dx, dW] of upConvValue for output gradient dy (dW zeros without `weightGrad`), freeing every intermediate as soon as it is used. */
function upConvBackward(dy: tf.Tensor4D, xs: tf.Tensor4D, ws: tf.Tensor4D, weightGrad: boolean): [tf.Tensor4D, tf.Tensor4D] {
  // Adjoint of the low-pass and the interleave: the gradient of each phase (the caller-owned four are disposed below).
  const phases = upConvLowpassAdjoint(dy);
  let dx: tf.Tensor4D | null = null;
  const dks: tf.Tensor4D[] = [];
  UP_PHASES.forEach((py, iy) => {
    UP_PHASES.forEach((px, ix) => {
      const gp = phases[iy * 2 + ix];
      const pads: [number, number, number, number] = [py.pad[0], py.pad[1], px.pad[0], px.pad[1]];
      const k = phaseKernel(ws, iy, ix);
      const dxp = inputGradientStride1(gp, k, xs.shape, pads);
      k.dispose();
      if (dx) {
        const sum = tf.add(dx, dxp) as tf.Tensor4D;
        tf.dispose([dx, dxp]);
        dx = sum;
      } else dx = dxp;
      if (!weightGrad) {
        gp.dispose();
        return;
      }
      const xp = tf.pad(xs, [[0, 0], py.pad, px.pad, [0, 0]]);
      const dk = filterGradientStride1(xp as tf.Tensor4D, gp, py.taps.length, px.taps.length);
      tf.dispose([xp, gp]);
      dks.push(dk);
    });
  });
  if (!weightGrad) return [dx!, tf.zerosLike(ws)];
  const dw = scatterPhaseKernels(dks as PhaseQuad, ws.shape);
  tf.dispose(dks);
  return [dx!, dw];
}

/** Scatters the phase kernels' gradients (order 00, 01, 10, 11) back to the 3×3 taps they were built from. */
function scatterPhaseKernels(dks: PhaseQuad, shape: [number, number, number, number]): tf.Tensor4D {
  if (useFused(upfirdnOptions.impl, dks[0])) return phaseKernelScatterKernel(dks);
  return tf.tidy(() => {
    const dTap: tf.Tensor2D[][] = [[], [], []];
    UP_PHASES.forEach((py, iy) =>
      UP_PHASES.forEach((px, ix) => {
        const dk = dks[iy * 2 + ix];
        py.taps.forEach((ky, jy) =>
          px.taps.forEach((kx, jx) => {
            dTap[ky][kx] = tf.slice(dk, [jy, jx, 0, 0], [1, 1, -1, -1]).reshape([shape[2], shape[3]]) as tf.Tensor2D;
          }),
        );
      }),
    );
    return tf.stack(dTap.flat()).reshape(shape) as tf.Tensor4D;
  });
}

/** [dx, dW] of a same-size (k//2-padded) stride-1 conv (dW zeros without `weightGrad`). */
function sameConvBackward(dy: tf.Tensor4D, xs: tf.Tensor4D, ws: tf.Tensor4D, weightGrad: boolean): [tf.Tensor4D, tf.Tensor4D] {
  const [kh, kw] = ws.shape;
  const ph = Math.floor(kh / 2);
  const pw = Math.floor(kw / 2);
  const dx = inputGradientStride1(dy, ws, xs.shape, [ph, ph, pw, pw]);
  if (!weightGrad) return [dx, tf.zerosLike(ws)];
  const xp = ph || pw ? (tf.pad(xs, [[0, 0], [ph, ph], [pw, pw], [0, 0]]) as tf.Tensor4D) : xs;
  const dw = filterGradientStride1(xp, dy, kh, kw);
  if (xp !== xs) xp.dispose();
  return [dx, dw];
}

function sameConvValue(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const ph = Math.floor(w.shape[0] / 2);
  const pw = Math.floor(w.shape[1] / 2);
  return tf.conv2d(x, w, 1, [[0, 0], [ph, ph], [pw, pw], [0, 0]] as tf.backend_util.ExplicitPadding);
}

/**
 * One sample's conv (same-size or up-sampling) + noise + bias_act(lrelu, √2, clamp) as a single custom
 * op: the backward pass keeps only x, the modulated weight and the output, and no op-level gradient
 * of the intermediate conv output outlives the op (memory at 512² is what limits wasm training).
 */
function convNoiseBiasAct(x: tf.Tensor4D, w: tf.Tensor4D, bias: tf.Tensor1D, noise: tf.Tensor4D | null, up: 1 | 2, clamp: number | null, weightGrad: boolean): tf.Tensor4D {
  const gain = ACTIVATION_GAIN.lrelu;
  const forward = (xi: tf.Tensor4D, wi: tf.Tensor4D, bi: tf.Tensor1D, ni: tf.Tensor4D | null) =>
    tf.tidy(() => {
      let y = up === 2 ? upConvValue(xi, wi) : sameConvValue(xi, wi);
      if (ni) y = tf.add(y, ni);
      return biasActForward(y, bi, 'lrelu', gain, clamp) as tf.Tensor4D;
    });
  const backward = (dy: tf.Tensor4D, xs: tf.Tensor4D, ws: tf.Tensor4D, out: tf.Tensor4D, withNoise: boolean): tf.Tensor[] => {
    const g = biasActInputGradient(dy, out, 'lrelu', gain, clamp) as tf.Tensor4D;
    const db = tf.tidy(() => blockedColumnSum(g.reshape([-1, g.shape[3]]) as tf.Tensor2D));
    const dn = withNoise ? tf.sum(g, 3, true) : null;
    const [dx, dw] = up === 2 ? upConvBackward(g, xs, ws, weightGrad) : sameConvBackward(g, xs, ws, weightGrad);
    g.dispose();
    return dn ? [dx, dw, db, dn] : [dx, dw, db];
  };
  if (noise) {
    const op = tf.customGrad((xin, win, bin, nin, save) => {
      const out = forward(xin as tf.Tensor4D, win as tf.Tensor4D, bin as tf.Tensor1D, nin as tf.Tensor4D);
      (save as tf.GradSaveFunc)([xin as tf.Tensor4D, win as tf.Tensor4D, out]);
      return { value: out, gradFunc: (dy: tf.Tensor4D, s: tf.Tensor[]) => backward(dy, s[0] as tf.Tensor4D, s[1] as tf.Tensor4D, s[2] as tf.Tensor4D, true) };
    });
    return op(x, w, bias, noise) as tf.Tensor4D;
  }
  const op = tf.customGrad((xin, win, bin, save) => {
    const out = forward(xin as tf.Tensor4D, win as tf.Tensor4D, bin as tf.Tensor1D, null);
    (save as tf.GradSaveFunc)([xin as tf.Tensor4D, win as tf.Tensor4D, out]);
    return { value: out, gradFunc: (dy: tf.Tensor4D, s: tf.Tensor[]) => backward(dy, s[0] as tf.Tensor4D, s[1] as tf.Tensor4D, s[2] as tf.Tensor4D, false) };
  });
  return op(x, w, bias) as tf.Tensor4D;
}

/**
 * True while a gradient tape records (inside tf.grad / tf.variableGrads), read from tfjs' engine state;
 * true as well when that state cannot be read (the per-sample path is right either way).
 */
export function tapeRecording(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: unknown } }).state;
  return typeof state?.gradientDepth === 'number' ? state.gradientDepth > 0 : true;
}

/**
 * Where a batch of modulated convs runs as one conv (`batchModulatedConv`) instead of one per sample:
 * 'auto' (default) on webgpu and off the tape, where the dispatches count and the GPU holds the batch's
 * transients; on wasm the per-sample loop is as fast and its transients are one sample's (at 512² the batch
 * form's up-sampling conv of two samples exhausted the 4 GiB heap). 'always' (still off the tape only) and
 * 'never' for tests.
 */
export const modconvOptions: { batchForm: 'auto' | 'always' | 'never' } = { batchForm: 'auto' };

function useBatchForm(n: number): boolean {
  if (n < 2 || modconvOptions.batchForm === 'never' || tapeRecording()) return false;
  return modconvOptions.batchForm === 'always' || isWebGPUBackend();
}

/** f(t), releasing t as soon as f has used it (off the tape: the batch form's transients, one at a time). */
function then<T extends tf.Tensor>(t: T, f: (t: T) => tf.Tensor4D): tf.Tensor4D {
  const out = f(t);
  t.dispose();
  return out;
}

/**
 * The batch form of the modulated conv (StyleGAN2's `fused_modconv=False`, the same function): the input
 * scaled by the styles, `x·s`, through one ordinary conv (same-size or up-sampling) with the shared weight,
 * its output scaled by the demodulation coefficients d[n,o] = rsqrt(Σ_i s[n,i]²·Σ_k W[k,i,o]² + 1e-8).
 * Used off the tape with N > 1: one conv for the whole batch instead of one per sample (GPU dispatches
 * do not grow with the batch); on the tape the per-sample fused form keeps less (only x) for the backward.
 */
function batchModulatedConv(x: tf.Tensor4D, weight: tf.Tensor4D, styles: tf.Tensor2D, demodulate: boolean, up: 1 | 2): tf.Tensor4D {
  const [n] = x.shape;
  const [, , cin, cout] = weight.shape;
  const xs = tf.mul(x, tf.reshape(styles, [n, 1, 1, cin])) as tf.Tensor4D;
  const y = then(xs, (v) => (up === 2 ? upConvValue(v, weight) : sameConvValue(v, weight)));
  if (!demodulate) return y;
  const wsq = tf.reshape(tf.sum(tf.square(weight), [0, 1]), [cin, cout]) as tf.Tensor2D;
  const d = tf.reshape(tf.rsqrt(tf.add(tf.matMul(tf.square(styles), wsq), 1e-8)), [n, 1, 1, cout]);
  return then(y, (v) => tf.mul(v, d) as tf.Tensor4D);
}

/** Per-sample modulated (and demodulated) weights w'[ky,kx,i,o] = W·s[b,i]·d[b,o] (the reference's fused form). */
function modulatedWeight(weight: tf.Tensor4D, styles: tf.Tensor2D, b: number, demodulate: boolean): tf.Tensor4D {
  return tf.tidy(() => {
    const cin = weight.shape[2];
    let wb = tf.mul(weight, tf.slice(styles, [b, 0], [1, cin]).reshape([1, 1, cin, 1])) as tf.Tensor4D;
    if (demodulate) wb = tf.mul(wb, tf.rsqrt(tf.add(tf.sum(tf.square(wb), [0, 1, 2], true), 1e-8))) as tf.Tensor4D;
    return wb;
  });
}

/**
 * Stride-2 transposed convolution with the kernel not flipped (PyTorch `conv_transpose2d` with the
 * weight's in/out swapped), evaluated as four phase convolutions on the low-resolution input so no
 * multiply touches an inserted zero. Per axis: even outputs y[2q] = x[q]·W[0] + x[q−1]·W[2]
 * (input padded (1,1), taps [2,0]); odd outputs y[2q+1] = x[q]·W[1] (input padded (0,1), tap [1]).
 * Returns 2H+2 × 2W+2: the exact (2H+1)² result followed by one zero row and column.
 * Forward only (upConv3x3 provides the gradient of the whole up-sampling conv).
 */
export function upConvTranspose3x3(x: tf.Tensor4D, weight: tf.Tensor4D): tf.Tensor4D {
  const [kh, kw] = weight.shape;
  if (kh !== 3 || kw !== 3) throw new Error(`upConvTranspose3x3: only 3×3 kernels are supported (got ${kh}×${kw})`);
  return tf.tidy(() => {
    const p = upConvPhases(x, weight);
    return interleaveForward(interleaveForward(p[0], p[1], 2), interleaveForward(p[2], p[3], 2), 1);
  });
}

/** The four phase convolutions of upConvTranspose3x3, (row phase, column phase) = 00, 01, 10, 11, each `[n, H+1, W+1, out]`. */
function upConvPhases(x: tf.Tensor4D, weight: tf.Tensor4D): PhaseQuad {
  const [kh, kw] = weight.shape;
  if (kh !== 3 || kw !== 3) throw new Error(`upConvTranspose3x3: only 3×3 kernels are supported (got ${kh}×${kw})`);
  return tf.tidy(() =>
    UP_PHASES.flatMap((py, iy) =>
      UP_PHASES.map((px, ix) => tf.conv2d(x, phaseKernel(weight, iy, ix), 1, [[0, 0], py.pad, px.pad, [0, 0]] as tf.backend_util.ExplicitPadding)),
    ),
  ) as PhaseQuad;
}

/**
 * Modulated conv without noise/bias, evaluated per sample with the modulated (and demodulated)
 * weights w'[ky,kx,i,o] = W·s[n,i]·d[n,o] — the reference's fused form. Only small weight tensors
 * and the input are kept for the backward pass (the unfused x·s → conv → ·d keeps two more
 * full-size activations, which at 512² exhausts wasm's 4 GB heap). Same-size convs are padded by
 * k//2; `up: 2` is the stride-2 transposed conv followed by the [1,3,3,1] low-pass.
 */
export function modulatedConv2d(x: tf.Tensor4D, weight: tf.Tensor4D, styles: tf.Tensor2D, opts: ModulatedConvOptions): tf.Tensor4D {
  const [n, , , cin] = x.shape;
  const [kh, kw, wcin] = weight.shape;
  if (wcin !== cin) throw new Error(`modulatedConv2d: input has ${cin} channels, weight expects ${wcin}`);
  if (styles.shape[0] !== n || styles.shape[1] !== cin) throw new Error(`modulatedConv2d: styles ${styles.shape} do not match input ${x.shape}`);
  return tf.tidy(() => {
    if (useBatchForm(n)) return batchModulatedConv(x, weight, styles, opts.demodulate, opts.up);
    const outs: tf.Tensor4D[] = [];
    const weightGrad = opts.weightGrad ?? true;
    for (let b = 0; b < n; b++) {
      const wb = modulatedWeight(weight, styles, b, opts.demodulate);
      const xb = n === 1 ? x : (tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
      outs.push(opts.up === 2 ? upConv3x3(xb, wb, weightGrad) : conv2d(xb, wb, 1, [Math.floor(kh / 2), Math.floor(kh / 2), Math.floor(kw / 2), Math.floor(kw / 2)], { filterGrad: weightGrad }));
    }
    return n === 1 ? outs[0] : (tf.concat(outs, 0) as tf.Tensor4D);
  });
}

export type NoiseMode = 'const' | 'random' | 'none';

export interface SynthesisLayerParams {
  affineWeight: tf.Tensor2D; // [w_dim, in]
  affineBias: tf.Tensor1D; // [in]
  weight: tf.Tensor4D; // [k, k, in, out]
  bias: tf.Tensor1D; // [out]
  noiseStrength: tf.Tensor; // scalar
  noiseConst: tf.Tensor2D; // [res, res]
}

export interface SynthesisLayerOptions {
  up: 1 | 2;
  noiseMode: NoiseMode;
  /** Standard-normal draws [N·res·res] for noiseMode 'random'. */
  randomNoise?: () => Float32Array;
  convClamp: number | null;
  /** false: a frozen layer, no weight gradients in the backward pass (ModulatedConvOptions.weightGrad). */
  weightGrad?: boolean;
}

/**
 * SynthesisLayer: styles = affine(w); modulated conv; + noise·strength; bias_act(lrelu, √2, clamp).
 * Each sample runs as one fused custom op (see convNoiseBiasAct).
 */
export function synthesisLayer(x: tf.Tensor4D, w: tf.Tensor2D, p: SynthesisLayerParams, opts: SynthesisLayerOptions): tf.Tensor4D {
  const [n, hIn, wIn, cin] = x.shape;
  if (p.weight.shape[2] !== cin) throw new Error(`synthesisLayer: input has ${cin} channels, weight expects ${p.weight.shape[2]}`);
  const h = hIn * opts.up;
  const wd = wIn * opts.up;
  return tf.tidy(() => {
    const styles = fullyConnected(w, p.affineWeight, p.affineBias);
    let noise: tf.Tensor4D | null = null;
    if (opts.noiseMode === 'const') {
      noise = tf.mul(p.noiseConst.reshape([1, h, wd, 1]), p.noiseStrength) as tf.Tensor4D;
    } else if (opts.noiseMode === 'random') {
      if (!opts.randomNoise) throw new Error("synthesisLayer: noiseMode 'random' needs a randomNoise source");
      const draws = opts.randomNoise();
      if (draws.length !== n * h * wd) throw new Error(`synthesisLayer: random noise has ${draws.length} values, expected ${n * h * wd}`);
      noise = tf.mul(tf.tensor4d(draws, [n, h, wd, 1]), p.noiseStrength) as tf.Tensor4D;
    }
    if (useBatchForm(n)) {
      let y = batchModulatedConv(x, p.weight, styles, true, opts.up);
      if (noise) y = then(y, (v) => tf.add(v, noise) as tf.Tensor4D);
      return then(y, (v) => biasActForward(v, p.bias, 'lrelu', ACTIVATION_GAIN.lrelu, opts.convClamp) as tf.Tensor4D);
    }
    const outs: tf.Tensor4D[] = [];
    for (let b = 0; b < n; b++) {
      const xb = n === 1 ? x : (tf.slice(x, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D);
      const nb = noise && noise.shape[0] > 1 ? (tf.slice(noise, [b, 0, 0, 0], [1, -1, -1, -1]) as tf.Tensor4D) : noise;
      outs.push(convNoiseBiasAct(xb, modulatedWeight(p.weight, styles, b, true), p.bias, nb, opts.up, opts.convClamp, opts.weightGrad ?? true));
    }
    return n === 1 ? outs[0] : (tf.concat(outs, 0) as tf.Tensor4D);
  });
}

export interface ToRgbParams {
  affineWeight: tf.Tensor2D; // [w_dim, in]
  affineBias: tf.Tensor1D;
  weight: tf.Tensor4D; // [1, 1, in, out]
  bias: tf.Tensor1D;
}

/** ToRGB: styles = affine(w)/sqrt(in); 1×1 modulated conv without demodulation; + bias; clamp. */
export function toRgb(x: tf.Tensor4D, w: tf.Tensor2D, p: ToRgbParams, convClamp: number | null, weightGrad = true): tf.Tensor4D {
  return tf.tidy(() => {
    const cin = p.weight.shape[2];
    const styles = tf.mul(fullyConnected(w, p.affineWeight, p.affineBias), 1 / Math.sqrt(cin)) as tf.Tensor2D;
    const y = modulatedConv2d(x, p.weight, styles, { demodulate: false, up: 1, weightGrad });
    return biasAct(y, p.bias, { act: 'linear', clamp: convClamp });
  });
}

/**
 * EG3D's tri-plane decoder "Tri-D" (OSGDecoder, spec A.7): FC 32→64 (equalized lr), softplus,
 * FC 64→33; output 0 is the raw density σ, outputs 1..32 go through sigmoid·1.002 − 0.001.
 * View directions are ignored (as in the official model).
 *
 * The op carries its own gradient w.r.t. the four decoder tensors and recomputes the hidden layer
 * in the backward pass instead of keeping it on the tape: the renderer evaluates it on millions of
 * points, and only the 32 input features per point are retained (the default tape would keep ~200
 * floats per point). Sampled features are constants (no gradient flows into the tri-planes).
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';

/** State-dict names of the decoder parameters (tfjs layout: FC weights `[in, out]`). */
export const DECODER_KEYS = ['decoder.net.0.weight', 'decoder.net.0.bias', 'decoder.net.2.weight', 'decoder.net.2.bias'] as const;

export type DecoderWeights = ReadonlyMap<string, tf.Tensor>;

export class DecoderError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

export interface DecoderOptions {
  /** `rendering_kwargs.decoder_lr_mul` (1 for the released models). */
  lrMul?: number;
  /** Rows per block for the weight-gradient reductions (float32 sums over millions of rows lose precision on wasm). */
  reductionBlock?: number;
  /**
   * Shape to give the `[P, 33]` output (same size), applied inside the op: a reshape recorded on
   * the gradient tape would keep the whole output alive until the backward pass.
   */
  outputShape?: number[];
}

interface DecoderParams {
  w0: tf.Tensor2D;
  b0: tf.Tensor1D;
  w1: tf.Tensor2D;
  b1: tf.Tensor1D;
}

export function decoderParams(weights: DecoderWeights): DecoderParams {
  const get = (k: string) => {
    const t = weights.get(k);
    if (!t) throw new DecoderError(`decoder weight '${k}' is missing from the weight map`);
    return t;
  };
  const w0 = get(DECODER_KEYS[0]);
  const b0 = get(DECODER_KEYS[1]);
  const w1 = get(DECODER_KEYS[2]);
  const b1 = get(DECODER_KEYS[3]);
  const hidden = w0.shape[1];
  if (w0.rank !== 2 || b0.rank !== 1 || w1.rank !== 2 || b1.rank !== 1 || b0.shape[0] !== hidden || w1.shape[0] !== hidden || b1.shape[0] !== w1.shape[1]) {
    throw new DecoderError(
      `decoder weights have inconsistent shapes: net.0.weight [${w0.shape}], net.0.bias [${b0.shape}], net.2.weight [${w1.shape}], net.2.bias [${b1.shape}] (expected [in,h], [h], [h,out], [out])`,
    );
  }
  return { w0: w0 as tf.Tensor2D, b0: b0 as tf.Tensor1D, w1: w1 as tf.Tensor2D, b1: b1 as tf.Tensor1D };
}

/** Sums `[P, ...]` over rows in blocks of `block` rows (first within blocks, then over blocks). */
function blockedAtB(a: tf.Tensor2D, b: tf.Tensor2D, block: number): tf.Tensor2D {
  const p = a.shape[0];
  if (p <= block) return tf.matMul(a, b, true, false);
  const nb = Math.ceil(p / block);
  const pad = nb * block - p;
  const ap = pad ? tf.pad(a, [[0, pad], [0, 0]]) : a;
  const bp = pad ? tf.pad(b, [[0, pad], [0, 0]]) : b;
  const parts = tf.matMul(tf.reshape(ap, [nb, block, a.shape[1]]), tf.reshape(bp, [nb, block, b.shape[1]]), true, false);
  return tf.sum(parts, 0) as tf.Tensor2D;
}

function blockedColumnSum(a: tf.Tensor2D, block: number): tf.Tensor1D {
  const p = a.shape[0];
  if (p <= block) return tf.sum(a, 0) as tf.Tensor1D;
  const nb = Math.ceil(p / block);
  const pad = nb * block - p;
  const ap = pad ? tf.pad(a, [[0, pad], [0, 0]]) : a;
  return tf.sum(tf.sum(tf.reshape(ap, [nb, block, a.shape[1]]), 1), 0) as tf.Tensor1D;
}

/**
 * Decoder on `[P, 32]` features → `[P, 33]`: column 0 = raw σ, columns 1..32 = features in
 * [−0.001, 1.001]. Differentiable w.r.t. the decoder tensors in `weights` only.
 */
export function decodePacked<T extends tf.Tensor = tf.Tensor2D>(features: tf.Tensor2D, weights: DecoderWeights, opts: DecoderOptions = {}): T {
  const lrMul = opts.lrMul ?? 1;
  const block = opts.reductionBlock ?? 16384;
  const params = decoderParams(weights);
  const inF = params.w0.shape[0];
  const hidden = params.w0.shape[1];
  const outF = params.w1.shape[1];
  if (features.rank !== 2 || features.shape[1] !== inF) throw new DecoderError(`decoder expects [P, ${inF}] features (got [${features.shape}])`);
  const g0 = lrMul / Math.sqrt(inF);
  const g1 = lrMul / Math.sqrt(hidden);

  // Gains applied to the (small) weights before the matmul, as the official FullyConnectedLayer
  // does; the bias is fused into the matmul (both run inside the custom op, off the tape).
  const fc = (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D, gain: number): tf.Tensor2D =>
    tf.fused.matMul({ a: x, b: tf.mul(w, gain) as tf.Tensor2D, bias: tf.mul(b, lrMul) as tf.Tensor1D }) as tf.Tensor2D;
  const hiddenPre = (f: tf.Tensor2D, w0: tf.Tensor2D, b0: tf.Tensor1D) => fc(f, w0, b0, g0);
  const head = (h: tf.Tensor2D, w1: tf.Tensor2D, b1: tf.Tensor1D) => fc(h, w1, b1, g1);
  // Column 0 (σ) stays linear, the others go through the sigmoid: blended with a column mask
  // instead of slicing and concatenating columns (strided copies are slow on wasm).
  const total = features.shape[0] * outF;
  const outShape = (opts.outputShape ?? [features.shape[0], outF]).slice();
  const known = outShape.reduce((a, b) => (b === -1 ? a : a * b), 1);
  const inferred = outShape.indexOf(-1);
  if (inferred >= 0 && known > 0) outShape[inferred] = total / known; // like tf.reshape's −1
  if (outShape.reduce((a, b) => a * b, 1) !== total || outShape.some((v) => !Number.isInteger(v) || v < 0)) {
    throw new DecoderError(`outputShape [${outShape}] does not hold ${features.shape[0]}×${outF} values`);
  }
  const sigmaMask = tf.tensor2d([1, ...new Array<number>(outF - 1).fill(0)], [1, outF]);

  const op = tf.customGrad((w0t, b0t, w1t, b1t, save) => {
    const w0 = w0t as tf.Tensor2D;
    const b0 = b0t as tf.Tensor1D;
    const w1 = w1t as tf.Tensor2D;
    const b1 = b1t as tf.Tensor1D;
    (save as tf.GradSaveFunc)([features, sigmaMask]);
    const o = head(stableSoftplus(hiddenPre(features, w0, b0)), w1, b1);
    const squashed = tf.sub(tf.mul(tf.sigmoid(o), 1.002), 0.001);
    return {
      value: tf.reshape(tf.add(squashed, tf.mul(sigmaMask, tf.sub(o, squashed))), outShape),
      // tidy: the engine does not scope custom gradient functions, so temporaries would otherwise
      // live until the end of the whole backward pass.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => {
        const g = tf.reshape(dy, [features.shape[0], outF]) as tf.Tensor2D;
        const [f, mask] = saved as [tf.Tensor2D, tf.Tensor2D];
        // Recompute the forward pass (the hidden layer was not kept).
        const hp = hiddenPre(f, w0, b0);
        const h = stableSoftplus(hp);
        const s = tf.sigmoid(head(h, w1, b1));
        const slope = tf.add(tf.mul(tf.mul(s, tf.sub(1, s)), 1.002), tf.mul(mask, tf.sub(1, tf.mul(tf.mul(s, tf.sub(1, s)), 1.002))));
        const dO = tf.mul(g, slope) as tf.Tensor2D;
        const dW1 = tf.mul(blockedAtB(h, dO, block), g1);
        const dB1 = tf.mul(blockedColumnSum(dO, block), lrMul);
        const dH = tf.matMul(dO, tf.mul(w1, g1), false, true);
        const dHp = tf.mul(dH, tf.sigmoid(hp)) as tf.Tensor2D; // softplus' = sigmoid
        const dW0 = tf.mul(blockedAtB(f, dHp, block), g0);
        const dB0 = tf.mul(blockedColumnSum(dHp, block), lrMul);
        return [dW0, dB0, dW1, dB1];
      }),
    };
  });
  const out = op(params.w0, params.b0, params.w1, params.b1) as T;
  sigmaMask.dispose();
  return out;
}

/**
 * softplus(x) = max(x, 0) + log(1 + exp(−|x|)) = max(x, 0) − log(sigmoid(|x|)): never overflows
 * (sigmoid(|x|) ∈ [½, 1]), absolute error at float32 resolution (≤ ~6e−8), and about 1.5× faster
 * on wasm than tf.softplus (sigmoid is vectorised there, exp/log1p are not).
 */
export function stableSoftplus<T extends tf.Tensor>(x: T): T {
  return tf.tidy(() => tf.sub(tf.relu(x), tf.log(tf.sigmoid(tf.abs(x)))) as T);
}

export interface DecoderOutput {
  /** [P, 1] raw density (before the renderer's softplus). */
  sigma: tf.Tensor2D;
  /** [P, 32] features; the first 3 are the raw RGB. */
  rgb: tf.Tensor2D;
}

/** The OSGDecoder output split like the official `{'rgb', 'sigma'}` dict. */
export function decodeTriplaneFeatures(features: tf.Tensor2D, weights: DecoderWeights, opts: DecoderOptions = {}): DecoderOutput {
  return tf.tidy(() => {
    const packed = decodePacked(features, weights, opts);
    const [p, c] = packed.shape;
    return { sigma: tf.slice(packed, [0, 0], [p, 1]), rgb: tf.slice(packed, [0, 1], [p, c - 1]) };
  });
}

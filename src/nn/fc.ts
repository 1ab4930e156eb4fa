/**
 * StyleGAN2-style building blocks shared by the mapping network, affines, the decoder and the
 * synthesis layers: `bias_act` and the equalized-learning-rate fully connected layer.
 * Stored weights are the raw parameters; the gains are applied here at run time.
 */
import * as tf from '@tensorflow/tfjs';

export type Activation = 'linear' | 'lrelu';

/** Default gain of each activation (√2 for leaky ReLU keeps the signal's second moment). */
export const ACTIVATION_GAIN: Record<Activation, number> = { linear: 1, lrelu: Math.SQRT2 };
export const LRELU_ALPHA = 0.2;

export interface BiasActOptions {
  act?: Activation;
  /** Multiplier after the activation; defaults to the activation's own gain. */
  gain?: number;
  /** Clamp the output to ±clamp (null/undefined = no clamping). */
  clamp?: number | null;
}

/** Rows per partial sum: float32 sums over ~10⁵+ rows lose precision on wasm. */
const SUM_BLOCK_ROWS = 16384;

/** Σ over rows of a [R, C] matrix, accumulated in row blocks. */
export function blockedColumnSum(x: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const rows = x.shape[0];
    if (rows <= SUM_BLOCK_ROWS) return tf.sum(x, 0) as tf.Tensor1D;
    const parts: tf.Tensor[] = [];
    for (let r = 0; r < rows; r += SUM_BLOCK_ROWS) parts.push(tf.sum(tf.slice(x, [r, 0], [Math.min(SUM_BLOCK_ROWS, rows - r), -1]), 0));
    return pairwiseSum(parts) as tf.Tensor1D;
  });
}

/** Sums tensors as a balanced tree (float32 error grows with log n instead of n). Consumes `parts`. */
export function pairwiseSum(parts: tf.Tensor[]): tf.Tensor {
  let level = parts;
  while (level.length > 1) {
    const next: tf.Tensor[] = [];
    for (let i = 0; i < level.length; i += 2) {
      if (i + 1 < level.length) {
        next.push(tf.add(level[i], level[i + 1]));
        tf.dispose([level[i], level[i + 1]]);
      } else next.push(level[i]);
    }
    level = next;
  }
  return level[0];
}

/** The bias_act value without a custom gradient (for use inside other custom ops). */
export function biasActForward(x: tf.Tensor, b: tf.Tensor1D | null, act: Activation, gain: number, clamp: number | null): tf.Tensor {
  return tf.tidy(() => {
    let y: tf.Tensor = b ? tf.add(x, b) : x;
    if (act === 'lrelu') y = tf.leakyRelu(y, LRELU_ALPHA);
    if (gain !== 1) y = tf.mul(y, gain);
    if (clamp !== null) y = tf.clipByValue(y, -clamp, clamp);
    return y;
  });
}

/**
 * Gradient of bias_act w.r.t. its input from its output alone: dy · gain · (1 where out > 0, else α
 * for lrelu) · (|out| < clamp). Temporaries are freed eagerly (full-size at 512²).
 */
export function biasActInputGradient(dy: tf.Tensor, out: tf.Tensor, act: Activation, gain: number, clamp: number | null): tf.Tensor {
  let g: tf.Tensor;
  if (act === 'lrelu') {
    const slope = tf.tidy(() => tf.where(tf.greater(out, 0), tf.scalar(gain), tf.scalar(gain * LRELU_ALPHA)));
    g = tf.mul(dy, slope);
    slope.dispose();
  } else g = tf.mul(dy, gain);
  if (clamp !== null) {
    const mask = tf.tidy(() => tf.cast(tf.less(tf.abs(out), clamp), 'float32'));
    const masked = tf.mul(g, mask);
    tf.dispose([g, mask]);
    g = masked;
  }
  return g;
}

/**
 * out = clamp(act(x + b) · gain, −clamp, clamp); b broadcasts over the last (channel) axis.
 * With an activation or a clamp this is one custom op that keeps only its output for the backward
 * pass (the slope and the clamp mask are read off the output's sign and magnitude), instead of the
 * three full-size intermediates separate ops would keep.
 */
export function biasAct<T extends tf.Tensor>(x: T, b: tf.Tensor1D | null, opts: BiasActOptions = {}): T {
  const act = opts.act ?? 'linear';
  const gain = opts.gain ?? ACTIVATION_GAIN[act];
  const clamp = opts.clamp ?? null;
  if (act === 'linear' && clamp === null) return tf.tidy(() => (gain === 1 ? (b ? tf.add(x, b) : tf.clone(x)) : tf.mul(b ? tf.add(x, b) : x, gain))) as T;
  const inputGrad = (dy: tf.Tensor, out: tf.Tensor) => biasActInputGradient(dy, out, act, gain, clamp);
  if (b) {
    const op = tf.customGrad((xin, bin, save) => {
      const out = biasActForward(xin as tf.Tensor, bin as tf.Tensor1D, act, gain, clamp);
      (save as tf.GradSaveFunc)([out]);
      return {
        value: out,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const dx = inputGrad(dy, saved[0]);
          const c = dx.shape[dx.rank - 1];
          const db = tf.tidy(() => blockedColumnSum(dx.reshape([-1, c]) as tf.Tensor2D));
          return [dx, db];
        },
      };
    });
    return op(x, b) as T;
  }
  const op = tf.customGrad((xin, save) => {
    const out = biasActForward(xin as tf.Tensor, null, act, gain, clamp);
    (save as tf.GradSaveFunc)([out]);
    return { value: out, gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => inputGrad(dy, saved[0]) };
  });
  return op(x) as T;
}

export interface FullyConnectedOptions {
  /** Learning-rate multiplier: weight gain = lrMul / sqrt(in), bias gain = lrMul. */
  lrMul?: number;
  act?: Activation;
}

/**
 * Equalized-learning-rate FC layer: y = act(x · (W·g_w) + b·g_b) · act_gain.
 * `weight` is `[in, out]` (tfjs layout), `bias` `[out]` or null.
 */
export function fullyConnected(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D | null, opts: FullyConnectedOptions = {}): tf.Tensor2D {
  const lrMul = opts.lrMul ?? 1;
  const [inF] = weight.shape;
  if (x.shape[1] !== inF) throw new Error(`fullyConnected: input has ${x.shape[1]} features, weight expects ${inF}`);
  return tf.tidy(() => {
    const y = tf.mul(tf.matMul(x, weight), lrMul / Math.sqrt(inF)) as tf.Tensor2D;
    const b = bias && lrMul !== 1 ? (tf.mul(bias, lrMul) as tf.Tensor1D) : bias;
    return biasAct(y, b, { act: opts.act ?? 'linear' });
  });
}

/** x · rsqrt(mean(x², axis 1) + 1e−8), per row. */
export function normalize2ndMoment(x: tf.Tensor2D, eps = 1e-8): tf.Tensor2D {
  return tf.tidy(() => tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), 1, true), eps))) as tf.Tensor2D);
}

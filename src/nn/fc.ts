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

/** out = clamp(act(x + b) · gain, −clamp, clamp); b broadcasts over the last (channel) axis. */
export function biasAct<T extends tf.Tensor>(x: T, b: tf.Tensor1D | null, opts: BiasActOptions = {}): T {
  const act = opts.act ?? 'linear';
  const gain = opts.gain ?? ACTIVATION_GAIN[act];
  return tf.tidy(() => {
    let y: tf.Tensor = b ? tf.add(x, b) : x;
    if (act === 'lrelu') y = tf.leakyRelu(y, LRELU_ALPHA);
    if (gain !== 1) y = tf.mul(y, gain);
    if (opts.clamp !== undefined && opts.clamp !== null) y = tf.clipByValue(y, -opts.clamp, opts.clamp);
    return y as T;
  });
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

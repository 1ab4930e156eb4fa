/**
 * The fused per-sample-point op of the renderer on webgpu: points along rays → tri-plane features →
 * Tri-D decoder, differentiable w.r.t. the four decoder tensors, on the kernels of
 * fused-decoder-webgpu.ts. Forward: one concat (the packed parameters) and one kernel; backward:
 * five kernels, recomputing features and hidden layer per point. The tape keeps only the ray
 * origins, directions and depths (one float per sample) and the packed parameters; the generic path
 * (tri-plane sampler + `decodePacked`) keeps the 32 features per sample.
 *
 * Same values as the generic path (tri-plane sampling `sampleTriplanes`, decoder `decodePacked`) up
 * to float32 rounding order; the sample positions and planes are constants, as there.
 */
import * as tf from '@tensorflow/tfjs';
import { decoderParams, type DecoderWeights } from './decoder.ts';
import { planeGeometry } from './triplane.ts';
import { FusedDecoderError, runDecoderBackward, runDecoderForward, type DecoderDims, type RaySamplesGpu } from './fused-decoder-webgpu.ts';

export interface FusedDecodeOptions {
  /** `rendering_kwargs.decoder_lr_mul`. */
  lrMul?: number;
}

/**
 * Decoder outputs `[B, K, out]` at `origins[r] + depths[r, k]·directions[r]` on tri-planes
 * `planes` (`[N, 3, H, W, C]`) of batch element `n`: column 0 the raw σ, the others
 * sigmoid·1.002 − 0.001. Needs the webgpu backend.
 */
export function decodeAlongRays(planes: tf.Tensor, n: number, boxWarp: number, rays: RaySamplesGpu, weights: DecoderWeights, opts: FusedDecodeOptions = {}): tf.Tensor3D {
  const lrMul = opts.lrMul ?? 1;
  const geom = planeGeometry(planes);
  const params = decoderParams(weights);
  const dims: DecoderDims = { inF: params.w0.shape[0], hidden: params.w0.shape[1], outF: params.w1.shape[1] };
  if (geom.channels !== dims.inF) throw new FusedDecoderError(`planes have ${geom.channels} channels, the decoder takes ${dims.inF}`);
  if (!Number.isInteger(n) || n < 0 || n >= geom.batch) throw new FusedDecoderError(`batch index ${n} out of range [0, ${geom.batch})`);
  const { origins, directions, depths } = rays;
  const op = tf.customGrad((w0, b0, w1, b1, save) => {
    const geometry = { height: geom.height, width: geom.width, n, boxWarp };
    // Saved tensors are kept by the tape (clones); everything else made here is freed at once.
    const value = tf.tidy(() => {
      const flat = tf.reshape(planes, [planes.size]) as tf.Tensor1D; // shares the device buffer
      const packed = tf.concat([w0, b0, w1, b1].map((t) => tf.reshape(t as tf.Tensor, [-1]))) as tf.Tensor1D;
      (save as tf.GradSaveFunc)([flat, packed, origins, directions, depths]);
      return runDecoderForward({ flat, ...geometry }, rays, packed, dims, lrMul);
    });
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [f, p, o, d, t] = saved as [tf.Tensor1D, tf.Tensor1D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const g = runDecoderBackward({ flat: f, ...geometry }, { origins: o, directions: d, depths: t }, p, dims, lrMul, dy);
        return [g.dW0, g.dB0, g.dW1, g.dB1];
      },
    };
  });
  return op(params.w0, params.b0, params.w1, params.b1) as tf.Tensor3D;
}

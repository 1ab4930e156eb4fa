/**
 * A faster gradient for tfjs's `Pack` (tf.stack) on the wasm backend, used while training the demo
 * generator. tfjs-core differentiates `stack` with `unstack`, and wasm 4.22 runs Unpack/Slice of a
 * rank-5 tensor through a slow generic path: the backbone's ×2 up-sampling interleaves phases with
 * `stack` along an inner axis, and unstacking its gradient took ≈ 2 s per [2,128,64,2,96] tensor
 * (a rank-3 slice of the same data takes ≈ 20 ms). The replacement views the gradient as
 * [before, n, after] and slices each entry out of that rank-3 view: same values, ≈ 50× faster.
 *
 * This overrides tfjs's global registration for the process that calls it (training scripts only).
 */
import * as tf from '@tensorflow/tfjs';

let installed = false;

export function installFastPackGradient(): void {
  if (installed) return;
  installed = true;
  const silence = console.warn;
  console.warn = () => {}; // tfjs warns when a gradient is overridden; this override is intended
  try {
    tf.registerGradient({
      kernelName: 'Pack',
      saveAllInputs: true,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
        const g = Array.isArray(dy) ? dy[0] : dy;
        const rank = g.rank;
        const axis = ((attrs.axis as number) + rank) % rank;
        const n = g.shape[axis];
        const before = g.shape.slice(0, axis).reduce((a, b) => a * b, 1);
        const after = g.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
        const inputShape = saved[0].shape;
        const grads: Record<string, () => tf.Tensor> = {};
        for (let i = 0; i < n; i++) {
          grads[i] = () => tf.tidy(() => tf.reshape(tf.slice(tf.reshape(g, [before, n, after]), [0, i, 0], [before, 1, after]), inputShape));
        }
        return grads;
      },
    });
  } finally {
    console.warn = silence;
  }
}

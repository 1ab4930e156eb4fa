import { it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends, readScalar } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { bilinearResizeMatrix, resizeBilinear } from './resize.ts';

describeBackends('bilinear resize (PyTorch semantics)', () => {
  it('antialiased ×½ uses the widened triangle [1,3,3,1]/8 (edge renormalised)', () => {
    const m = bilinearResizeMatrix(8, 4, true);
    expect(Array.from(m.slice(8, 16)).map((v) => +v.toFixed(6))).toEqual([0, 0.125, 0.375, 0.375, 0.125, 0, 0, 0]);
    // First row: the tap left of the border is dropped and the rest renormalised: [3,3,1]/7.
    expect(m[0]).toBeCloseTo(3 / 7, 6);
    expect(m[2]).toBeCloseTo(1 / 7, 6);
    for (let i = 0; i < 4; i++) expect(m.slice(i * 8, i * 8 + 8).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
  });

  it('up-sampling (with or without antialias) equals half-pixel bilinear', async () => {
    const rng = new Random(5);
    const x = tf.tensor4d(rng.normalArray(2 * 6 * 5 * 3), [2, 6, 5, 3]);
    for (const aa of [true, false]) {
      const d = await readScalar(tf.tidy(() => tf.max(tf.abs(tf.sub(resizeBilinear(x, 12, 9, aa), tf.image.resizeBilinear(x, [12, 9], false, true))))));
      expect(d).toBeLessThan(1e-5);
    }
    x.dispose();
  });

  it('is differentiable and leaves no tensors behind', async () => {
    const before = tf.memory().numTensors;
    const g = await readScalar(tf.tidy(() => {
      const x = tf.ones([1, 8, 8, 2]);
      return tf.grad((v: tf.Tensor) => tf.sum(resizeBilinear(v as tf.Tensor4D, 4, 4, true)))(x).sum();
    }));
    expect(g).toBeCloseTo(32, 3); // each output is a convex combination; 4·4·2 outputs
    expect(tf.memory().numTensors).toBe(before);
  });
});

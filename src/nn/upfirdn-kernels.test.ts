/**
 * The plain-TS twins of the fused up-sampling kernels (upfirdn-kernels.ts) against the generic tf-op
 * path of upfirdn.ts (`upsample2d(x, 'generic')`) on this leg's backend: forward and ∂L/∂x for odd and
 * even sizes, 1, 3, 4 and 5 channels, batch 2. The WGSL kernels are checked against these twins in
 * upfirdn-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { upsample2d } from './upfirdn.ts';
import { upsample2dBackward, upsample2dForward } from './upfirdn-kernels.ts';

describeBackends('up-sampling kernel twins vs the generic tf path', (suite) => {
  it('upsample2dForward / upsample2dBackward equal upsample2d (generic) and its gradient', async () => {
    for (const shape of [[2, 4, 4, 3], [2, 5, 3, 1], [2, 3, 7, 4], [1, 1, 1, 5], [2, 6, 5, 5]]) {
      const [n, h, w, c] = shape;
      const rng = new Random(n * 1000 + h * 100 + w * 10 + c);
      const xs = rng.normalArray(n * h * w * c);
      const rs = rng.normalArray(n * 4 * h * w * c);
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(xs, [n, h, w, c]);
      const r = tf.tensor4d(rs, [n, 2 * h, 2 * w, c]);
      const got = await readAll(tf.tidy(() => ({
        y: upsample2d(x, 'generic'),
        dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(upsample2d(xi as tf.Tensor4D, 'generic'), r)))(x),
      })));
      tf.dispose([x, r]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`upsample2d [${shape}] forward`, got.y, upsample2dForward(xs, shape), 1e-5);
      suite.check(`upsample2d [${shape}] dx`, got.dx, upsample2dBackward(rs, shape), 1e-5);
    }
  });
});

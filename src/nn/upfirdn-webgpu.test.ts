/**
 * The fused up-sampling WGSL kernels (upfirdn-webgpu.ts) on the webgpu backend against their plain-TS
 * twins (upfirdn-kernels.ts; the twins are checked against the generic tf path in
 * upfirdn-kernels.test.ts): forward and ∂L/∂x for odd and even sizes, 1, 3, 4, 5 and 8 channels,
 * batch 2; and the customGrad op's forward and gradient against the generic tf path on the same
 * backend (also inside a larger graph, as synthesis uses it), with no tensor left behind.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { upsample2d } from './upfirdn.ts';
import { upsample2dBackward, upsample2dForward } from './upfirdn-kernels.ts';
import { upsample2dFused } from './upfirdn-webgpu.ts';

const SHAPES = [[2, 4, 4, 3], [2, 5, 3, 1], [2, 3, 7, 4], [1, 1, 1, 5], [2, 6, 5, 5], [2, 8, 8, 8], [2, 9, 4, 6]];

describeBackends('fused up-sampling WGSL kernels vs their plain-TS twins', (suite) => {
  it('upsample2dFused forward and backward equal upsample2dForward / upsample2dBackward', async () => {
    for (const shape of SHAPES) {
      const [n, h, w, c] = shape;
      const rng = new Random(n * 1000 + h * 100 + w * 10 + c);
      const xs = rng.normalArray(n * h * w * c);
      const rs = rng.normalArray(n * 4 * h * w * c);
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(xs, [n, h, w, c]);
      const r = tf.tensor4d(rs, [n, 2 * h, 2 * w, c]);
      const got = await readAll(tf.tidy(() => ({
        y: upsample2dFused(x),
        dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(upsample2dFused(xi as tf.Tensor4D), r)))(x),
      })));
      tf.dispose([x, r]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`upsample2d [${shape}] forward`, got.y, upsample2dForward(xs, shape), 1e-5);
      suite.check(`upsample2d [${shape}] dx`, got.dx, upsample2dBackward(rs, shape), 1e-5);
    }
  });

  it('upsample2d fused equals the generic tf path on webgpu (forward and gradient, two chained)', async () => {
    for (const shape of [[2, 5, 6, 3], [2, 8, 8, 16]]) {
      const [n, h, w, c] = shape;
      const rng = new Random(7 + c);
      const xs = rng.normalArray(n * h * w * c);
      const rs = rng.normalArray(n * 16 * h * w * c);
      const before = tf.memory().numTensors;
      const x = tf.tensor4d(xs, [n, h, w, c]);
      const r = tf.tensor4d(rs, [n, 4 * h, 4 * w, c]);
      const run = (impl: 'fused' | 'generic') =>
        readAll(tf.tidy(() => {
          // Two up-samplings around a non-linearity, as the synthesis/SR skip path chains them.
          const f = (xi: tf.Tensor) => upsample2d(tf.tanh(upsample2d(xi as tf.Tensor4D, impl)) as tf.Tensor4D, impl);
          return { y: f(x), dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi), r)))(x) };
        }));
      const fused = await run('fused');
      const generic = await run('generic');
      tf.dispose([x, r]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`upsample2d² [${shape}] fused vs generic forward`, fused.y, generic.y, 1e-5);
      suite.check(`upsample2d² [${shape}] fused vs generic dx`, fused.dx, generic.dx, 1e-5);
    }
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels need the webgpu backend' });

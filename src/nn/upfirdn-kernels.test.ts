/**
 * The plain-TS twins of the fused up-sampling kernels (upfirdn-kernels.ts) against the generic tf-op
 * path of upfirdn.ts (`upsample2d(x, 'generic')`) on this leg's backend: forward and ∂L/∂x for odd and
 * even sizes, 1, 3, 4 and 5 channels, batch 2; the up-sampling conv's low-pass over the four phases
 * (`upConvLowpass`) and its adjoint (`upConvLowpassAdjoint`), with the twins checked to be adjoint.
 * The WGSL kernels are checked against these twins in upfirdn-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { upConvLowpass, upConvLowpassAdjoint, upsample2d, type PhaseQuad } from './upfirdn.ts';
import { upConvLowpassBackward, upConvLowpassForward, upsample2dBackward, upsample2dForward } from './upfirdn-kernels.ts';

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

  it('upConvLowpassForward / upConvLowpassBackward equal upConvLowpass / upConvLowpassAdjoint (generic) and are adjoint', async () => {
    for (const shape of [[2, 2, 2, 3], [2, 5, 4, 1], [2, 4, 7, 4], [1, 6, 6, 5]]) {
      const [n, ph, pw, c] = shape;
      const rng = new Random(n * 1000 + ph * 100 + pw * 10 + c);
      const ps = [0, 1, 2, 3].map(() => rng.normalArray(n * ph * pw * c));
      const outShape = [n, 2 * (ph - 1), 2 * (pw - 1), c];
      const rs = rng.normalArray(outShape.reduce((a, b) => a * b, 1));
      const before = tf.memory().numTensors;
      const phases = ps.map((v) => tf.tensor4d(v, shape as [number, number, number, number])) as PhaseQuad;
      const dy = tf.tensor4d(rs, outShape as [number, number, number, number]);
      const adj = upConvLowpassAdjoint(dy, 'generic');
      const got = await readAll({ y: upConvLowpass(phases, 'generic'), g00: adj[0], g01: adj[1], g10: adj[2], g11: adj[3] });
      tf.dispose([...phases, dy]);
      expect(tf.memory().numTensors).toBe(before);
      const y = upConvLowpassForward(ps, shape);
      const g = upConvLowpassBackward(rs, shape);
      suite.check(`upConvLowpass [${shape}] forward`, got.y, y, 1e-5);
      (['g00', 'g01', 'g10', 'g11'] as const).forEach((k, i) => suite.check(`upConvLowpass [${shape}] ${k}`, got[k], g[i], 1e-5));
      // <forward(p), r> = Σ_k <p_k, backward(r)_k>
      const lhs = y.reduce((a, v, i) => a + v * rs[i], 0);
      const rhs = g.reduce((a, gk, k) => a + gk.reduce((b, v, i) => b + v * ps[k][i], 0), 0);
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-9 * Math.max(1, Math.abs(lhs)));
    }
  });
});

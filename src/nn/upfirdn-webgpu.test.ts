/**
 * The fused up-sampling WGSL kernels (upfirdn-webgpu.ts) on the webgpu backend against their plain-TS
 * twins (upfirdn-kernels.ts; the twins are checked against the generic tf path in
 * upfirdn-kernels.test.ts): forward and ∂L/∂x for odd and even sizes, 1, 3, 4, 5 and 8 channels,
 * batch 2; and the customGrad op's forward and gradient against the generic tf path on the same
 * backend (also inside a larger graph, as synthesis uses it), with no tensor left behind; the up-sampling
 * conv's low-pass over its four phases and the adjoint (`upConvLowpass` / `upConvLowpassAdjoint`, fused)
 * against their twins, odd and even sizes, 1, 3, 4, 5 and 16 channels; the phase-kernel gather and its
 * scatter (exact); and the whole modulated up-sampling conv fused vs generic (value, ∂x, ∂W, ∂styles).
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { upConvLowpass, upConvLowpassAdjoint, upfirdnOptions, upsample2d, type PhaseQuad, type UpfirdnImpl } from './upfirdn.ts';
import { modulatedConv2d, tapKernel } from './modconv.ts';
import { upConvLowpassBackward, upConvLowpassForward, upsample2dBackward, upsample2dForward } from './upfirdn-kernels.ts';
import { phaseKernelKernel, phaseKernelScatterKernel, upsample2dFused } from './upfirdn-webgpu.ts';

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

  it('upConvLowpass / upConvLowpassAdjoint (fused) equal upConvLowpassForward / upConvLowpassBackward', async () => {
    for (const shape of [[2, 2, 2, 3], [2, 5, 4, 1], [2, 4, 7, 4], [2, 6, 6, 5], [2, 9, 9, 16]]) {
      const [n, ph, pw, c] = shape;
      const rng = new Random(n * 1000 + ph * 100 + pw * 10 + c);
      const ps = [0, 1, 2, 3].map(() => rng.normalArray(n * ph * pw * c));
      const outShape = [n, 2 * (ph - 1), 2 * (pw - 1), c];
      const rs = rng.normalArray(outShape.reduce((a, b) => a * b, 1));
      const before = tf.memory().numTensors;
      const phases = ps.map((v) => tf.tensor4d(v, shape as [number, number, number, number])) as PhaseQuad;
      const dy = tf.tensor4d(rs, outShape as [number, number, number, number]);
      const adj = upConvLowpassAdjoint(dy, 'fused');
      const got = await readAll({ y: upConvLowpass(phases, 'fused'), g00: adj[0], g01: adj[1], g10: adj[2], g11: adj[3] });
      tf.dispose([...phases, dy]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`upConvLowpass [${shape}] forward`, got.y, upConvLowpassForward(ps, shape), 1e-5);
      const g = upConvLowpassBackward(rs, shape);
      (['g00', 'g01', 'g10', 'g11'] as const).forEach((k, i) => suite.check(`upConvLowpass [${shape}] ${k}`, got[k], g[i], 1e-5));
    }
  });

  it('phase kernels and their gradient scatter equal tapKernel and its slices (exact)', async () => {
    const [cin, cout] = [5, 3];
    const ws = new Random(11).normalArray(9 * cin * cout);
    const before = tf.memory().numTensors;
    const w = tf.tensor4d(ws, [3, 3, cin, cout]);
    const taps = [[2, 0], [1]];
    for (const [py, px] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const got = await readAll({ k: phaseKernelKernel(w, py, px), ref: tf.tidy(() => tapKernel(w, taps[py], taps[px])) });
      suite.check(`phase kernel ${py}${px}`, got.k, got.ref, 0, { mode: 'abs' });
    }
    // Scattering the phase kernels of w back gives w.
    const dks = [[0, 0], [0, 1], [1, 0], [1, 1]].map(([py, px]) => tf.tidy(() => tapKernel(w, taps[py], taps[px]))) as PhaseQuad;
    const got = await readAll({ w: phaseKernelScatterKernel(dks) });
    tf.dispose([...dks, w]);
    expect(tf.memory().numTensors).toBe(before);
    suite.check('phase kernel scatter', got.w, ws, 0, { mode: 'abs' });
  });

  it('the modulated up-sampling conv fused equals the generic tf path (value, ∂x, ∂W, ∂styles)', async () => {
    const [n, h, w, cin, cout] = [2, 5, 6, 4, 3];
    const rng = new Random(23);
    const xs = rng.normalArray(n * h * w * cin);
    const before = tf.memory().numTensors;
    const x = tf.tensor4d(xs, [n, h, w, cin]);
    const wt = tf.tensor4d(rng.normalArray(9 * cin * cout), [3, 3, cin, cout]);
    const st = tf.tensor2d(rng.normalArray(n * cin).map((v) => 1 + 0.3 * v), [n, cin]);
    const r = tf.tensor4d(rng.normalArray(n * 4 * h * w * cout), [n, 2 * h, 2 * w, cout]);
    const run = (impl: UpfirdnImpl) => {
      const saved = upfirdnOptions.impl;
      upfirdnOptions.impl = impl;
      try {
        return readAll(tf.tidy(() => {
          const f = (xi: tf.Tensor, wi: tf.Tensor, si: tf.Tensor) => modulatedConv2d(xi as tf.Tensor4D, wi as tf.Tensor4D, si as tf.Tensor2D, { demodulate: true, up: 2 });
          const [dx, dw, ds] = tf.grads((xi: tf.Tensor, wi: tf.Tensor, si: tf.Tensor) => tf.sum(tf.mul(f(xi, wi, si), r)))([x, wt, st]);
          return { y: f(x, wt, st), dx, dw, ds };
        }));
      } finally {
        upfirdnOptions.impl = saved;
      }
    };
    const fused = await run('fused');
    const generic = await run('generic');
    tf.dispose([x, wt, st, r]);
    expect(tf.memory().numTensors).toBe(before);
    for (const k of ['y', 'dx', 'dw', 'ds'] as const) suite.check(`modulated up-conv fused vs generic ${k}`, fused[k], generic[k], 1e-5);
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels need the webgpu backend' });

/**
 * The plain-TS twins of the fused CLIP kernels (vit-kernels.ts) against the generic tf-op path of
 * layers.ts (`impl: 'generic'`) on this leg's backend: LayerNorm forward and ∂L/∂x, QuickGELU forward
 * and ∂L/∂x, for rows of 64, 100 (not a multiple of the kernels' workgroup) and 768 values. The WGSL
 * kernels are checked against these twins in vit-kernels-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { layerNorm, quickGelu } from './layers.ts';
import { layerNormBackward, layerNormForward, quickGeluBackward, quickGeluForward } from './vit-kernels.ts';

/** Row data with an offset per row (mean far from 0) and a spread that varies by row. */
function layerNormCase(seed: number, rows: number, width: number) {
  const rng = new Random(seed);
  const x = rng.normalArray(rows * width);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) x[r * width + c] = x[r * width + c] * (0.2 + r) + (r % 3) * 2 - 1.5;
  const gamma = rng.normalArray(width).map((v) => 1 + 0.3 * v);
  const beta = rng.normalArray(width).map((v) => 0.2 * v);
  const r = rng.normalArray(rows * width);
  return { x, gamma, beta, r };
}

describeBackends('CLIP kernel twins vs the generic tf path', (suite) => {
  it('layerNormForward / layerNormBackward equal layerNorm (generic) and its gradient', async () => {
    for (const [rows, width] of [[5, 64], [3, 100], [4, 768]]) {
      const c = layerNormCase(rows + width, rows, width);
      const before = tf.memory().numTensors;
      const x = tf.tensor3d(c.x, [1, rows, width]);
      const w = { gamma: tf.tensor1d(c.gamma), beta: tf.tensor1d(c.beta) };
      const r = tf.tensor3d(c.r, [1, rows, width]);
      const got = await readAll(tf.tidy(() => ({
        y: layerNorm(x, w, 'generic'),
        dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layerNorm(xi, w, 'generic'), r)))(x),
      })));
      tf.dispose([x, w.gamma, w.beta, r]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`layerNorm [${rows}, ${width}] forward`, got.y, layerNormForward(c.x, rows, width, c.gamma, c.beta), 1e-5);
      suite.check(`layerNorm [${rows}, ${width}] dx`, got.dx, layerNormBackward(c.x, rows, width, c.gamma, c.r), 1e-5);
    }
  });

  it('quickGeluForward / quickGeluBackward equal quickGelu (generic) and its gradient', async () => {
    const n = 300;
    const rng = new Random(17);
    const xs = rng.normalArray(n).map((v, i) => v * (i % 2 ? 1 : 6));
    xs[0] = 0;
    xs[1] = -40;
    xs[2] = 40;
    const rs = rng.normalArray(n);
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(xs, [3, 100]);
    const r = tf.tensor2d(rs, [3, 100]);
    const got = await readAll(tf.tidy(() => ({
      y: quickGelu(x, 'generic'),
      dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(quickGelu(xi, 'generic'), r)))(x),
    })));
    tf.dispose([x, r]);
    expect(tf.memory().numTensors).toBe(before);
    suite.check('quickGelu forward', got.y, quickGeluForward(xs), 1e-5);
    suite.check('quickGelu dx', got.dx, quickGeluBackward(xs, rs), 1e-5);
  });
});

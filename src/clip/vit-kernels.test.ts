/**
 * The plain-TS twins of the fused CLIP kernels (vit-kernels.ts) against the generic tf-op path of
 * layers.ts (`impl: 'generic'`) on this leg's backend: LayerNorm forward and ∂L/∂x, QuickGELU forward
 * and ∂L/∂x, for rows of 64, 100 (not a multiple of the kernels' workgroup) and 768 values; the frozen
 * linear layer forward and ∂L/∂x; the attention core forward and ∂L/∂qkv (L = 50 and 13, 1–4 heads,
 * with and without a causal mask). The WGSL kernels are checked against these twins in
 * vit-kernels-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { attentionCore, layerNorm, linear, quickGelu } from './layers.ts';
import { attentionBackward, attentionForward, layerNormBackward, layerNormForward, linearBackward, linearForward, quickGeluBackward, quickGeluForward } from './vit-kernels.ts';

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

  it('linearForward / linearBackward equal linear (generic) and its gradient', async () => {
    const [rows, inDim, outDim] = [7, 24, 40];
    const rng = new Random(23);
    const xs = rng.normalArray(rows * inDim);
    const ws = rng.normalArray(inDim * outDim).map((v) => v / Math.sqrt(inDim));
    const bs = rng.normalArray(outDim).map((v) => 0.3 * v);
    const rs = rng.normalArray(rows * outDim);
    const before = tf.memory().numTensors;
    const x = tf.tensor3d(xs, [1, rows, inDim]);
    const w = tf.tensor2d(ws, [inDim, outDim]);
    const b = tf.tensor1d(bs);
    const r = tf.tensor3d(rs, [1, rows, outDim]);
    const got = await readAll(tf.tidy(() => ({
      y: linear(x, w, b, 'generic'),
      dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(linear(xi, w, b, 'generic'), r)))(x),
    })));
    tf.dispose([x, w, b, r]);
    expect(tf.memory().numTensors).toBe(before);
    suite.check('linear forward', got.y, linearForward(xs, rows, inDim, ws, outDim, bs), 1e-5);
    suite.check('linear dx', got.dx, linearBackward(rs, rows, inDim, ws, outDim), 1e-5);
  });

  it('attentionForward / attentionBackward equal attentionCore (generic) and its gradient w.r.t. qkv', async () => {
    for (const [n, l, width, heads] of [[1, 50, 32, 1], [2, 50, 64, 4], [2, 13, 24, 3], [1, 13, 16, 2]]) {
      for (const masked of [false, true]) {
        const rng = new Random(n * 1000 + l * 10 + heads);
        const qs = rng.normalArray(n * l * 3 * width).map((v) => 1.5 * v);
        const rs = rng.normalArray(n * l * width);
        const ms = new Array<number>(l * l).fill(0);
        for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) ms[i * l + j] = -1e9;
        const before = tf.memory().numTensors;
        const qkv = tf.tensor3d(qs, [n, l, 3 * width]);
        const r = tf.tensor3d(rs, [n, l, width]);
        const mask = masked ? tf.tensor2d(ms, [l, l]) : undefined;
        const got = await readAll(tf.tidy(() => ({
          y: attentionCore(qkv, heads, mask, 'generic'),
          dq: tf.grad((qi: tf.Tensor) => tf.sum(tf.mul(attentionCore(qi as tf.Tensor3D, heads, mask, 'generic'), r)))(qkv),
        })));
        tf.dispose([qkv, r]);
        if (mask) mask.dispose();
        expect(tf.memory().numTensors).toBe(before);
        const shape = { n, l, width, heads };
        const tag = `attention [${n}, ${l}, ${width}] × ${heads} heads${masked ? ', causal' : ''}`;
        suite.check(`${tag} forward`, got.y, attentionForward(qs, shape, masked ? ms : undefined), 1e-5);
        suite.check(`${tag} dqkv`, got.dq, attentionBackward(qs, shape, rs, masked ? ms : undefined), 1e-5);
      }
    }
  });
});

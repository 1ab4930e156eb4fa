/**
 * The fused CLIP WGSL kernels (vit-kernels-webgpu.ts) on the webgpu backend against their plain-TS
 * twins (vit-kernels.ts; the twins are checked against the generic tf path in vit-kernels.test.ts):
 * LayerNorm forward and ∂L/∂x for rows of 64, 100 and 200 (not multiples of the 64-invocation
 * workgroup), 768 and 1024 values, QuickGELU forward and ∂L/∂x, the frozen linear layer (tfjs' fused
 * matMul in a customGrad) forward and ∂L/∂x, the attention core forward and ∂L/∂qkv (L = 50, 13 and
 * 257, 1–4 heads, dh up to 128, with and without a causal mask); and a whole `residualBlock` with the
 * fused kernels against the generic tf path on the same backend (forward and input gradient).
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { clipLayerOptions, linear, residualBlock, type ResidualBlockWeights } from './layers.ts';
import { attentionFused, layerNormFused, quickGeluFused } from './vit-kernels-webgpu.ts';
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

/** A residual block with random weights (matrices N(0, s²), LayerNorms away from the identity). */
function randomBlock(seed: number, width: number): ResidualBlockWeights {
  const rng = new Random(seed);
  const m = (rows: number, cols: number, s: number) => tf.tensor2d(rng.normalArray(rows * cols).map((v) => v * s), [rows, cols]);
  const v = (n: number, s: number, mean = 0) => tf.tensor1d(rng.normalArray(n).map((x) => mean + x * s));
  const ln = () => ({ gamma: v(width, 0.3, 1), beta: v(width, 0.2) });
  const s = 1 / Math.sqrt(width);
  return {
    ln1: ln(),
    inProjW: m(width, 3 * width, s),
    inProjB: v(3 * width, 0.1),
    outProjW: m(width, width, s),
    outProjB: v(width, 0.1),
    ln2: ln(),
    fcW: m(width, 4 * width, 2 * s),
    fcB: v(4 * width, 0.5),
    projW: m(4 * width, width, s),
    projB: v(width, 0.1),
  };
}

describeBackends('fused CLIP WGSL kernels vs their plain-TS twins', (suite) => {
  it('layerNormFused forward and backward equal layerNormForward / layerNormBackward', async () => {
    for (const [rows, width] of [[5, 64], [3, 100], [7, 200], [4, 768], [2, 1024]]) {
      const c = layerNormCase(rows + width, rows, width);
      const before = tf.memory().numTensors;
      const x = tf.tensor3d(c.x, [1, rows, width]);
      const gamma = tf.tensor1d(c.gamma);
      const beta = tf.tensor1d(c.beta);
      const r = tf.tensor3d(c.r, [1, rows, width]);
      const got = await readAll(tf.tidy(() => ({
        y: layerNormFused(x, gamma, beta),
        dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(layerNormFused(xi, gamma, beta), r)))(x),
      })));
      tf.dispose([x, gamma, beta, r]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`layerNorm [${rows}, ${width}] forward`, got.y, layerNormForward(c.x, rows, width, c.gamma, c.beta), 1e-5);
      suite.check(`layerNorm [${rows}, ${width}] dx`, got.dx, layerNormBackward(c.x, rows, width, c.gamma, c.r), 1e-5);
    }
  });

  it('quickGeluFused forward and backward equal quickGeluForward / quickGeluBackward', async () => {
    const n = 3 * 101;
    const rng = new Random(17);
    const xs = rng.normalArray(n).map((v, i) => v * (i % 2 ? 1 : 6));
    xs[0] = 0;
    xs[1] = -40;
    xs[2] = 40;
    const rs = rng.normalArray(n);
    const before = tf.memory().numTensors;
    const x = tf.tensor2d(xs, [3, 101]);
    const r = tf.tensor2d(rs, [3, 101]);
    const got = await readAll(tf.tidy(() => ({
      y: quickGeluFused(x),
      dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(quickGeluFused(xi), r)))(x),
    })));
    tf.dispose([x, r]);
    expect(tf.memory().numTensors).toBe(before);
    suite.check('quickGelu forward', got.y, quickGeluForward(xs), 1e-5);
    suite.check('quickGelu dx', got.dx, quickGeluBackward(xs, rs), 1e-5);
  });

  it('linear (fused) forward and backward equal linearForward / linearBackward', async () => {
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
      y: linear(x, w, b, 'fused'),
      dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(linear(xi, w, b, 'fused'), r)))(x),
    })));
    tf.dispose([x, w, b, r]);
    expect(tf.memory().numTensors).toBe(before);
    suite.check('linear forward', got.y, linearForward(xs, rows, inDim, ws, outDim, bs), 1e-5);
    suite.check('linear dx', got.dx, linearBackward(rs, rows, inDim, ws, outDim), 1e-5);
  });

  it('attentionFused forward and backward equal attentionForward / attentionBackward', async () => {
    for (const [n, l, width, heads] of [[2, 50, 64, 4], [1, 13, 24, 3], [1, 257, 128, 1], [1, 50, 32, 2]]) {
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
          y: attentionFused(qkv, heads, mask),
          dq: tf.grad((qi: tf.Tensor) => tf.sum(tf.mul(attentionFused(qi as tf.Tensor3D, heads, mask), r)))(qkv),
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

  it('residualBlock with the fused kernels equals the generic tf path (forward and input gradient)', async () => {
    const [n, l, width, heads] = [2, 10, 96, 4];
    const w = randomBlock(3, width);
    const rng = new Random(5);
    const xs = rng.normalArray(n * l * width);
    const rs = rng.normalArray(n * l * width);
    // Causal (the text tower's): −1e9 above the diagonal.
    const mask = tf.tidy(() => tf.sub(tf.linalg.bandPart(tf.fill([l, l], -1e9), 0, -1), tf.linalg.bandPart(tf.fill([l, l], -1e9), 0, 0))) as tf.Tensor2D;
    const before = tf.memory().numTensors;
    const x = tf.tensor3d(xs, [n, l, width]);
    const r = tf.tensor3d(rs, [n, l, width]);
    const run = (impl: 'fused' | 'generic', m?: tf.Tensor2D) =>
      readAll(tf.tidy(() => {
        const f = (xi: tf.Tensor) => {
          const saved = clipLayerOptions.impl;
          clipLayerOptions.impl = impl;
          try {
            return residualBlock(xi as tf.Tensor3D, w, heads, m);
          } finally {
            clipLayerOptions.impl = saved;
          }
        };
        return { y: f(x), dx: tf.grad((xi: tf.Tensor) => tf.sum(tf.mul(f(xi), r)))(x) };
      }));
    for (const m of [undefined, mask]) {
      const fused = await run('fused', m);
      const generic = await run('generic', m);
      const tag = m ? 'causal mask' : 'no mask';
      suite.check(`residualBlock ${tag} forward`, fused.y, generic.y, 1e-5);
      suite.check(`residualBlock ${tag} dx`, fused.dx, generic.dx, 1e-5);
    }
    tf.dispose([x, r]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([mask, w.ln1.gamma, w.ln1.beta, w.inProjW, w.inProjB, w.outProjW, w.outProjB, w.ln2.gamma, w.ln2.beta, w.fcW, w.fcB, w.projW, w.projB]);
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels need the webgpu backend' });

/**
 * The fused CLIP WGSL kernels (vit-kernels-webgpu.ts) on the webgpu backend against their plain-TS
 * twins (vit-kernels.ts; the twins are checked against the generic tf path in vit-kernels.test.ts):
 * LayerNorm forward and ∂L/∂x for rows of 64, 100 and 200 (not multiples of the 64-invocation
 * workgroup), 768 and 1024 values, QuickGELU forward and ∂L/∂x; and a whole `residualBlock` with the
 * fused kernels against the generic tf path on the same backend (forward and input gradient).
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { clipLayerOptions, residualBlock, type ResidualBlockWeights } from './layers.ts';
import { layerNormFused, quickGeluFused } from './vit-kernels-webgpu.ts';
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

import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { upsample2d } from '../nn/upfirdn.ts';
import { sampleTriplanes } from '../eg3d/triplane.ts';
import { decodeTriplaneFeatures } from '../eg3d/decoder.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import { decodePoints, sampleTriplanesTrainable, sampleUpsampledTriplanesTrainable, sparseRows, upsampleMatrix, upsampleMatrix1d } from './train-ops.ts';
import { installFastPackGradient } from './fast-grads.ts';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

function randomPoints(rng: Random, n: number, reach = 0.52): Float32Array {
  return Float32Array.from({ length: 3 * n }, () => (2 * rng.next() - 1) * reach);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('demo training ops match the inference code path', () => {
  it('up-sampling matrices reproduce upsample2d: U · X · Uᵀ', () => {
    const rng = new Random(1);
    const n = 8;
    const x = rng.normalArray(n * n);
    const ref = tf.tidy(() => upsample2d(tf.tensor4d(x, [1, n, n, 1])).dataSync());
    const m = upsampleMatrix1d(n); // [2n, n]
    const mine = new Float32Array(4 * n * n);
    for (let r = 0; r < 2 * n; r++) {
      for (let c = 0; c < 2 * n; c++) {
        let s = 0;
        for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) s += m[r * n + i] * x[i * n + j] * m[c * n + j];
        mine[r * 2 * n + c] = s;
      }
    }
    expect(maxAbsDiff(mine, ref)).toBeLessThan(1e-5);
    const m2 = upsampleMatrix(n, 2);
    expect([m2.rows, m2.cols]).toEqual([4 * n, n]);
    expect(sparseRows(m2).maxTaps).toBe(3);
  });

  it('folded sampler on 64² planes = official sampler on upsample2d(upsample2d(planes))', () => {
    const rng = new Random(2);
    const h = 16; // the folding is resolution-agnostic; 16² keeps the test fast
    const planes = tf.tensor5d(rng.normalArray(2 * 3 * h * h * 4), [2, 3, h, h, 4]);
    const pts = [randomPoints(rng, 300), randomPoints(rng, 300)];
    const up = sparseRows(upsampleMatrix(h, 2));
    const mine = tf.tidy(() => sampleUpsampledTriplanesTrainable(planes, pts, up, 1).dataSync());
    const ref = tf.tidy(() => {
      // official path: the backbone image [N, h, h, 3·C] up-sampled twice, split into planes
      const img = tf.reshape(tf.transpose(planes, [0, 2, 3, 1, 4]), [2, h, h, 12]) as tf.Tensor4D;
      const big = upsample2d(upsample2d(img));
      const bigPlanes = tf.transpose(tf.reshape(big, [2, 4 * h, 4 * h, 3, 4]), [0, 3, 1, 2, 4]);
      const xyz = tf.tensor3d(Float32Array.from([...pts[0], ...pts[1]]), [2, 300, 3]);
      return sampleTriplanes(bigPlanes, xyz, 1).dataSync();
    });
    expect(maxAbsDiff(mine, ref)).toBeLessThan(1e-5);
    planes.dispose();
  });

  it('trainable sampler = official sampler, with gradients into the planes', () => {
    const rng = new Random(3);
    const planes = tf.tensor5d(rng.normalArray(1 * 3 * 8 * 8 * 5), [1, 3, 8, 8, 5]);
    const pts = [randomPoints(rng, 200)];
    const mine = tf.tidy(() => sampleTriplanesTrainable(planes, pts, 1).dataSync());
    const ref = tf.tidy(() => sampleTriplanes(planes, tf.tensor3d(pts[0], [1, 200, 3]), 1).dataSync());
    expect(maxAbsDiff(mine, ref)).toBeLessThan(1e-5);
    // d(sum of features)/d(planes): finite differences on a few entries
    const g = tf.tidy(() => tf.grad((p: tf.Tensor) => tf.sum(sampleTriplanesTrainable(p as tf.Tensor5D, pts, 1)))(planes).dataSync());
    const base = planes.dataSync();
    for (const idx of [0, 17, 101, 555]) {
      const bumped = base.slice();
      bumped[idx] += 1;
      const s1 = tf.tidy(() => tf.sum(sampleTriplanesTrainable(tf.tensor5d(bumped, planes.shape as [number, number, number, number, number]), pts, 1)).dataSync()[0]);
      const s0 = tf.tidy(() => tf.sum(sampleTriplanesTrainable(planes, pts, 1)).dataSync()[0]);
      expect(g[idx]).toBeCloseTo(s1 - s0, 3);
    }
    planes.dispose();
  });

  it('decodePoints = the renderer decoder (Tri-D), and passes gradients to its input', () => {
    const rng = new Random(4);
    const w: WeightMap = new Map<string, tf.Tensor>([
      ['decoder.net.0.weight', tf.tensor2d(rng.normalArray(32 * 64), [32, 64])],
      ['decoder.net.0.bias', tf.tensor1d(rng.normalArray(64))],
      ['decoder.net.2.weight', tf.tensor2d(rng.normalArray(64 * 33), [64, 33])],
      ['decoder.net.2.bias', tf.tensor1d(rng.normalArray(33))],
    ]);
    const f = tf.tensor2d(rng.normalArray(50 * 32), [50, 32]);
    const mine = decodePoints(f, w, 1);
    const ref = decodeTriplaneFeatures(f, w, { lrMul: 1 });
    expect(maxAbsDiff(mine.sigma.dataSync(), ref.sigma.dataSync())).toBeLessThan(1e-4);
    expect(maxAbsDiff(mine.feat.dataSync(), ref.rgb.dataSync())).toBeLessThan(1e-5);
    const g = tf.tidy(() => tf.grad((x: tf.Tensor) => tf.sum(decodePoints(x as tf.Tensor2D, w, 1).sigma))(f));
    expect(tf.max(tf.abs(g)).dataSync()[0]).toBeGreaterThan(0);
    tf.dispose([mine.sigma, mine.feat, ref.sigma, ref.rgb, g, f, ...w.values()]);
  });

  it('the fast stack gradient equals the slices of the upstream gradient', () => {
    installFastPackGradient();
    const rng = new Random(5);
    const a = tf.tensor4d(rng.normalArray(2 * 3 * 4 * 5), [2, 3, 4, 5]);
    const b = tf.tensor4d(rng.normalArray(2 * 3 * 4 * 5), [2, 3, 4, 5]);
    const wgt = tf.tensor5d(rng.normalArray(2 * 3 * 2 * 4 * 5), [2, 3, 2, 4, 5]);
    const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.stack([x, y], 2), wgt)))([a, b]);
    const wa = tf.slice(wgt, [0, 0, 0, 0, 0], [2, 3, 1, 4, 5]).reshape([2, 3, 4, 5]);
    const wb = tf.slice(wgt, [0, 0, 1, 0, 0], [2, 3, 1, 4, 5]).reshape([2, 3, 4, 5]);
    expect(maxAbsDiff(ga.dataSync(), wa.dataSync())).toBe(0);
    expect(maxAbsDiff(gb.dataSync(), wb.dataSync())).toBe(0);
    tf.dispose([a, b, wgt, ga, gb, wa, wb]);
  });
});

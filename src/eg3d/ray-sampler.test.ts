/**
 * The sampling plan's importance inversion (EG3D's sample_importance + sample_pdf, det = False) on
 * hand-computed cases, in both implementations (tensor ops for webgpu, plain JS for CPU-side
 * backends), and the coarse/fine depth merge. The whole renderer is checked against a float64
 * reference in renderer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { importanceFromWeights, importanceInvert, mergeOrder } from './ray-sampler.ts';

const inversions: [string, (weights: number[], depths: number[], u: number[]) => Promise<ArrayLike<number>>][] = [
  ['tensor ops (webgpu path)', async (weights, depths, u) => {
    const t = tf.tidy(() => importanceFromWeights(tf.tensor2d(weights, [1, weights.length]), tf.tensor2d(depths, [1, depths.length]), tf.tensor2d(u, [1, u.length])));
    const v = await t.data();
    t.dispose();
    return v;
  }],
  ['plain JS (cpu/wasm path)', async (weights, depths, u) => importanceInvert(weights, depths, u, 1, depths.length, u.length)],
];

for (const [impl, run] of inversions) describeBackends(`importance sampling inversion (hand-computed), ${impl}`, () => {
  const depths = [0, 1, 2, 3, 4, 5, 6, 7]; // bins (midpoints) 0.5 … 6.5; the PDF uses bins 0.5 … 5.5
  const invert = (weights: number[], u: number[]) => run(weights, depths, u);
  it('zero weights give a uniform PDF over the inner bins: t = 0.5 + 5u', async () => {
    const u = [0, 0.1, 0.3, 0.5, 0.77, 0.99];
    const got = await invert([0, 0, 0, 0, 0, 0, 0], u);
    u.forEach((uu, i) => expect(got[i]).toBeCloseTo(0.5 + 5 * uu, 5));
  });

  it('u = 1 lands on the last used edge (5.5); the last edge 6.5 is never used', async () => {
    const got = await invert([0, 0.2, 0, 0, 0, 0, 0.9], [1]);
    expect(got[0]).toBeCloseTo(5.5, 5);
  });

  it('a single spike: max-pool → avg-pool smoothing, +0.01, inner weights +1e−5', async () => {
    // weights w = e₃ → max-pool (pad 1) [0,0,0,1,1,0,0,0] → avg-pool [0,0,.5,1,.5,0,0] → +0.01
    // → inner [.01,.51,1.01,.51,.01] + 1e−5 → pdf; cdf edges at bins 0.5,1.5,…,5.5.
    const pw = [0.01, 0.51, 1.01, 0.51, 0.01].map((v) => v + 1e-5);
    const total = pw.reduce((a, b) => a + b, 0);
    const cdf = [0];
    for (const v of pw) cdf.push(cdf[cdf.length - 1] + v / total);
    const u = [0.002, 0.2, 0.5, 0.74, 0.999];
    const expected = u.map((uu) => {
      const k = cdf.findIndex((c) => c > uu) - 1; // bin containing u
      return 0.5 + k + (uu - cdf[k]) / (cdf[k + 1] - cdf[k]);
    });
    expect(expected[2]).toBeCloseTo(3, 10); // symmetric spike: the median is the centre
    const got = await invert([0, 0, 0, 1, 0, 0, 0], u);
    expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 5));
  });

  it('u on an interior CDF edge maps to that edge (searchsorted right, continuous inversion)', async () => {
    // Uniform case, edge 0.4: searchsorted-right picks the bin starting there, t = 0.5 + 2 = 2.5.
    const got = await invert([0, 0, 0, 0, 0, 0, 0], [0.4]);
    expect(got[0]).toBeCloseTo(2.5, 5);
  });
});

describe('mergeOrder', () => {
  it('merges coarse and fine depths per ray (stable) and indexes the per-ray concatenation', () => {
    // ray 0: ascending coarse; ray 1: descending coarse (as for rays that miss the box in 'auto' mode)
    const coarse = [1, 2, 3, 3, 2, 1];
    const fine = [2.5, 0.5, 3, 1.5];
    const { depths, rows } = mergeOrder(coarse, fine, 2, 3, 2);
    expect(Array.from(depths)).toEqual([0.5, 1, 2, 2.5, 3, 1, 1.5, 2, 3, 3]);
    expect(Array.from(rows)).toEqual([4, 0, 1, 3, 2, 7, 9, 6, 5, 8]);
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import {
  DIRECTION_EPS,
  lossDirection,
  lossFeatureStructure,
  lossImageStructureFeatureSelfSim,
  lossImageStructureLowres,
  lossMoments,
  lossRemd,
  lossSlicedWasserstein,
  slicedReference,
  hemisphereDirections,
  softForeground,
  meanDirection,
  referenceDirection,
  bilinearSampleMatrix,
  colourTokens,
  euclideanCost,
  gridPoints,
  pointsByBox,
  hypercolumnTokens,
  sampleAt,
  samplePoints,
} from './losses.ts';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

const val = (t: tf.Tensor) => {
  const v = t.dataSync()[0];
  t.dispose();
  return v;
};

describe('3D-Adapter losses (hand-computed values)', () => {
  it('reference direction and L_dir', () => {
    const dir = referenceDirection(tf.tensor1d([3, 4]), tf.tensor1d([0, 0]));
    expect(Array.from(dir.dataSync())).toEqual([expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
    // sample 1: Δ = (1,0) → cos 0.6 → 0.4; sample 2: Δ = (0,1) → cos 0.8 → 0.2; mean 0.3
    const adapted = tf.tensor2d([[1, 0], [0, 2]]);
    const source = tf.tensor2d([[0, 0], [0, 1]]);
    expect(val(lossDirection(adapted, source, dir))).toBeCloseTo(0.3, 6);
  });

  it('L_dir has a finite gradient along the reference direction when adapted == source', () => {
    const dir = tf.tensor1d([0.6, 0.8]);
    const source = tf.tensor2d([[0.2, -0.1]]);
    const g = tf.grad((a: tf.Tensor) => lossDirection(a as tf.Tensor2D, source, dir))(tf.tensor2d([[0.2, -0.1]]));
    const gv = Array.from(g.dataSync());
    expect(gv.every(Number.isFinite)).toBe(true);
    // loss ≈ 1 − (Δ·r)/eps near zero ⇒ ∂L/∂a = −r/eps
    expect(gv[0]).toBeCloseTo(-0.6 / DIRECTION_EPS, -2);
    expect(gv[1]).toBeCloseTo(-0.8 / DIRECTION_EPS, -2);
  });

  it('L_dir is linear below the direction floor and 1 − cos above it', () => {
    const dir = tf.tensor1d([0.6, 0.8]);
    const source = tf.tensor2d([[0, 0]]);
    // |Δ| = 0.1 < floor 0.5: 1 − (0.1·0.6)/0.5
    expect(val(lossDirection(tf.tensor2d([[0.1, 0]]), source, dir, 0.5))).toBeCloseTo(1 - 0.06 / 0.5, 6);
    // |Δ| = 2 > floor: 1 − cos = 1 − 0.6
    expect(val(lossDirection(tf.tensor2d([[2, 0]]), source, dir, 0.5))).toBeCloseTo(0.4, 6);
    // the gradient at Δ = 0 is −r/floor: bounded by the floor, not by 1e-6
    const g = tf.grad((a: tf.Tensor) => lossDirection(a as tf.Tensor2D, source, dir, 0.1))(tf.tensor2d([[0, 0]]));
    expect(Array.from(g.dataSync())).toEqual([expect.closeTo(-6, 4), expect.closeTo(-8, 4)]);
  });

  it('mean source direction is the normalised mean of normalised embeddings', () => {
    const m = meanDirection(tf.tensor2d([[2, 0], [0, 5]]));
    const s = Math.SQRT1_2;
    expect(Array.from(m.dataSync())).toEqual([expect.closeTo(s, 6), expect.closeTo(s, 6)]);
  });

  it('L_dis: relaxed EMD, max of the two mean-min terms, batch-averaged', () => {
    const adapted = tf.tensor3d([
      [[1, 0], [0, 1]],
      [[-1, 0], [0, -1]],
    ]);
    const reference = tf.tensor2d([[1, 0], [2, 2], [-1, 0]]);
    const c = 1 - Math.SQRT1_2;
    // sample 1: rows [0, c, 2], [1, c, 1] → row term (0 + c)/2, column term (0 + c + 1)/3
    const s1 = Math.max(c / 2, (c + 1) / 3);
    // sample 2: rows [2, 2−c, 0], [1, 2−c, 1] → row term (0 + 1)/2, column term (1 + (2−c) + 0)/3
    const s2 = Math.max(0.5, (3 - c) / 3);
    expect(val(lossRemd(adapted, reference))).toBeCloseTo((s1 + s2) / 2, 6);
    // reference given with a leading batch axis gives the same value
    expect(val(lossRemd(adapted, tf.expandDims(reference, 0)))).toBeCloseTo((s1 + s2) / 2, 6);
  });

  it('L_dis gradient is finite and only reaches the adapted tokens', () => {
    const reference = tf.tensor2d([[1, 0], [2, 2], [-1, 0]]);
    const g = tf.grad((a: tf.Tensor) => lossRemd(a as tf.Tensor3D, reference))(tf.tensor3d([[[1, 0.1], [0.2, 1]]]));
    expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
    expect(Array.from(g.dataSync()).some((x) => x !== 0)).toBe(true);
  });

  it('L_F-str: self-similarity MSE and L1', () => {
    const adapted = tf.tensor3d([[[1, 0], [1, 1]]]);
    const source = tf.tensor3d([[[1, 0], [0, 1]]]);
    // off-diagonal entries differ by 1/√2, diagonals agree
    expect(val(lossFeatureStructure(adapted, source, 'selfsim-mse'))).toBeCloseTo((2 * 0.5) / 4, 6);
    expect(val(lossFeatureStructure(adapted, source, 'selfsim-l1'))).toBeCloseTo((2 * Math.SQRT1_2) / 4, 6);
  });

  it("L_I-str 'lowres-l1': L1 after area down-sampling", () => {
    const adapted = tf.reshape(tf.range(0, 16, 1, 'float32'), [1, 4, 4, 1]) as tf.Tensor4D;
    const source = tf.fill([1, 4, 4, 1], 3) as tf.Tensor4D;
    // 2×2 box means: 2.5, 4.5, 10.5, 12.5 → |·−3| = 0.5, 1.5, 7.5, 9.5 → mean 4.75
    expect(val(lossImageStructureLowres(adapted, source, 2))).toBeCloseTo(4.75, 6);
    // at the image's own size nothing is down-sampled: mean |i − 3| over 0..15 = (6 + 78)/16
    expect(val(lossImageStructureLowres(adapted, source, 4))).toBeCloseTo(84 / 16, 6);
  });

  it("L_I-str 'lowres-l1-standardized': a per-channel gain and offset costs nothing, a layout change does", () => {
    const rng = new Random(5);
    const source = tf.tensor4d(rng.normalArray(2 * 8 * 8 * 3), [2, 8, 8, 3]);
    const recoloured = tf.add(tf.mul(source, tf.tensor1d([0.5, 2, 1.5])), tf.tensor1d([0.3, -0.2, 0.1])) as tf.Tensor4D;
    expect(val(lossImageStructureLowres(recoloured, source, 4, true))).toBeLessThan(1e-3);
    expect(val(lossImageStructureLowres(recoloured, source, 4))).toBeGreaterThan(0.2);
    // Mirrored left-right: same colours, other layout.
    expect(val(lossImageStructureLowres(tf.reverse(source, 2) as tf.Tensor4D, source, 4, true))).toBeGreaterThan(0.3);
  });

  it("L_I-str 'feature-selfsim': L1 between self-similarity of pooled feature images", () => {
    const adapted = tf.tensor4d([[[[1, 0], [0, 1]], [[1, 0], [0, 1]]]]);
    const source = tf.tensor4d([[[[1, 0], [1, 0]], [[1, 0], [1, 0]]]]);
    // source: all four positions identical (sim 1); adapted: 8 of 16 pairs orthogonal (sim 0)
    expect(val(lossImageStructureFeatureSelfSim(adapted, source, 2))).toBeCloseTo(0.5, 6);
    // pooling 2×2 → one position each, self-similarity [[1]] for both → 0
    expect(val(lossImageStructureFeatureSelfSim(adapted, source, 1))).toBeCloseTo(0, 6);
  });
});

describe('hypercolumn L_dis (STROTSS-like)', () => {
  it('samples distinct grid cells, seeded, at cell centres', () => {
    const a = samplePoints(new Random(5), 8, 20);
    const b = samplePoints(new Random(5), 8, 20);
    const c = samplePoints(new Random(6), 8, 20);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
    const cells = new Set<number>();
    for (let k = 0; k < 20; k++) {
      const x = a[2 * k] * 8 - 0.5;
      const y = a[2 * k + 1] * 8 - 0.5;
      expect(Number.isInteger(Math.round(x * 1e6) / 1e6)).toBe(true);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(y).toBeLessThan(8);
      cells.add(Math.round(y) * 8 + Math.round(x));
    }
    expect(cells.size).toBe(20);
    // asking for more points than cells gives every cell once
    expect(samplePoints(new Random(1), 3, 50).length).toBe(18);
    expect(Array.from(gridPoints(2))).toEqual([0.25, 0.25, 0.75, 0.25, 0.25, 0.75, 0.75, 0.75]);
  });

  it('bilinear sampling: exact at pixel centres, interpolates between them, clamps at the edges', () => {
    // 2×2 map with values 0,1 / 2,3 (one channel); at its own pixel centres sampling returns them.
    const map = tf.tensor4d([0, 1, 2, 3], [1, 2, 2, 1]);
    expect(Array.from(sampleAt(map, gridPoints(2)).dataSync())).toEqual([0, 1, 2, 3].map((v) => expect.closeTo(v, 6)));
    // the image centre is the mean of the four; the top-left corner clamps to pixel 0
    expect(Array.from(sampleAt(map, new Float32Array([0.5, 0.5, 0, 0])).dataSync())).toEqual([expect.closeTo(1.5, 6), expect.closeTo(0, 6)]);
    // every row of the weight matrix sums to 1
    const m = bilinearSampleMatrix(samplePoints(new Random(2), 7, 10), 5, 3);
    for (let r = 0; r < 10; r++) expect(m.slice(r * 15, (r + 1) * 15).reduce((x, y) => x + y, 0)).toBeCloseTo(1, 6);
  });

  it('the cosine of two hypercolumns is the mean of the per-block cosines', () => {
    // Two blocks of very different channel counts and magnitudes, one point (1×1 maps).
    const a1 = tf.tensor4d([3, 0], [1, 1, 1, 2]);
    const b1 = tf.tensor4d([1, 1], [1, 1, 1, 2]); // cos 1/√2 with a1
    const a2 = tf.tensor4d([100, 0, 0, 0], [1, 1, 1, 4]);
    const b2 = tf.tensor4d([0, 0.1, 0, 0], [1, 1, 1, 4]); // cos 0 with a2
    const p = new Float32Array([0.5, 0.5]);
    const ha = hypercolumnTokens([a1, a2], p);
    const hb = hypercolumnTokens([b1, b2], p);
    expect(ha.shape).toEqual([1, 1, 6]);
    const cos = tf.sum(tf.mul(ha, hb)).dataSync()[0];
    expect(cos).toBeCloseTo((Math.SQRT1_2 + 0) / 2, 6);
    // unit length overall
    expect(tf.sum(tf.square(ha)).dataSync()[0]).toBeCloseTo(1, 6);
  });

  it('Euclidean cost and the colour REMD', () => {
    const a = tf.tensor3d([[[0, 0, 0], [1, 1, 1]]]);
    const r = tf.tensor2d([[0, 0, 0], [3, 4, 0]]);
    expect(Array.from(euclideanCost(a, r).dataSync())).toEqual([0, 5, Math.sqrt(3), Math.sqrt(4 + 9 + 1)].map((v) => expect.closeTo(v, 3)));
    // identical colour sets: ~0 (the eps guard); a constant shift of 0.5 in one channel: 0.5
    const cols = tf.tensor3d([[[0.1, 0.2, 0.3], [0.9, -0.4, 0.0]]]);
    expect(val(lossRemd(cols, tf.reshape(cols, [2, 3]), 'euclidean'))).toBeLessThan(1e-3);
    const shifted = tf.add(tf.reshape(cols, [2, 3]), tf.tensor1d([0.5, 0, 0]));
    expect(val(lossRemd(cols, shifted, 'euclidean'))).toBeCloseTo(0.5, 3);
    // the gradient pulls the colours toward the reference's (finite even where they coincide)
    const g = tf.grad((x: tf.Tensor) => lossRemd(x as tf.Tensor3D, shifted, 'euclidean'))(cols);
    const gv = Array.from(g.dataSync());
    expect(gv.every(Number.isFinite)).toBe(true);
    expect(gv[0]).toBeLessThan(0);
    expect(gv[3]).toBeLessThan(0);
  });

  it('colour moments (STROTSS ℓ_m): mean and covariance terms by hand; proportions matter, unlike the REMD', () => {
    // Reference: 3 black points and 1 white point (d = 1 for hand arithmetic): μ_r = 0.25, Σ_r = 0.1875.
    const ref = tf.tensor2d([[0], [0], [0], [1]]);
    // Same colours, other proportions (1 black, 3 white): the REMD sees no difference, the moments do.
    const a = tf.tensor3d([[[0], [1], [1], [1]]]);
    expect(val(lossRemd(a, ref, 'euclidean'))).toBeLessThan(1e-3);
    // |0.75 − 0.25| + |0.1875 − 0.1875| = 0.5
    expect(val(lossMoments(a, ref))).toBeCloseTo(0.5, 6);
    // Two samples, d = 2: sample 1 equals the reference (0), sample 2 is shifted by (0.2, −0.4): (0.2 + 0.4)/2 = 0.3; batch mean 0.15.
    const r2 = tf.tensor2d([[0, 1], [1, 0], [0.5, 0.5]]);
    const b = tf.tensor3d([[[0, 1], [1, 0], [0.5, 0.5]], [[0.2, 0.6], [1.2, -0.4], [0.7, 0.1]]]);
    expect(val(lossMoments(b, r2))).toBeCloseTo(0.15, 6);
    // A covariance difference: scaling sample spread by 2 around the same mean. Σ_r = [[1/6, −1/6], [−1/6, 1/6]]; ×4 → |Δ| sum = 4·(3/6) = 2, / d² = 0.5.
    const c = tf.tensor3d([[[-0.5, 1.5], [1.5, -0.5], [0.5, 0.5]]]);
    expect(val(lossMoments(c, r2))).toBeCloseTo(0.5, 5);
    // Weighted: only the points with weight count (the two black ones → μ 0, Σ 0: |0 − 0.25| + |0 − 0.1875| = 0.4375).
    const a4 = tf.tensor3d([[[0], [0], [1], [1]]]);
    expect(val(lossMoments(a4, ref, tf.tensor3d([[[1], [1], [0], [0]]])))).toBeCloseTo(0.4375, 6);
    // Uniform weights (any scale) = unweighted.
    expect(val(lossMoments(a, ref, tf.tensor3d([[[3], [3], [3], [3]]])))).toBeCloseTo(0.5, 6);
    // The gradient moves the mean toward the reference's.
    const g = tf.grad((x: tf.Tensor) => lossMoments(x as tf.Tensor3D, ref))(a);
    const gv = Array.from(g.dataSync());
    expect(gv.every(Number.isFinite)).toBe(true);
    expect(gv.reduce((s, v) => s + v, 0)).toBeGreaterThan(0);
  });

  it('sliced colour distance: hand values on one axis; proportions matter; gradient = sign / count', () => {
    const e = tf.tensor2d([[1, 0, 0]]); // one projection: the first coordinate
    const ref = tf.tensor2d([[0, 0, 0], [0, 5, 5], [0, 1, 0], [1, 0, 0]]); // projected: 0, 0, 0, 1
    // Same colours, other proportions (1 black, 3 white) — the REMD sees no difference: quantiles 0,0,0,1 vs 0,1,1,1 → 2/4.
    const a = tf.tensor3d([[[0, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]]]);
    expect(val(lossSlicedWasserstein(a, slicedReference(ref, e), e))).toBeCloseTo(0.5, 6);
    // A permutation of the reference's projections is at distance 0; order of points is irrelevant.
    expect(val(lossSlicedWasserstein(tf.tensor3d([[[1, 9, 9], [0, 0, 0], [0, 2, 0], [0, 0, 0]]]), slicedReference(ref, e), e))).toBeCloseTo(0, 6);
    // n ≠ m: 2 points against the 4 quantiles → quantiles at (k + ½)/2 of 4 sorted values: positions 1 and 3 (0 and 1).
    expect(val(lossSlicedWasserstein(tf.tensor3d([[[0.5, 0, 0], [0.5, 0, 0]]]), slicedReference(ref, e), e))).toBeCloseTo(0.5, 6);
    // Weighted: only the two black points count (weights 1, 1, 0, 0): mid cumulative weights ¼, ¾ → quantiles 0 and 1 → (0 + 1)/2.
    const a4 = tf.tensor3d([[[0, 0, 0], [0, 0, 0], [1, 0, 0], [1, 0, 0]]]);
    expect(val(lossSlicedWasserstein(a4, slicedReference(ref, e), e, tf.tensor3d([[[1], [1], [0], [0]]])))).toBeCloseTo(0.5, 6);
    // Uniform weights of any scale = unweighted.
    expect(val(lossSlicedWasserstein(a, slicedReference(ref, e), e, tf.tensor3d([[[3], [3], [3], [3]]])))).toBeCloseTo(0.5, 6);
    // Gradient: each point toward its matched quantile, ±1/(N·K·n).
    const g = Array.from(tf.grad((x: tf.Tensor) => lossSlicedWasserstein(x as tf.Tensor3D, slicedReference(ref, e), e))(a).dataSync());
    // the three points at 1 match quantiles 0, 0, 1 (ties in any order): two of them get +1/4, one 0 (exactly matched).
    expect(g.filter((_, i) => i % 3 === 0).sort()).toEqual([0, 0, 0.25, 0.25]);
    expect(g.filter((_, i) => i % 3 !== 0).every((v) => v === 0)).toBe(true);
    // The hemisphere directions are unit vectors with z > 0.
    const d = hemisphereDirections(8);
    for (let k = 0; k < 8; k++) {
      expect(Math.hypot(d[k * 3], d[k * 3 + 1], d[k * 3 + 2])).toBeCloseTo(1, 6);
      expect(d[k * 3 + 2]).toBeGreaterThan(0);
    }
  });

  it('soft foreground: near side of the depth midpoint → 1, far side → 0, per image', () => {
    // Image 1: head at 2, backdrop at 4 (midpoint 3); image 2: head at 10, backdrop at 11.
    const d = tf.tensor4d([2, 2, 4, 4, 10, 11, 11, 11], [2, 2, 2, 1]);
    const f = Array.from(softForeground(d).dataSync());
    expect(f.map((v) => Math.round(v))).toEqual([1, 1, 0, 0, 1, 0, 0, 0]);
    expect(Math.min(f[0], f[1], f[4])).toBeGreaterThan(0.99);
    expect(Math.max(f[2], f[3], f[5])).toBeLessThan(0.01);
  });

  it('colour tokens area-down-sample the image to the grid, then sample it', () => {
    // 4×4 image, left half −1, right half +1 (all channels); on a 2×2 grid the cells are −1, +1, −1, +1.
    const img = tf.tensor4d(Array.from({ length: 48 }, (_, i) => (Math.floor(i / 3) % 4 < 2 ? -1 : 1)), [1, 4, 4, 3]);
    const t = colourTokens(img, gridPoints(2), 2);
    expect(t.shape).toEqual([1, 4, 3]);
    expect(Array.from(t.dataSync())).toEqual([-1, -1, -1, 1, 1, 1, -1, -1, -1, 1, 1, 1].map((v) => expect.closeTo(v, 6)));
  });

  it('points by box: the grid cells whose centres lie inside it, and the rest, in order', () => {
    const { inside, outside } = pointsByBox(gridPoints(4), { x: 0.25, y: 0.5, width: 0.5, height: 0.5 });
    expect(Array.from(inside)).toEqual([0.375, 0.625, 0.625, 0.625, 0.375, 0.875, 0.625, 0.875]);
    expect(outside).toHaveLength(2 * 12);
    expect(Array.from(outside.slice(0, 4))).toEqual([0.125, 0.125, 0.375, 0.125]);
    expect(pointsByBox(gridPoints(4), { x: 0.9, y: 0.9, width: 0.05, height: 0.05 }).inside).toHaveLength(0);
    // the studio's face box on the default 40² grid: 20 columns × 22 rows
    expect(pointsByBox(gridPoints(40), { x: 0.25, y: 0.25, width: 0.5, height: 0.55 }).inside).toHaveLength(2 * 20 * 22);
  });

  it('sampled hypercolumns are differentiable w.r.t. every map', () => {
    const p = samplePoints(new Random(3), 4, 6);
    const ref = tf.randomNormal([10, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const maps = [tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 2), tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 3)] as tf.Tensor4D[];
    const grads = tf.grads((m1: tf.Tensor, m2: tf.Tensor) => lossRemd(hypercolumnTokens([m1 as tf.Tensor4D, m2 as tf.Tensor4D], p), ref))(maps);
    for (const g of grads) {
      const v = Array.from(g.dataSync());
      expect(v.every(Number.isFinite)).toBe(true);
      expect(v.some((x) => x !== 0)).toBe(true);
    }
  });
});

// The four losses on this leg's backend (wasm, or webgpu with `npm run test:webgpu`) against the cpu
// backend, value and gradient w.r.t. the adapted side, on random inputs at small shapes.
describeBackends('the four losses against the cpu oracle, forward and backward', (suite) => {
  const rng = new Random(41);
  const data = {
    embA: rng.normalArray(2 * 16), embS: rng.normalArray(2 * 16), dir: rng.normalArray(16),
    tokA: rng.normalArray(2 * 9 * 8), tokS: rng.normalArray(2 * 9 * 8), tokR: rng.normalArray(12 * 8),
    imgA: rng.normalArray(2 * 16 * 16 * 3), imgS: rng.normalArray(2 * 16 * 16 * 3),
    mapA: rng.normalArray(2 * 6 * 6 * 5), mapS: rng.normalArray(2 * 6 * 6 * 5),
  };
  const cases: [string, (a: tf.Tensor) => tf.Scalar, () => tf.Tensor][] = [
    ['L_dir', (a) => lossDirection(a as tf.Tensor2D, tf.tensor2d(data.embS, [2, 16]), tf.tensor1d(data.dir)), () => tf.tensor2d(data.embA, [2, 16])],
    ['L_dis (cosine REMD)', (a) => lossRemd(a as tf.Tensor3D, tf.tensor2d(data.tokR, [12, 8])), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_dis (euclidean REMD)', (a) => lossRemd(a as tf.Tensor3D, tf.tensor2d(data.tokR, [12, 8]), 'euclidean'), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_dis (colour moments)', (a) => lossMoments(a as tf.Tensor3D, tf.tensor2d(data.tokR, [12, 8])), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_dis (weighted colour moments)', (a) => lossMoments(a as tf.Tensor3D, tf.tensor2d(data.tokR, [12, 8]), softForeground(tf.tensor4d(data.mapS.slice(0, 18), [2, 3, 3, 1])).reshape([2, 9, 1]) as tf.Tensor3D), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_dis (sliced colour distance)', (a) => lossSlicedWasserstein(a as tf.Tensor3D, slicedReference(tf.tensor2d(data.tokR.slice(0, 36), [12, 3]), tf.tensor2d(hemisphereDirections(6), [6, 3])), tf.tensor2d(hemisphereDirections(6), [6, 3])), () => tf.tensor3d(data.tokA.slice(0, 54), [2, 9, 3])],
    ['L_dis (weighted sliced colour distance)', (a) => lossSlicedWasserstein(a as tf.Tensor3D, slicedReference(tf.tensor2d(data.tokR.slice(0, 36), [12, 3]), tf.tensor2d(hemisphereDirections(6), [6, 3])), tf.tensor2d(hemisphereDirections(6), [6, 3]), softForeground(tf.tensor4d(data.mapS.slice(0, 18), [2, 3, 3, 1])).reshape([2, 9, 1]) as tf.Tensor3D), () => tf.tensor3d(data.tokA.slice(0, 54), [2, 9, 3])],
    ['L_F-str (selfsim-mse)', (a) => lossFeatureStructure(a as tf.Tensor3D, tf.tensor3d(data.tokS, [2, 9, 8]), 'selfsim-mse'), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_F-str (selfsim-l1)', (a) => lossFeatureStructure(a as tf.Tensor3D, tf.tensor3d(data.tokS, [2, 9, 8]), 'selfsim-l1'), () => tf.tensor3d(data.tokA, [2, 9, 8])],
    ['L_I-str (lowres-l1)', (a) => lossImageStructureLowres(a as tf.Tensor4D, tf.tensor4d(data.imgS, [2, 16, 16, 3]), 8), () => tf.tensor4d(data.imgA, [2, 16, 16, 3])],
    ['L_I-str (lowres-l1-standardized)', (a) => lossImageStructureLowres(a as tf.Tensor4D, tf.tensor4d(data.imgS, [2, 16, 16, 3]), 8, true), () => tf.tensor4d(data.imgA, [2, 16, 16, 3])],
    ['L_I-str (feature-selfsim)', (a) => lossImageStructureFeatureSelfSim(a as tf.Tensor4D, tf.tensor4d(data.mapS, [2, 6, 6, 5]), 3), () => tf.tensor4d(data.mapA, [2, 6, 6, 5])],
  ];
  const run = async (loss: (a: tf.Tensor) => tf.Scalar, input: () => tf.Tensor) => {
    const before = tf.memory().numTensors;
    const out = await readAll(tf.tidy(() => {
      const { value, grad } = tf.valueAndGrad(loss)(input());
      return { value, grad };
    }));
    expect(tf.memory().numTensors).toBe(before);
    return out;
  };
  for (const [name, loss, input] of cases) {
    it(`${name}: value and gradient`, async () => {
      const ref = await suite.oracle(() => run(loss, input));
      const got = await run(loss, input);
      // float32 on both sides; the losses end in means over ≤ 10³ terms and (REMD) min-reductions.
      suite.check(`${name} value`, got.value, ref.value, 1e-5);
      suite.check(`${name} gradient`, got.grad, ref.grad, 1e-4);
      expect(Array.from(ref.grad).some((v) => v !== 0)).toBe(true);
    });
  }
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import {
  DIRECTION_EPS,
  lossDirection,
  lossFeatureStructure,
  lossImageStructureFeatureSelfSim,
  lossImageStructureLowres,
  lossRemd,
  meanDirection,
  referenceDirection,
} from './losses.ts';

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

  it("L_I-str 'feature-selfsim': L1 between self-similarity of pooled feature images", () => {
    const adapted = tf.tensor4d([[[[1, 0], [0, 1]], [[1, 0], [0, 1]]]]);
    const source = tf.tensor4d([[[[1, 0], [1, 0]], [[1, 0], [1, 0]]]]);
    // source: all four positions identical (sim 1); adapted: 8 of 16 pairs orthogonal (sim 0)
    expect(val(lossImageStructureFeatureSelfSim(adapted, source, 2))).toBeCloseTo(0.5, 6);
    // pooling 2×2 → one position each, self-similarity [[1]] for both → 0
    expect(val(lossImageStructureFeatureSelfSim(adapted, source, 1))).toBeCloseTo(0, 6);
  });
});

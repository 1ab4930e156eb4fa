import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { gatherRows, GatherError, permuteRows } from './gather.ts';

describeBackends('gatherRows / permuteRows (wasm has no UnsortedSegmentSum)', () => {
  it('gatherRows: forward = tf.gather, gradient sums duplicate rows', async () => {
    const rng = new Random(1);
    const table = tf.tensor2d(rng.normalArray(6 * 3), [6, 3]);
    const idx = new Int32Array([4, 0, 4, 2, 4]);
    const w = rng.normalArray(5 * 3);
    const out = gatherRows(table, idx);
    const idxT = tf.tensor1d(idx, 'int32');
    const direct = tf.gather(table, idxT);
    expect(Array.from(await out.data())).toEqual(Array.from(await direct.data()));
    tf.dispose([idxT, direct]);
    const before = tf.memory().numTensors;
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(gatherRows(t, idx), tf.tensor2d(w, [5, 3]))))(table);
    const expected = new Float64Array(6 * 3);
    idx.forEach((r, i) => {
      for (let c = 0; c < 3; c++) expected[r * 3 + c] += w[i * 3 + c];
    });
    const got = await g.data();
    expected.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    g.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(() => gatherRows(table, tf.tensor1d([1, 2]) as tf.Tensor1D)).toThrow(GatherError);
    tf.dispose([table, out]);
  });

  it('permuteRows: forward = table[perm], gradient = inverse permutation of dy, rank-3 rows', async () => {
    const rng = new Random(2);
    const n = 50;
    const table = tf.tensor3d(rng.normalArray(n * 2 * 3), [n, 2, 3]);
    const permArr = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [permArr[i], permArr[j]] = [permArr[j], permArr[i]];
    }
    const perm = tf.tensor1d(permArr, 'int32');
    const out = permuteRows(table, perm);
    const t = await table.array();
    expect(await out.array()).toEqual(permArr.map((p) => t[p]));
    const w = tf.tensor3d(rng.normalArray(n * 2 * 3), [n, 2, 3]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(permuteRows(x, perm), w)))(table);
    const wa = await w.array();
    const expected = new Array(n);
    permArr.forEach((p, i) => (expected[p] = wa[i]));
    expect(await g.array()).toEqual(expected);
    expect(() => permuteRows(table, tf.tensor1d([0, 1], 'int32'))).toThrow(GatherError);
    tf.dispose([table, perm, out, w, g]);
  });
});

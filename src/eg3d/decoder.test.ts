import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { compareArrays } from '../testing/compare.ts';
import { Random } from '../core/random.ts';
import { decodePacked, decodeTriplaneFeatures, DecoderError, stableSoftplus } from './decoder.ts';

/** The OSGDecoder written with plain tf ops (tfjs's own autodiff) as the reference. */
function plainDecoder(f: tf.Tensor2D, w0: tf.Tensor, b0: tf.Tensor, w1: tf.Tensor, b1: tf.Tensor, lrMul: number): tf.Tensor2D {
  const h = tf.softplus(tf.add(tf.matMul(f, tf.mul(w0, lrMul / Math.sqrt(32)) as tf.Tensor2D), tf.mul(b0, lrMul)));
  const o = tf.add(tf.matMul(h as tf.Tensor2D, tf.mul(w1, lrMul / 8) as tf.Tensor2D), tf.mul(b1, lrMul));
  const p = f.shape[0];
  return tf.concat([tf.slice(o, [0, 0], [p, 1]), tf.sub(tf.mul(tf.sigmoid(tf.slice(o, [0, 1], [p, 32])), 1.002), 0.001)], 1) as tf.Tensor2D;
}

describeBackends('OSGDecoder (Tri-D) with the recompute gradient', (suite) => {
  it('forward and gradients match plain tf ops (also with decoder_lr_mul ≠ 1 and blocked reductions)', async () => {
    const rng = new Random(4);
    const p = 300;
    const f = tf.tensor2d(rng.normalArray(p * 32), [p, 32]);
    const params = [tf.tensor2d(rng.normalArray(32 * 64), [32, 64]), tf.tensor1d(rng.normalArray(64)), tf.tensor2d(rng.normalArray(64 * 33), [64, 33]), tf.tensor1d(rng.normalArray(33))];
    const r = tf.tensor2d(rng.normalArray(p * 33), [p, 33]);
    const keys = ['decoder.net.0.weight', 'decoder.net.0.bias', 'decoder.net.2.weight', 'decoder.net.2.bias'];
    for (const lrMul of [1, 0.3]) {
      const before = tf.memory().numTensors;
      const ours = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) =>
        tf.sum(tf.mul(decodePacked(f, new Map(keys.map((k, i) => [k, [a, b, c, d][i]])), { lrMul, reductionBlock: 64 }), r)),
      )(params);
      const plain = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(plainDecoder(f, a, b, c, d, lrMul), r)))(params);
      for (const [i, g] of ours.entries()) {
        const pg = await plain[i].data();
        const og = await g.data();
        let err = 0;
        let mag = 0;
        for (let j = 0; j < pg.length; j++) {
          err = Math.max(err, Math.abs(og[j] - pg[j]));
          mag = Math.max(mag, Math.abs(pg[j]));
        }
        suite.record(compareArrays(suite.backend, `grad ${keys[i]} (lr_mul ${lrMul})`, og, pg, 1e-5));
        expect(err / mag).toBeLessThan(1e-5);
      }
      const fwd = decodePacked(f, new Map(keys.map((k, i) => [k, params[i]])), { lrMul });
      const pf = tf.tidy(() => plainDecoder(f, params[0], params[1], params[2], params[3], lrMul));
      const a = await fwd.data();
      const b = await pf.data();
      for (let j = 0; j < a.length; j++) expect(Math.abs(a[j] - b[j])).toBeLessThan(1e-5 * Math.max(1, Math.abs(b[j])));
      tf.dispose([...ours, ...plain, fwd, pf]);
      expect(tf.memory().numTensors).toBe(before);
    }
    const split = decodeTriplaneFeatures(f, new Map(keys.map((k, i) => [k, params[i]])));
    expect(split.sigma.shape).toEqual([p, 1]);
    expect(split.rgb.shape).toEqual([p, 32]);
    const rgb = await split.rgb.data();
    expect(Math.min(...rgb)).toBeGreaterThanOrEqual(-0.001);
    expect(Math.max(...rgb)).toBeLessThanOrEqual(1.001);
    tf.dispose([f, r, ...params, split.sigma, split.rgb]);
  });

  it('stableSoftplus is accurate to float32 resolution across the range (absolute error)', async () => {
    const xs = [-30, -10, -1e-3, 0, 0.5, 10, 19, 25, 80];
    const x = tf.tensor1d(xs);
    const y = stableSoftplus(x);
    const got = await y.data();
    tf.dispose([x, y]);
    xs.forEach((x, i) => {
      const want = x > 20 ? x : Math.log1p(Math.exp(x));
      // wasm's log1p is log(1 + y) in float32, so tiny values carry an absolute error ≤ ~6e−8.
      expect(Math.abs(got[i] - want)).toBeLessThanOrEqual(1.2e-7 * Math.max(1, Math.abs(want)));
    });
  });

  it('reports missing or inconsistent weights', () => {
    const f = tf.zeros([2, 32]) as tf.Tensor2D;
    expect(() => decodePacked(f, new Map())).toThrow(DecoderError);
    const bad = new Map<string, tf.Tensor>([
      ['decoder.net.0.weight', tf.zeros([32, 64])],
      ['decoder.net.0.bias', tf.zeros([63])],
      ['decoder.net.2.weight', tf.zeros([64, 33])],
      ['decoder.net.2.bias', tf.zeros([33])],
    ]);
    expect(() => decodePacked(f, bad)).toThrow(/inconsistent shapes/);
    tf.dispose([f, ...bad.values()]);
  });
});

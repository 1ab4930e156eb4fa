import { it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends, readAll, readScalar } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { biasAct, fullyConnected, normalize2ndMoment, blockedColumnSum } from './fc.ts';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => readScalar(tf.tidy(() => tf.max(tf.abs(tf.sub(a, b)))));

describeBackends('bias_act and the equalized FC layer', () => {
  for (const cfg of [
    { act: 'lrelu' as const, clamp: 1.5, bias: true },
    { act: 'lrelu' as const, clamp: null, bias: false },
    { act: 'linear' as const, clamp: 0.8, bias: true },
  ]) {
    it(`custom op matches plain ops, value and gradients (${JSON.stringify(cfg)})`, async () => {
      const rng = new Random(11);
      const x = tf.tensor4d(rng.normalArray(2 * 5 * 4 * 6), [2, 5, 4, 6]);
      const b = tf.tensor1d(rng.normalArray(6));
      const r = tf.tensor4d(rng.normalArray(2 * 5 * 4 * 6), [2, 5, 4, 6]);
      const gain = cfg.act === 'lrelu' ? Math.SQRT2 : 1;
      const plain = (xv: tf.Tensor, bv: tf.Tensor) => {
        let y = cfg.bias ? tf.add(xv, bv) : xv;
        if (cfg.act === 'lrelu') y = tf.leakyRelu(y, 0.2);
        y = tf.mul(y, gain);
        return cfg.clamp === null ? y : tf.clipByValue(y, -cfg.clamp, cfg.clamp);
      };
      const mine = (xv: tf.Tensor, bv: tf.Tensor) => biasAct(xv, cfg.bias ? (bv as tf.Tensor1D) : null, { act: cfg.act, clamp: cfg.clamp });
      const before = tf.memory().numTensors;
      const [y1, y2] = tf.tidy(() => [mine(x, b), plain(x, b)]);
      expect(await maxDiff(y1, y2)).toBeLessThan(1e-6);
      const inputs = cfg.bias ? [x, b] : [x];
      const g1 = tf.grads((xv: tf.Tensor, bv?: tf.Tensor) => tf.sum(tf.mul(mine(xv, bv ?? b), r)))(inputs);
      const g2 = tf.grads((xv: tf.Tensor, bv?: tf.Tensor) => tf.sum(tf.mul(plain(xv, bv ?? b), r)))(inputs);
      expect(await maxDiff(g1[0], g2[0])).toBeLessThan(1e-6);
      if (cfg.bias) expect(await maxDiff(g1[1], g2[1])).toBeLessThan(1e-5);
      tf.dispose([y1, y2, ...g1, ...g2]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, b, r]);
    });
  }

  it('FC applies lr_mul / sqrt(in) to the weight and lr_mul to the bias', async () => {
    const y = (await readAll({ y: tf.tidy(() => fullyConnected(tf.tensor2d([[1, 2, 3, 4]]), tf.ones([4, 2]) as tf.Tensor2D, tf.tensor1d([1, -1]), { lrMul: 0.5 })) })).y;
    // 10 · 0.5/2 + 1·0.5 = 3, 2.5 − 0.5 = 2
    expect(Array.from(y)).toEqual([3, 2]);
    const n = (await readAll({ n: tf.tidy(() => normalize2ndMoment(tf.tensor2d([[3, 4]]))) })).n;
    expect(n[0] ** 2 + n[1] ** 2).toBeCloseTo(2, 5);
  });

  it('blocked column sums equal plain sums', async () => {
    const rng = new Random(12);
    const x = tf.tensor2d(rng.normalArray(70000 * 2), [70000, 2]);
    const [blocked, plain] = [blockedColumnSum(x), tf.sum(x, 0)];
    expect(await maxDiff(blocked, plain)).toBeLessThan(1e-2);
    tf.dispose([x, blocked, plain]);
  });
});

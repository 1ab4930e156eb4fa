import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { tfToTorchAsync, torchToTf, torchToTfLayout } from './weights.ts';

describeBackends('weight layouts (PyTorch → port, converted on the CPU at load)', () => {
  it('FC [out,in] → [in,out] and conv [out,in,kh,kw] → [kh,kw,in,out] equal tf.transpose; others unchanged; tfToTorch inverts', async () => {
    const rng = new Random(3);
    const cases: [string, number[], number[]][] = [
      ['a.fc.weight', [37, 70], [1, 0]],
      ['b.conv0.weight', [33, 35, 3, 3], [2, 3, 1, 0]],
      ['c.torgb.weight', [3, 40, 1, 1], [2, 3, 1, 0]],
      ['d.noise_const', [8, 8], [0, 1]],
    ];
    const before = tf.memory().numTensors;
    for (const [name, shape, perm] of cases) {
      const data = rng.normalArray(shape.reduce((a, b) => a * b, 1));
      const t = torchToTf(name, shape, data.slice());
      const want = tf.tidy(() => tf.transpose(tf.tensor(data, shape), perm));
      expect(t.shape, name).toEqual(want.shape);
      expect(Array.from(await t.data()), name).toEqual(Array.from(await want.data()));
      const back = await tfToTorchAsync(name, t);
      expect(back.shape).toEqual(shape);
      expect(Array.from(back.data)).toEqual(Array.from(data));
      t.dispose();
      want.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('copies a borrowed array that needs no permutation, and keeps an owned one', () => {
    const data = Float32Array.from([1, 2, 3]);
    expect(torchToTfLayout('x.bias', [3], data, true).data).toBe(data);
    const copy = torchToTfLayout('x.bias', [3], data, false).data;
    expect(copy).not.toBe(data);
    expect(Array.from(copy)).toEqual([1, 2, 3]);
  });
});

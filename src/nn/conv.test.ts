import { it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends, readAll, testBackend } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { conv2d } from './conv.ts';

/** Native tfjs conv gradients on the pure-JS cpu backend (it has Conv2DBackpropFilter). */
async function nativeOnCpu(x: Float32Array, xs: number[], w: Float32Array, ws: number[], dy: Float32Array, dys: number[], stride: number, pad: number) {
  await tf.setBackend('cpu');
  try {
    return tf.tidy(() => {
      const xt = tf.tensor4d(x, xs as [number, number, number, number]);
      const wt = tf.tensor4d(w, ws as [number, number, number, number]);
      const f = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(tf.pad(a as tf.Tensor4D, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), b as tf.Tensor4D, stride, 'valid'), tf.tensor(dy, dys)));
      const [gx, gw] = tf.grads(f)([xt, wt]);
      const y = tf.conv2d(tf.pad(xt, [[0, 0], [pad, pad], [pad, pad], [0, 0]]), wt, stride, 'valid');
      return { y: y.dataSync().slice(), gx: gx.dataSync().slice(), gw: gw.dataSync().slice() };
    });
  } finally {
    await tf.setBackend(testBackend());
  }
}

describeBackends('conv2d with custom filter gradient', (b) => {
  for (const [stride, pad, k] of [[1, 1, 3], [2, 0, 3], [1, 0, 1]] as const) {
    it(`matches native gradients (stride ${stride}, pad ${pad}, k ${k})`, async () => {
      const rng = new Random(7 + stride + pad + k);
      const xs = [2, 9, 8, 5];
      const ws = [k, k, 5, 4];
      const x = rng.normalArray(xs.reduce((a, b) => a * b));
      const w = rng.normalArray(ws.reduce((a, b) => a * b));
      const ho = Math.floor((9 + 2 * pad - k) / stride) + 1;
      const wo = Math.floor((8 + 2 * pad - k) / stride) + 1;
      const dy = rng.normalArray(2 * ho * wo * 4);
      const ref = await nativeOnCpu(x, xs, w, ws, dy, [2, ho, wo, 4], stride, pad);
      const before = tf.memory().numTensors;
      const out = await readAll(tf.tidy(() => {
        const xt = tf.tensor4d(x, xs as [number, number, number, number]);
        const wt = tf.tensor4d(w, ws as [number, number, number, number]);
        const f = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv2d(a as tf.Tensor4D, b as tf.Tensor4D, stride, pad), tf.tensor(dy).reshape([2, ho, wo, 4])));
        const [gx, gw] = tf.grads(f)([xt, wt]);
        const y = conv2d(xt, wt, stride, pad);
        expect(y.shape).toEqual([2, ho, wo, 4]);
        return { y, gx, gw };
      }));
      expect(tf.memory().numTensors).toBe(before);
      b.check(`y (stride ${stride}, pad ${pad}, k ${k})`, out.y, ref.y, 1e-4, { mode: 'abs' });
      b.check(`gx (stride ${stride}, pad ${pad}, k ${k})`, out.gx, ref.gx, 1e-4, { mode: 'abs' });
      b.check(`gw (stride ${stride}, pad ${pad}, k ${k})`, out.gw, ref.gw, 1e-4, { mode: 'abs' });
    });
  }

  it("supports TF 'same' padding and rejects channel mismatches", () => {
    const y = tf.tidy(() => conv2d(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 2, 1]), 2, 'same').shape);
    expect(y).toEqual([1, 3, 3, 1]);
    expect(() => conv2d(tf.ones([1, 5, 5, 2]), tf.ones([3, 3, 3, 1]))).toThrow(/channels/);
  });
});

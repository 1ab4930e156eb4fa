/**
 * The CPU twin of the fused per-point kernels against the generic path (points as tf ops, the
 * tri-plane sampler, `decodePacked` with tfjs autodiff through its custom gradient), computed on the
 * cpu backend (the oracle). Forward outputs and the four decoder gradients at ≤ 1e-5 relative.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { fusedDecoderCase } from '../testing/fused-decoder-case.ts';
import { DECODER_KEYS, decodePacked } from './decoder.ts';
import { sampleTriplanes } from './triplane.ts';
import { twinBackward, twinForward } from './fused-decoder-twin.ts';

describeBackends('fused per-point twin (plain TS) vs the generic path', (suite) => {
  for (const lrMul of [1, 0.3]) {
    it(`forward and decoder gradients match sampler + decodePacked on the cpu backend (lr_mul ${lrMul})`, async () => {
      const { samples, decoder, dy, rays } = fusedDecoderCase(11, 23, 13, lrMul);
      const k = samples.perRay;
      const generic = await suite.oracle(async () => {
        const before = tf.memory().numTensors;
        const planes = tf.tensor5d(samples.planes, [2, 3, samples.geom.height, samples.geom.width, 32]);
        const o = tf.tensor2d(samples.origins, [rays, 3]);
        const d = tf.tensor2d(samples.directions, [rays, 3]);
        const t = tf.tensor2d(samples.depths, [rays, k]);
        const params = [tf.tensor2d(decoder.w0, [32, 64]), tf.tensor1d(decoder.b0), tf.tensor2d(decoder.w1, [64, 33]), tf.tensor1d(decoder.b1)];
        const dyT = tf.tensor3d(dy, [rays, k, 33]);
        // The renderer's generic path: points with tf ops, sampler, decoder.
        const features = tf.tidy(() => {
          const pts = tf.reshape(tf.add(tf.expandDims(o, 1), tf.mul(tf.expandDims(t, 2), tf.expandDims(d, 1))), [1, rays * k, 3]) as tf.Tensor3D;
          // Batch element 1: sample both elements' planes at the same points and keep the second.
          const both = sampleTriplanes(planes, tf.concat([pts, pts]) as tf.Tensor3D, samples.boxWarp);
          return tf.reshape(tf.slice(both, [1, 0, 0], [1, rays * k, 32]), [rays * k, 32]) as tf.Tensor2D;
        });
        const decode = (w: tf.Tensor[]) => decodePacked<tf.Tensor3D>(features, new Map(DECODER_KEYS.map((key, i) => [key, w[i]])), { lrMul, outputShape: [rays, k, -1] });
        const out = decode(params);
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, e: tf.Tensor) => tf.sum(tf.mul(decode([a, b, c, e]), dyT)))(params);
        const read = async (x: tf.Tensor) => Float32Array.from(await x.data());
        const r = { out: await read(out), g: await Promise.all(grads.map(read)) };
        tf.dispose([planes, o, d, t, dyT, features, out, ...params, ...grads]);
        expect(tf.memory().numTensors).toBe(before);
        return r;
      });
      const fwd = twinForward(samples, decoder);
      const g = twinBackward(samples, decoder, dy);
      suite.check('forward [P, 33]', fwd, generic.out, 1e-5);
      // The far-away samples have zero features: their σ is the decoder of 0.
      expect(fwd.subarray(0, 33).some((v) => v !== 0)).toBe(true);
      const names = ['dW0', 'dB0', 'dW1', 'dB1'] as const;
      names.forEach((name, i) => suite.check(`${name} (lr_mul ${lrMul})`, g[name], generic.g[i], 1e-5));
      for (const name of names) expect(g[name].some((v) => v !== 0)).toBe(true);
    });
  }

  it('rejects mismatched shapes with a typed error', () => {
    const { samples, decoder, dy } = fusedDecoderCase(2, 3, 4);
    expect(() => twinForward({ ...samples, perRay: 5 }, decoder)).toThrow(/rays do not match/);
    expect(() => twinBackward(samples, decoder, dy.subarray(1))).toThrow(/dy has/);
    expect(() => twinForward(samples, { ...decoder, inF: 16 })).toThrow(/channels/);
  });
}, { only: ['wasm'], reason: 'plain TS against the cpu oracle; the webgpu leg tests the kernels against this twin' });

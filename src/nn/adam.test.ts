import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends } from '../testing/backends.ts';
import { NamedAdam, type AdamConfig } from './adam.ts';

/** PyTorch's Adam (bias-corrected moments, eps added to sqrt(v̂)) in float64. */
function adamReference(p0: Float32Array, grads: Float32Array[], c: AdamConfig, scales: number[]): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      m[i] = c.beta1 * m[i] + (1 - c.beta1) * g[i];
      v[i] = c.beta2 * v[i] + (1 - c.beta2) * g[i] * g[i];
      const mh = m[i] / (1 - c.beta1 ** t);
      const vh = v[i] / (1 - c.beta2 ** t);
      p[i] -= c.learningRate * scales[s] * (mh / (Math.sqrt(vh) + c.epsilon));
    }
  });
  return p;
}

describeBackends('NamedAdam', (suite) => {
  it('follows PyTorch Adam over several steps (lr scale, per-parameter scale, missing gradient), and resumes exactly from its state', async () => {
    const rng = new Random(17);
    // DiFa's betas (0, 0.992) and the usual (0.9, 0.999).
    for (const config of [{ learningRate: 0.0016, beta1: 0, beta2: 0.992, epsilon: 1e-8 }, { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 }]) {
      const a0 = rng.normalArray(12);
      const b0 = rng.normalArray(5);
      const steps = 4;
      const gA = Array.from({ length: steps }, () => rng.normalArray(12));
      const gB = Array.from({ length: steps }, () => rng.normalArray(5));
      const lrScales = [1, 0.5, 1, 2];
      const before = tf.memory().numTensors;
      const a = tf.tidy(() => tf.variable(tf.tensor1d(a0), true));
      const b = tf.tidy(() => tf.variable(tf.tensor2d(b0, [1, 5]), true));
      const params = new Map<string, tf.Variable>([['a', a], ['b', b]]);
      let opt = new NamedAdam(config, params);
      for (let s = 0; s < steps; s++) {
        if (s === 2) {
          // Resume from the serialised state in a fresh optimiser: the rest must be unchanged.
          const state = await opt.getState();
          opt.dispose();
          opt = new NamedAdam(config, params);
          opt.setState(state);
          expect(opt.steps).toBe(2);
        }
        const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d(gA[s])], ['b', tf.tensor2d(gB[s], [1, 5])]]);
        opt.apply(grads, lrScales[s], (name) => (name === 'b' ? 0.25 : 1));
        tf.dispose([...grads.values()]);
      }
      // 'b' gets its own 0.25 scale.
      const refA = adamReference(a0, gA, config, lrScales);
      const refB = adamReference(b0, gB, config, lrScales.map((x) => x * 0.25));
      const gotA = await a.data();
      const gotB = await b.data();
      // Relative to the parameter change (≈ 4 steps × lr): the parameters are float32 near 1, so each
      // step rounds to ~6e-8 (half an ulp), ~2.4e-7 after four — 1e-3 of the smallest change (lr 0.0016 × 0.25).
      const moved = (got: ArrayLike<number>, p0: Float32Array) => Array.from(got, (x, i) => x - p0[i]);
      suite.check(`Δa (betas ${config.beta1}, ${config.beta2})`, moved(gotA, a0), moved(refA, a0), 1e-3);
      suite.check(`Δb (betas ${config.beta1}, ${config.beta2})`, moved(gotB, b0), moved(refB, b0), 1e-3);
      // A parameter without a gradient is left alone and its moments do not advance.
      const c = tf.tidy(() => tf.variable(tf.tensor1d([1, 2]), true));
      const solo = new NamedAdam(config, new Map([['c', c], ['a', a]]));
      const ga = tf.tensor1d(gA[0]);
      solo.apply(new Map([['a', ga]]));
      expect(Array.from(await c.data())).toEqual([1, 2]);
      expect(Array.from((await solo.getState()).m.get('c')!)).toEqual([0, 0]);
      solo.dispose();
      opt.dispose();
      tf.dispose([a, b, c, ga]);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

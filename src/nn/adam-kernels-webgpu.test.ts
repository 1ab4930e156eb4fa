/**
 * The fused Adam WGSL kernels (adam-kernels-webgpu.ts) on the webgpu backend against their plain-TS
 * twin (adam-kernels.ts; the twin is checked against the generic tf path in adam-kernels.test.ts), one
 * update at a time over several steps (the bias corrections change with t) from the kernels' own
 * state, for DiFa's betas (0, 0.992) and (0.9, 0.999), sizes 1, 63, 65, 1000 and 4099 (not multiples
 * of the 64-invocation workgroup), lr and per-parameter scales; and NamedAdam with the kernels against
 * the generic NamedAdam on the same backend over 3 steps (rank 0, 1, 2 and 4 parameters, a missing
 * gradient, resuming through getState / setState), with no tensor left behind by `apply`.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { NamedAdam, type AdamConfig, type AdamImpl } from './adam.ts';
import { adamStepScalars, adamUpdate } from './adam-kernels.ts';
import { adamUpdateKernels } from './adam-kernels-webgpu.ts';

const CONFIGS: AdamConfig[] = [
  { learningRate: 0.0016, beta1: 0, beta2: 0.992, epsilon: 1e-8 },
  { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
];

describeBackends('fused Adam WGSL kernels vs their plain-TS twin', (suite) => {
  it('adamUpdateKernels equals adamUpdate step by step (m, v, Δp)', async () => {
    const rng = new Random(41);
    for (const config of CONFIGS) {
      for (const n of [1, 63, 65, 1000, 4099]) {
        // Small parameters, so the float32 rounding of p stays far below Δp.
        let p: Float32Array = rng.normalArray(n).map((x) => 0.001 * x);
        let m: Float32Array = new Float32Array(n);
        let v: Float32Array = new Float32Array(n);
        const scales: Array<[number, number]> = [[1, 1], [0.5, 0.25], [2, 1], [1, 3]];
        for (let s = 0; s < scales.length; s++) {
          const t = s + 1;
          const g = rng.normalArray(n).map((x, i) => x * (i % 3 === 0 ? 1e-3 : 1));
          const [lrScale, paramScale] = scales[s];
          const scalars = adamStepScalars(config, t, lrScale, paramScale);
          const before = tf.memory().numTensors;
          const inputs = [g, m, v, p].map((a) => tf.tensor1d(a));
          const got = await readAll(tf.tidy(() => ({ ...adamUpdateKernels(inputs[0], inputs[1], inputs[2], inputs[3], scalars) })));
          tf.dispose(inputs);
          expect(tf.memory().numTensors).toBe(before);
          const twin = adamUpdate(g, m, v, p, scalars);
          const tag = `n ${n} (betas ${config.beta1}, ${config.beta2}, t ${t}, scales ${lrScale}·${paramScale})`;
          suite.check(`m ${tag}`, got.m, twin.m, 1e-5);
          suite.check(`v ${tag}`, got.v, twin.v, 1e-5);
          const p0 = p;
          suite.check(`Δp ${tag}`, Array.from(got.p, (y, i) => y - p0[i]), Array.from(twin.p, (y, i) => y - p0[i]), 1e-5);
          [m, v, p] = [got.m, got.v, got.p];
        }
      }
    }
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels need the webgpu backend' });

describeBackends('NamedAdam with the fused kernels vs the generic NamedAdam', (suite) => {
  it('NamedAdam with the kernels equals the generic NamedAdam over 3 steps, resumes from its state, and leaves no tensors', async () => {
    const rng = new Random(43);
    const shapes: Record<string, number[]> = { scalar: [], bias: [65], affine: [33, 17], conv: [3, 3, 5, 7] };
    const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
    for (const config of CONFIGS) {
      const init = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, rng.normalArray(size(s)).map((x) => 0.001 * x)]));
      const grads = [0, 1, 2].map(() => Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, rng.normalArray(size(s))])));
      const lrScales = [1, 0.5, 2];
      const paramScale = (name: string) => (name === 'affine' ? 0.25 : 1);
      const before = tf.memory().numTensors;
      const runWith = async (impl: AdamImpl) => {
        const params = new Map(Object.entries(shapes).map(([k, s]) => [k, tf.tidy(() => tf.variable(tf.tensor(init[k], s), true, `adam_${impl}_${k}_${config.beta1}`))]));
        let opt = new NamedAdam(config, params, { impl });
        for (let s = 0; s < 3; s++) {
          if (s === 2) {
            // Resume in a fresh optimiser from the serialised state.
            const state = await opt.getState();
            opt.dispose();
            opt = new NamedAdam(config, params, { impl });
            opt.setState(state);
          }
          // 'conv' has no gradient at step 1.
          const g = new Map(Object.entries(shapes).filter(([k]) => !(k === 'conv' && s === 1)).map(([k, sh]) => [k, tf.tensor(grads[s][k], sh)]));
          const n0 = tf.memory().numTensors;
          opt.apply(g, lrScales[s], paramScale);
          expect(tf.memory().numTensors).toBe(n0);
          tf.dispose([...g.values()]);
        }
        const state = await opt.getState();
        const p = await readAll(Object.fromEntries([...params].map(([k, x]) => [k, x])));
        opt.dispose();
        return { state, p };
      };
      const fused = await runWith('fused');
      const generic = await runWith('generic');
      expect(tf.memory().numTensors).toBe(before);
      expect(fused.state.step).toBe(3);
      for (const k of Object.keys(shapes)) {
        const tag = `${k} (betas ${config.beta1}, ${config.beta2})`;
        suite.check(`m ${tag}`, fused.state.m.get(k)!, generic.state.m.get(k)!, 1e-5);
        suite.check(`v ${tag}`, fused.state.v.get(k)!, generic.state.v.get(k)!, 1e-5);
        suite.check(`Δp ${tag}`, Array.from(fused.p[k], (y, i) => y - init[k][i]), Array.from(generic.p[k], (y, i) => y - init[k][i]), 1e-5);
      }
    }
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels need the webgpu backend' });

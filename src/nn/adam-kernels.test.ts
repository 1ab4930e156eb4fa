/**
 * The plain-TS twin of one Adam update (adam-kernels.ts, float64) against NamedAdam's generic tf-op
 * path (`impl: 'generic'`) on this leg's backend: one update from a given state (moments set through
 * `setState`, so the bias corrections are those of step t) for DiFa's betas (0, 0.992) and (0.9, 0.999),
 * steps 1, 2 and 9, sizes not a multiple of the kernels' 64-invocation workgroup, an lr scale and a
 * per-parameter scale. The WGSL kernels are checked against this twin in adam-kernels-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends } from '../testing/backends.ts';
import { NamedAdam, type AdamConfig } from './adam.ts';
import { adamStepScalars, adamUpdate } from './adam-kernels.ts';

/** A parameter's state before an update: small parameters (so float32 rounding of p stays far below Δp). */
function state(rng: Random, n: number) {
  return {
    p: rng.normalArray(n).map((x) => 0.001 * x),
    m: rng.normalArray(n).map((x) => 0.3 * x),
    v: rng.normalArray(n).map((x) => 0.25 * x * x),
    g: rng.normalArray(n),
  };
}

describeBackends('Adam twin vs the generic NamedAdam', (suite) => {
  it('adamUpdate equals one generic NamedAdam.apply from the same state (m, v, Δp)', async () => {
    const configs: AdamConfig[] = [
      { learningRate: 0.0016, beta1: 0, beta2: 0.992, epsilon: 1e-8 },
      { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
    ];
    const rng = new Random(29);
    for (const config of configs) {
      for (const t of [1, 2, 9]) {
        const a = state(rng, 100);
        const b = state(rng, 7 * 9);
        const before = tf.memory().numTensors;
        const pa = tf.tidy(() => tf.variable(tf.tensor1d(a.p), true));
        const pb = tf.tidy(() => tf.variable(tf.tensor2d(b.p, [7, 9]), true));
        const opt = new NamedAdam(config, new Map<string, tf.Variable>([['a', pa], ['b', pb]]), { impl: 'generic' });
        opt.setState({ step: t - 1, m: new Map([['a', a.m], ['b', b.m]]), v: new Map([['a', a.v], ['b', b.v]]) });
        const grads = new Map<string, tf.Tensor>([['a', tf.tensor1d(a.g)], ['b', tf.tensor2d(b.g, [7, 9])]]);
        const lrScale = 0.5;
        opt.apply(grads, lrScale, (name) => (name === 'b' ? 0.25 : 1));
        tf.dispose([...grads.values()]);
        const st = await opt.getState();
        for (const [name, x, pv, scale] of [['a', a, pa, 1], ['b', b, pb, 0.25]] as const) {
          const twin = adamUpdate(x.g, x.m, x.v, x.p, adamStepScalars(config, t, lrScale, scale));
          const got = await pv.data();
          const tag = `${name} (betas ${config.beta1}, ${config.beta2}, t ${t})`;
          suite.check(`m ${tag}`, st.m.get(name)!, twin.m, 1e-6);
          suite.check(`v ${tag}`, st.v.get(name)!, twin.v, 1e-6);
          suite.check(`Δp ${tag}`, Array.from(got, (y, i) => y - x.p[i]), Array.from(twin.p, (y, i) => y - x.p[i]), 1e-5);
        }
        expect(opt.steps).toBe(t);
        opt.dispose();
        tf.dispose([pa, pb]);
        expect(tf.memory().numTensors).toBe(before);
      }
    }
  });
});

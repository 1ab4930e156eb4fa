/**
 * The plain-TS twins of the fused per-ray kernels (ray-kernels.ts) against the generic tf-op path on
 * the cpu backend: the importance-sampling plan (`importanceDepths`), and the merge into depth order
 * (`permuteRows` by `mergeOrder`'s rows) + `compositePacked` forward and backward. The WGSL kernels are
 * checked against these twins in ray-kernels-webgpu.test.ts.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { permuteRows } from '../nn/gather.ts';
import { compositeFusedBackward, compositeFusedForward, importancePlan, stratifiedDepthsCpu, type RaySamples, type StratifiedRangeCpu } from './ray-kernels.ts';
import { randomRaySamples } from '../testing/ray-samples.ts';
import { fusedColumns } from './ray-kernels-webgpu.ts';
import { compositePacked } from './ray-marcher.ts';
import { importanceDepths, mergeOrder, stratifiedDepths } from './ray-sampler.ts';

/** The generic path: merge by `mergeOrder` rows (`permuteRows`), `compositePacked` (tf ops), loss Σ out·R. */
async function generic(s: RaySamples, rWeights: Float32Array) {
  const { rays, d, di, cols } = s;
  const k = d + di;
  const col = fusedColumns(cols);
  const coarse = tf.tensor3d(s.coarse as Float32Array, [rays, d, cols]);
  const fine = di > 0 ? tf.tensor3d(s.fine as Float32Array, [rays, di, cols]) : null;
  const order = di > 0 ? mergeOrder(s.coarseDepths, s.fineDepths!, rays, d, di) : { depths: Float32Array.from(s.coarseDepths), rows: Int32Array.from({ length: rays * d }, (_, i) => i) };
  const depths = tf.tensor2d(order.depths, [rays, k]);
  const rows = tf.tensor1d(order.rows, 'int32');
  const r = tf.tensor2d(rWeights, [rays, col.width]);
  const out = await readAll(tf.tidy(() => {
    const loss = (co: tf.Tensor, fi?: tf.Tensor) => {
      const cat = fi ? tf.concat([co, fi], 1) : co;
      const merged = tf.reshape(permuteRows(tf.reshape(cat, [rays * k, cols]), rows), [rays, k, cols]) as tf.Tensor3D;
      const o = compositePacked(merged, depths, { impl: 'generic' });
      const used = tf.concat([o.rgb, o.weightTotal, o.depth], 1);
      return { o, value: tf.sum(tf.mul(used, tf.slice(r, [0, 0], [rays, col.depth + 1]))) as tf.Scalar };
    };
    const o = loss(coarse, fine ?? undefined).o;
    const inputs = fine ? [coarse, fine] : [coarse];
    const { grads } = tf.valueAndGrads((...xs: tf.Tensor[]) => loss(xs[0], xs[1]).value)(inputs);
    return {
      forward: tf.concat([o.rgb, o.weightTotal, o.depth, o.depthValid], 1),
      gCoarse: grads[0],
      gFine: grads[1] ?? tf.zeros([0]),
    };
  }));
  tf.dispose([coarse, depths, rows, r, ...(fine ? [fine] : [])]);
  return { ...out, depths: order.depths };
}

describeBackends('fused per-ray kernels: plain-TS twins vs the generic tf path (cpu backend)', (suite) => {
  it('stratifiedDepthsCpu equals stratifiedDepths (fixed range, disparity space, per-ray limits)', async () => {
    const [rays, d] = [7, 9];
    const rng = new Random(5);
    const jitter = rng.uniformArray(rays * d);
    const start = Float32Array.from({ length: rays }, () => 2 + rng.next());
    const end = start.map((s, i) => (i === 3 ? s - 0.5 : s + 0.2 + rng.next())); // one ray with end < start (missed box)
    const cases: [string, StratifiedRangeCpu, { disparitySpaceSampling: boolean; rayStart: number | 'auto'; rayEnd: number | 'auto' }][] = [
      ['fixed', { kind: 'fixed', start: 2.25, end: 3.3, disparity: false }, { disparitySpaceSampling: false, rayStart: 2.25, rayEnd: 3.3 }],
      ['disparity', { kind: 'fixed', start: 2, end: 3.5, disparity: true }, { disparitySpaceSampling: true, rayStart: 2, rayEnd: 3.5 }],
      ['per-ray', { kind: 'per-ray', start, end }, { disparitySpaceSampling: false, rayStart: 'auto', rayEnd: 'auto' }],
    ];
    for (const [name, range, settings] of cases) {
      const want = await suite.oracle(async () => {
        const j = tf.tensor2d(jitter, [rays, d]);
        const limits = range.kind === 'per-ray' ? { start: tf.tensor2d(start, [rays, 1]), end: tf.tensor2d(end, [rays, 1]) } : null;
        const { t } = await readAll({ t: stratifiedDepths(j, settings, limits) });
        tf.dispose([j, ...(limits ? [limits.start, limits.end] : [])]);
        return t;
      });
      suite.check(`stratified ${name}`, stratifiedDepthsCpu(jitter, range, rays, d), want, 1e-6);
    }
  });

  it('importancePlan equals importanceDepths (tensor ops)', async () => {
    for (const [rays, d, di] of [[9, 12, 10], [5, 4, 6]]) {
      const s = randomRaySamples(rays + d, rays, d, di, 4);
      const u = new Random(1).uniformArray(rays * di);
      u[0] = 0;
      u[1] = 1;
      const want = await suite.oracle(async () => {
        const sigma = tf.tensor2d(Float32Array.from({ length: rays * d }, (_, i) => s.coarse[i * 4]), [rays, d]);
        const depths = tf.tensor2d(s.coarseDepths as Float32Array, [rays, d]);
        const ut = tf.tensor2d(u, [rays, di]);
        const { t } = await readAll({ t: importanceDepths(sigma, depths, ut) });
        tf.dispose([sigma, depths, ut]);
        return t;
      });
      const got = importancePlan(s.coarse, s.coarseDepths, u, rays, d, di, 4);
      suite.check(`plan D ${d} Di ${di}`, got, want, 1e-5);
    }
  });

  it('compositeFusedForward / Backward equal merge + compositePacked, with and without a fine pass', async () => {
    for (const [rays, d, di, cols] of [[7, 10, 8, 6], [6, 9, 0, 5], [3, 4, 3, 33]]) {
      const s = randomRaySamples(100 + d, rays, d, di, cols);
      const col = fusedColumns(cols);
      const r = new Random(d + di).normalArray(rays * col.width);
      const before = tf.memory().numTensors;
      const ref = await suite.oracle(() => generic(s, r));
      expect(tf.memory().numTensors).toBe(before);
      const fwd = compositeFusedForward(s);
      const picked = new Float32Array(rays * (col.valid + 1));
      for (let i = 0; i < rays; i++) picked.set(fwd.subarray(i * col.width, i * col.width + col.valid + 1), i * (col.valid + 1));
      const tag = `D ${d} Di ${di} cols ${cols}`;
      suite.check(`${tag} forward`, picked, ref.forward, 1e-5);
      const k = d + di;
      for (let i = 0; i < rays; i++) {
        const row = ref.depths.subarray(i * k, (i + 1) * k);
        expect(fwd[i * col.width + col.minDepth]).toBe(Math.min(...row));
        expect(fwd[i * col.width + col.maxDepth]).toBe(Math.max(...row));
      }
      const g = compositeFusedBackward(s, r);
      suite.check(`${tag} d coarse`, g.coarse, ref.gCoarse, 1e-5);
      if (di > 0) suite.check(`${tag} d fine`, g.fine, ref.gFine, 1e-5);
    }
  });
});

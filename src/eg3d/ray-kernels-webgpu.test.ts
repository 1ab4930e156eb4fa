/**
 * The fused per-ray WGSL kernels (ray-kernels-webgpu.ts) on the webgpu backend against their plain-TS
 * twins (ray-kernels.ts; the twins are checked against the generic tf path in ray-kernels.test.ts):
 * the importance-sampling plan, and the merged compositing forward and backward, with and without a
 * fine pass, with out-of-order coarse depths and exact depth ties; and whole renders with the fused
 * per-ray kernels against the generic tf path on the same backend (`rayImpl`), forward and gradients.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { compositeFusedBackward, compositeFusedForward, importancePlan, stratifiedDepthsCpu } from './ray-kernels.ts';
import { compositeFused, fusedColumns, importancePlanKernel, stratifiedDepthsKernel, type StratifiedRange } from './ray-kernels-webgpu.ts';
import { randomRaySamples } from '../testing/ray-samples.ts';
import { renderTriplanes, type RenderSettings } from './renderer.ts';
import { cameraFromYawPitch, camerasTensor } from './camera.ts';

describeBackends('fused per-ray WGSL kernels vs their plain-TS twins', (suite) => {
  it('stratifiedDepthsKernel equals stratifiedDepthsCpu (fixed range, disparity space, per-ray limits)', async () => {
    const [rays, d] = [70, 9];
    const rng = new Random(6);
    const jitter = rng.uniformArray(rays * d);
    const start = Float32Array.from({ length: rays }, () => 2 + rng.next());
    const end = start.map((s, i) => (i === 3 ? s - 0.5 : s + 0.2 + rng.next()));
    const before = tf.memory().numTensors;
    const j = tf.tensor2d(jitter, [rays, d]);
    const st = tf.tensor2d(start, [rays, 1]);
    const en = tf.tensor2d(end, [rays, 1]);
    const ranges: [string, StratifiedRange][] = [
      ['fixed', { kind: 'fixed', start: 2.25, end: 3.3, disparity: false }],
      ['disparity', { kind: 'fixed', start: 2, end: 3.5, disparity: true }],
      ['per-ray', { kind: 'per-ray', start: st, end: en }],
    ];
    for (const [name, range] of ranges) {
      const { t } = await readAll({ t: stratifiedDepthsKernel(j, range) });
      const cpuRange = range.kind === 'per-ray' ? { kind: 'per-ray' as const, start, end } : range;
      suite.check(`stratified ${name}`, t, stratifiedDepthsCpu(jitter, cpuRange, rays, d), 1e-6);
    }
    tf.dispose([j, st, en]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('importancePlanKernel equals importancePlan', async () => {
    for (const [rays, d, di, cols] of [[70, 12, 10, 5], [5, 4, 6, 33]]) {
      const s = randomRaySamples(rays + d, rays, d, di, cols);
      const u = new Random(2).uniformArray(rays * di);
      u[0] = 0;
      u[1] = 1;
      const before = tf.memory().numTensors;
      const coarse = tf.tensor3d(s.coarse as Float32Array, [rays, d, cols]);
      const depths = tf.tensor2d(s.coarseDepths as Float32Array, [rays, d]);
      const ut = tf.tensor2d(u, [rays, di]);
      const { t } = await readAll({ t: importancePlanKernel(coarse, depths, ut) });
      tf.dispose([coarse, depths, ut]);
      expect(tf.memory().numTensors).toBe(before);
      suite.check(`plan D ${d} Di ${di}`, t, importancePlan(s.coarse, s.coarseDepths, u, rays, d, di, cols), 1e-5);
    }
  });

  it('compositeFused forward and backward equal compositeFusedForward / Backward', async () => {
    for (const [rays, d, di, cols] of [[70, 10, 8, 6], [6, 9, 0, 5], [3, 4, 3, 33]]) {
      const s = randomRaySamples(100 + d, rays, d, di, cols);
      const col = fusedColumns(cols);
      const r = new Random(d + di).normalArray(rays * col.width);
      const before = tf.memory().numTensors;
      const coarse = tf.tensor3d(s.coarse as Float32Array, [rays, d, cols]);
      const depths = tf.tensor2d(s.coarseDepths as Float32Array, [rays, d]);
      const fine = di > 0 ? tf.tensor3d(s.fine as Float32Array, [rays, di, cols]) : null;
      const fineDepths = di > 0 ? tf.tensor2d(s.fineDepths as Float32Array, [rays, di]) : null;
      const rt = tf.tensor2d(r, [rays, col.width]);
      const got = await readAll(tf.tidy(() => {
        const f = (...xs: tf.Tensor[]) => tf.sum(tf.mul(compositeFused(xs[0] as tf.Tensor3D, depths, (xs[1] ?? null) as tf.Tensor3D | null, fineDepths), rt)) as tf.Scalar;
        const { grads } = tf.valueAndGrads(f)(fine ? [coarse, fine] : [coarse]);
        return { forward: compositeFused(coarse, depths, fine, fineDepths), gCoarse: grads[0], gFine: grads[1] ?? tf.zeros([0]) };
      }));
      tf.dispose([coarse, depths, rt, ...(fine ? [fine, fineDepths!] : [])]);
      expect(tf.memory().numTensors).toBe(before);
      const tag = `D ${d} Di ${di} cols ${cols}`;
      suite.check(`${tag} forward`, got.forward, compositeFusedForward(s), 1e-5);
      const g = compositeFusedBackward(s, r);
      suite.check(`${tag} d coarse`, got.gCoarse, g.coarse, 1e-5);
      if (di > 0) suite.check(`${tag} d fine`, got.gFine, g.fine, 1e-5);
    }
  });

  it('renderTriplanes: rayImpl fused equals generic (features, depth, decoder gradients) in three settings', async () => {
    const rng = new Random(11);
    const planeData = rng.normalArray(2 * 3 * 8 * 8 * 32);
    const wData = [rng.normalArray(32 * 64), rng.normalArray(64), rng.normalArray(64 * 33), rng.normalArray(33)];
    const base: RenderSettings = {
      resolution: 4, depthResolution: 6, depthResolutionImportance: 5, rayStart: 2.25, rayEnd: 3.3, boxWarp: 1,
      disparitySpaceSampling: false, clampMode: 'softplus', whiteBack: false, decoderLrMul: 1, chunkRays: 7,
    };
    const variants: [string, Partial<RenderSettings>, number][] = [
      ['importance, 3 chunks per view', {}, 1],
      ['no importance pass, white_back, disparity space', { depthResolutionImportance: 0, whiteBack: true, disparitySpaceSampling: true, rayStart: 2, rayEnd: 3.5 }, 1],
      ["ray_start = ray_end = 'auto', rays missing the box", { rayStart: 'auto', rayEnd: 'auto' }, 0.9],
    ];
    const rF = rng.normalArray(2 * 16 * 32);
    for (const [name, over, focal] of variants) {
      const run = async (rayImpl: 'fused' | 'generic') => {
        const before = tf.memory().numTensors;
        const planes = tf.tensor5d(planeData, [2, 3, 8, 8, 32]);
        const keys = ['decoder.net.0.weight', 'decoder.net.0.bias', 'decoder.net.2.weight', 'decoder.net.2.bias'];
        const shapes = [[32, 64], [64], [64, 33], [33]];
        const vars = shapes.map((shape, i) => {
          const init = tf.tensor(wData[i].map((v) => 0.3 * v), shape);
          const v = tf.variable(init, true);
          init.dispose();
          return v;
        });
        const weights = new Map<string, tf.Tensor>(keys.map((k, i) => [k, vars[i]]));
        const cams = camerasTensor([cameraFromYawPitch(-0.2, 0.1, { focal }), cameraFromYawPitch(0.3, -0.1, { focal })]);
        const s = { ...base, ...over, rayImpl };
        const { value, grads } = tf.variableGrads(() => {
          const o = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
          return tf.add(tf.sum(tf.mul(o.features, tf.tensor(rF, o.features.shape))), tf.sum(o.depth)) as tf.Scalar;
        }, vars);
        const out = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
        const got = await readAll({ f: out.features, d: out.depth, value, g0: grads[vars[0].name], g1: grads[vars[1].name], g2: grads[vars[2].name], g3: grads[vars[3].name] });
        tf.dispose([planes, cams, ...vars]);
        expect(tf.memory().numTensors).toBe(before);
        return got;
      };
      const generic = await run('generic');
      const fused = await run('fused');
      suite.check(`${name}: features`, fused.f, generic.f, 1e-5);
      suite.check(`${name}: depth`, fused.d, generic.d, 1e-5);
      for (const g of ['g0', 'g1', 'g2', 'g3'] as const) suite.check(`${name}: gradient ${g}`, fused[g], generic[g], 1e-5);
    }
  });
}, { only: ['webgpu'], reason: 'WGSL kernels' });

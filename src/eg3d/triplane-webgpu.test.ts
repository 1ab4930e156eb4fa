/**
 * The WGSL tri-plane kernel on the webgpu backend (Node: Dawn over SwiftShader) against the
 * plain-TS sampler, plus a small end-to-end render on webgpu against the same render on cpu.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { describeBackends } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { createTriplaneSampler, planeGeometry, sampleTriplanesInto } from './triplane.ts';
import { renderTriplanes, type RenderSettings } from './renderer.ts';
import { cameraFromYawPitch, camerasTensor } from './camera.ts';

describeBackends('tri-plane WGSL kernel (webgpu via Dawn)', () => {
  it('equals the plain-TS sampler on random planes and points (inside and outside the box)', async () => {
    const rng = new Random(7);
    const [n, h, w, c] = [2, 11, 13, 6];
    const data = rng.normalArray(n * 3 * h * w * c);
    const planes = tf.tensor5d(data, [n, 3, h, w, c]);
    const before = tf.memory().numTensors;
    const sampler = createTriplaneSampler(planes, 1.3, 'auto');
    let worst = 0;
    for (let b = 0; b < n; b++) {
      const m = 2000;
      const xyz = rng.uniformArray(m * 3).map((v) => (v - 0.5) * 1.8);
      xyz.set([1e9, 0, 0, Number.NaN, 0, 0], 0); // far away / NaN coordinates must not fault
      const pts = tf.tensor2d(xyz, [m, 3]);
      const sampled = sampler.sample(b, pts);
      const got = (await sampled.data()) as Float32Array;
      const want = new Float32Array(m * c);
      sampleTriplanesInto(want, data, planeGeometry(planes), b, xyz, 1.3);
      for (let i = 3 * c; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      for (let i = 0; i < c; i++) expect(got[i]).toBe(0); // far point: all taps outside
      tf.dispose([pts, sampled]);
    }
    sampler.dispose();
    console.log(`webgpu kernel vs plain TS: max abs err ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5); // float32 on the device vs float64 weights in TS
    expect(tf.memory().numTensors).toBe(before);
    planes.dispose();
  });

  it('renderTriplanes on webgpu (WGSL sampler, tensor sampling plan) equals the cpu backend, forward and decoder gradients', async () => {
    const rng = new Random(3);
    const planeData = rng.normalArray(3 * 8 * 8 * 32);
    const wData = [rng.normalArray(32 * 64), rng.normalArray(64), rng.normalArray(64 * 33), rng.normalArray(33)];
    const s: RenderSettings = {
      resolution: 4, depthResolution: 6, depthResolutionImportance: 6, rayStart: 2.25, rayEnd: 3.3, boxWarp: 1,
      disparitySpaceSampling: false, clampMode: 'softplus', whiteBack: false, decoderLrMul: 1, chunkRays: 9,
    };
    const rF = rng.normalArray(16 * 32);
    const run = async () => {
      const planes = tf.tensor5d(planeData, [1, 3, 8, 8, 32]);
      const keys = ['decoder.net.0.weight', 'decoder.net.0.bias', 'decoder.net.2.weight', 'decoder.net.2.bias'];
      const shapes = [[32, 64], [64], [64, 33], [33]];
      const vars = shapes.map((shape, i) => tf.variable(tf.tensor(wData[i], shape), true));
      const weights = new Map<string, tf.Tensor>(keys.map((k, i) => [k, vars[i]]));
      const cams = camerasTensor([cameraFromYawPitch(-0.2, 0.1)]);
      const out = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
      const f = (await out.features.data()) as Float32Array;
      const d = (await out.depth.data()) as Float32Array;
      // The training path too: gradient of a random projection of the features and the depth.
      const { grads } = tf.variableGrads(() => {
        const o = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
        return tf.add(tf.sum(tf.mul(o.features, tf.tensor(rF, o.features.shape))), tf.sum(o.depth)) as tf.Scalar;
      }, vars);
      const g = await Promise.all(vars.map((v) => grads[v.name].data()));
      tf.dispose([planes, cams, out.features, out.depth, ...vars, ...Object.values(grads)]);
      return { f, d, g };
    };
    const gpu = await run();
    await initNodeBackend('cpu');
    const cpu = await run();
    await initNodeBackend('webgpu');
    let ef = 0;
    let ed = 0;
    for (let i = 0; i < cpu.f.length; i++) ef = Math.max(ef, Math.abs(gpu.f[i] - cpu.f[i]));
    for (let i = 0; i < cpu.d.length; i++) ed = Math.max(ed, Math.abs(gpu.d[i] - cpu.d[i]));
    let eg = 0;
    let mg = 0;
    cpu.g.forEach((gc, i) => gc.forEach((v, j) => {
      eg = Math.max(eg, Math.abs(v - gpu.g[i][j]));
      mg = Math.max(mg, Math.abs(v));
    }));
    console.log(`render webgpu vs cpu: features max abs ${ef.toExponential(2)}, depth ${ed.toExponential(2)}, decoder grads max abs ${eg.toExponential(2)} (max |g| ${mg.toExponential(2)})`);
    expect(ef).toBeLessThan(1e-4);
    expect(ed).toBeLessThan(1e-4);
    expect(eg / mg).toBeLessThan(1e-4);
  });
}, { only: ['webgpu'], reason: 'the WGSL kernel exists only there' });

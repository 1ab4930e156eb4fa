/**
 * The fused per-point WGSL kernels (webgpu via Dawn; SwiftShader without a GPU) against their CPU
 * twin (fused-decoder-twin.ts, itself tested against the generic path): forward outputs and the four
 * decoder gradients at ≤ 1e-5 relative; the differentiable op; and renderTriplanes with the fused
 * per-point path against the generic one on the same backend, forward and decoder gradients.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { fusedDecoderCase } from '../testing/fused-decoder-case.ts';
import { Random } from '../core/random.ts';
import { DECODER_KEYS } from './decoder.ts';
import { packDecoder, twinBackward, twinForward } from './fused-decoder-twin.ts';
import { backwardLayout, runDecoderBackward, runDecoderForward } from './fused-decoder-webgpu.ts';
import { decodeAlongRays } from './fused-decoder.ts';
import { renderTriplanes, type RenderSettings } from './renderer.ts';
import { cameraFromYawPitch, camerasTensor } from './camera.ts';

describeBackends('fused per-point WGSL kernels (webgpu via Dawn)', (suite) => {
  it('kernels equal the CPU twin: forward and the four gradients, one and several rounds per workgroup', async () => {
    // 29 rays × 11 samples = 319 points: 20 slots of 16, the last one partly past the end.
    const { samples, decoder, dy, rays } = fusedDecoderCase(5, 29, 11, 0.7);
    const k = samples.perRay;
    const before = tf.memory().numTensors;
    const { geom } = samples;
    const flat = tf.tensor1d(samples.planes);
    const planes = { flat, height: geom.height, width: geom.width, n: samples.n, boxWarp: samples.boxWarp };
    const gpuRays = { origins: tf.tensor2d(samples.origins, [rays, 3]), directions: tf.tensor2d(samples.directions, [rays, 3]), depths: tf.tensor2d(samples.depths, [rays, k]) };
    const params = tf.tensor1d(packDecoder(decoder));
    const dyT = tf.tensor3d(dy, [rays, k, 33]);
    const out = runDecoderForward(planes, gpuRays, params, decoder, decoder.lrMul);
    expect(out.shape).toEqual([rays, k, 33]);
    suite.check('forward [P, 33]', await out.data(), twinForward(samples, decoder), 1e-5);
    const want = twinBackward(samples, decoder, dy);
    // Default layout (20 groups of one round), then 3 groups of 7 rounds (the last group partly empty).
    expect(backwardLayout(rays * k)).toEqual({ groups: 20, rounds: 1 });
    expect(backwardLayout(rays * k, 3)).toEqual({ groups: 3, rounds: 7 });
    for (const maxGroups of [undefined, 3]) {
      const g = runDecoderBackward(planes, gpuRays, params, decoder, decoder.lrMul, dyT, maxGroups);
      expect([g.dW0.shape, g.dB0.shape, g.dW1.shape, g.dB1.shape]).toEqual([[32, 64], [64], [64, 33], [33]]);
      for (const name of ['dW0', 'dB0', 'dW1', 'dB1'] as const) suite.check(`${name} (max groups ${maxGroups ?? 'default'})`, await g[name].data(), want[name], 1e-5);
      tf.dispose(Object.values(g));
    }
    tf.dispose([flat, params, dyT, out, ...Object.values(gpuRays)]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('decodeAlongRays: the differentiable op gives the twin values and gradients and keeps no tensors', async () => {
    const { samples, decoder, dy, rays } = fusedDecoderCase(8, 9, 7);
    const k = samples.perRay;
    const planes = tf.tensor5d(samples.planes, [2, 3, samples.geom.height, samples.geom.width, 32]);
    const r = { origins: tf.tensor2d(samples.origins, [rays, 3]), directions: tf.tensor2d(samples.directions, [rays, 3]), depths: tf.tensor2d(samples.depths, [rays, k]) };
    const w = [tf.tensor2d(decoder.w0, [32, 64]), tf.tensor1d(decoder.b0), tf.tensor2d(decoder.w1, [64, 33]), tf.tensor1d(decoder.b1)];
    const dyT = tf.tensor3d(dy, [rays, k, 33]);
    const before = tf.memory().numTensors;
    const decode = (ws: tf.Tensor[]) => decodeAlongRays(planes, 1, samples.boxWarp, r, new Map(DECODER_KEYS.map((key, i) => [key, ws[i]])));
    const { value, grads } = tf.valueAndGrads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => tf.sum(tf.mul(decode([a, b, c, d]), dyT)))(w);
    const fwd = decode(w);
    suite.check('op forward', await fwd.data(), twinForward(samples, decoder), 1e-5);
    const want = twinBackward(samples, decoder, dy);
    const names = ['dW0', 'dB0', 'dW1', 'dB1'] as const;
    for (const [i, name] of names.entries()) suite.check(`op ${name}`, await grads[i].data(), want[name], 1e-5);
    tf.dispose([value, fwd, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => decodeAlongRays(planes, 2, samples.boxWarp, r, new Map(DECODER_KEYS.map((key, i) => [key, w[i]])))).toThrow(/batch index 2/);
    tf.dispose([planes, dyT, ...w, ...Object.values(r)]);
  });

  it('renderTriplanes: fused per-point path equals the generic path on webgpu (forward, depth, decoder gradients)', async () => {
    const rng = new Random(21);
    const planeData = rng.normalArray(3 * 8 * 8 * 32);
    const wData = [rng.normalArray(32 * 64), rng.normalArray(64), rng.normalArray(64 * 33), rng.normalArray(33)];
    const base: RenderSettings = {
      resolution: 4, depthResolution: 6, depthResolutionImportance: 6, rayStart: 'auto', rayEnd: 'auto', boxWarp: 1,
      disparitySpaceSampling: false, clampMode: 'softplus', whiteBack: true, decoderLrMul: 0.8, chunkRays: 9,
    };
    const rF = rng.normalArray(16 * 32);
    const run = async (pointImpl: 'fused' | 'generic') => {
      const s = { ...base, pointImpl };
      const planes = tf.tensor5d(planeData, [1, 3, 8, 8, 32]);
      const vars = [[32, 64], [64], [64, 33], [33]].map((shape, i) => tf.variable(tf.tensor(wData[i], shape), true));
      const weights = new Map<string, tf.Tensor>(DECODER_KEYS.map((k, i) => [k, vars[i]]));
      const cams = camerasTensor([cameraFromYawPitch(0.3, -0.1)]);
      const before = tf.memory().numTensors;
      const { value, grads } = tf.variableGrads(() => {
        const o = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
        return tf.add(tf.sum(tf.mul(o.features, tf.tensor(rF, o.features.shape))), tf.sum(o.depth)) as tf.Scalar;
      }, vars);
      const out = renderTriplanes(planes, weights, cams, s, { kind: 'random', rng: new Random(4) });
      const f = await out.features.data();
      const d = await out.depth.data();
      const g = await Promise.all(vars.map((v) => grads[v.name].data()));
      tf.dispose([value, out.features, out.depth, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([planes, cams, ...vars]);
      return { f, d, g };
    };
    const generic = await run('generic');
    const fused = await run('fused');
    suite.check('render features', fused.f, generic.f, 1e-5);
    suite.check('render depth', fused.d, generic.d, 1e-5);
    DECODER_KEYS.forEach((k, i) => suite.check(`render grad ${k}`, fused.g[i], generic.g[i], 1e-5));
  });
}, { only: ['webgpu'], reason: 'the WGSL kernels exist only there' });

import { it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends, readAll } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { FFHQ512_128_INIT_KWARGS, parseEG3DConfig } from './config.ts';
import { initRandomWeights, disposeWeights } from './weights.ts';
import { runSuperresolution } from './superresolution.ts';

// The 8XDC and 2X classes are checked against the official code by the fixtures (src/conformance);
// this covers the 4X class's own rules with random weights (official init).
describeBackends('SuperresolutionHybrid4X', () => {
  it('up-samples smaller inputs to 128², refuses larger ones, and does not touch image_raw', async () => {
    const k = JSON.parse(JSON.stringify(FFHQ512_128_INIT_KWARGS)) as Record<string, unknown>;
    k.img_resolution = 256;
    k.rendering_kwargs = { ...(k.rendering_kwargs as object), superresolution_module: 'training.superresolution.SuperresolutionHybrid4X' };
    const config = parseEG3DConfig({ initKwargs: k, neuralRenderingResolution: 64 });
    const weights = initRandomWeights(config, new Random(2));
    const before = tf.memory().numTensors;
    const rng = new Random(3);
    const feats = tf.tensor4d(rng.normalArray(64 * 64 * 32), [1, 64, 64, 32]);
    const raw = tf.slice(feats, [0, 0, 0, 0], [1, 64, 64, 3]);
    const rawBefore = Float32Array.from(await raw.data());
    const ws = tf.tensor3d(rng.normalArray(14 * 512), [1, 14, 512]);
    const { finite, changed } = await readAll(tf.tidy(() => {
      const img = runSuperresolution(config, weights, raw, feats, ws);
      expect(img.shape).toEqual([1, 256, 256, 3]);
      // Only ws[:, -1] matters: changing the other rows leaves the image unchanged.
      const ws2 = tf.concat([tf.zeros([1, 13, 512]), tf.slice(ws, [0, 13, 0], [1, 1, 512])], 1) as tf.Tensor3D;
      const big = tf.zeros([1, 256, 256, 32]) as tf.Tensor4D;
      expect(() => runSuperresolution(config, weights, tf.slice(big, [0, 0, 0, 0], [1, 256, 256, 3]), big, ws)).toThrow(/needs 128² inputs/);
      return {
        finite: tf.all(tf.isFinite(img)),
        changed: tf.max(tf.abs(tf.sub(runSuperresolution(config, weights, raw, feats, ws2), img))),
      };
    }));
    expect(finite[0]).toBe(1);
    expect(Array.from(await raw.data())).toEqual(Array.from(rawBefore));
    tf.dispose([feats, raw, ws]);
    expect(changed[0]).toBe(0);
    expect(tf.memory().numTensors).toBe(before);
    disposeWeights(weights);
  });
}, {
  only: ['wasm'],
  reason: 'ffhq512-width convolutions took 644 s on SwiftShader; on webgpu the tiny conformance checks G2 forward and gradients',
});

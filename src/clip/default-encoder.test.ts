import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { depthwiseValid, loadDefaultEncoder, loadEmbeddedMobileNetV2Artifacts, type MobileNetV2Encoder } from './default-encoder.ts';

describe('embedded default encoder (MobileNetV2 from nsfwjs)', () => {
  let enc: MobileNetV2Encoder;
  const realFetch = globalThis.fetch;

  beforeAll(async () => {
    await initNodeBackend('wasm');
    // Any network access during loading fails the test.
    globalThis.fetch = (() => Promise.reject(new Error('network access during default-encoder load'))) as typeof fetch;
    try {
      enc = await loadDefaultEncoder();
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  afterAll(() => enc?.dispose());

  it('loads offline and describes itself', () => {
    expect(enc).toMatchObject({ embedDim: 1280, numBlocks: 17, defaultTokenBlock: 12 });
    // The feature layers (classifier head excluded) of the nsfwjs MobileNetV2.
    expect(enc.parameterCount()).toBeGreaterThan(2_200_000);
    expect(enc.parameterCount()).toBeLessThan(2_619_461);
  });

  it('evaluates the Keras graph like tfjs-layers does', async () => {
    const model = await tf.loadLayersModel(tf.io.fromMemory(await loadEmbeddedMobileNetV2Artifacts()));
    const names = ['flatten_1', 'block_12_add', 'block_6_project_BN'];
    const sub = tf.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
    const x = tf.randomUniform([1, 224, 224, 3], 0, 1) as tf.Tensor4D;
    const ours = enc.layerOutputs(x, names);
    const theirs = sub.predict(x) as tf.Tensor[];
    for (let i = 0; i < names.length; i++) {
      expect(ours[i].shape).toEqual(theirs[i].shape);
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(ours[i], theirs[i]))).dataSync()[0] / tf.max(tf.abs(theirs[i])).dataSync()[0]);
      expect(err, names[i]).toBeLessThan(1e-5);
    }
    tf.dispose([x, ...ours, ...theirs]);
    model.dispose();
  });

  it('gives unit embeddings, a token grid, and non-zero input gradients on wasm', async () => {
    const images = tf.randomUniform([2, 64, 64, 3], -1, 1) as tf.Tensor4D;
    const f = enc.encodeImages(images, enc.defaultTokenBlock);
    expect(f.embedding.shape).toEqual([2, 1280]);
    expect(f.tokens.shape).toEqual([2, 196, 96]);
    const norms = tf.tidy(() => tf.norm(f.embedding, 'euclidean', 1));
    for (const n of await norms.data()) expect(n).toBeCloseTo(1, 5);
    const target = tf.randomNormal([2, 1280]);
    const g = tf.grad((x: tf.Tensor) => {
      const o = enc.encodeImages(x as tf.Tensor4D, 5);
      return tf.add(tf.sum(tf.mul(o.embedding, target)), tf.mean(tf.square(o.tokens)));
    })(images);
    const d = await g.data();
    expect(d.every(Number.isFinite)).toBe(true);
    expect(d.filter((v) => Math.abs(v) > 1e-7).length).toBeGreaterThan(d.length / 2);
    tf.dispose([images, f.embedding, f.tokens, norms, target, g]);
  });

  it('gives the hypercolumn maps of the asked blocks at their own resolution, the same as the graph, differentiably', async () => {
    expect(enc.defaultMapBlocks).toEqual([2, 5, 9, 12]);
    const images = tf.randomUniform([2, 64, 64, 3], -1, 1) as tf.Tensor4D;
    const f = enc.encodeImages(images, enc.defaultTokenBlock, enc.defaultMapBlocks);
    expect(f.maps.map((m) => m.shape)).toEqual([[2, 56, 56, 24], [2, 28, 28, 32], [2, 14, 14, 64], [2, 14, 14, 96]]);
    // block 12's map is the token grid, and block 5's map is the layer block_5_add
    expect(Array.from(await f.maps[3].data())).toEqual(Array.from(await f.tokens.data()));
    const pixels = tf.tidy(() => tf.image.resizeBilinear(tf.add(tf.mul(images, 0.5), 0.5) as tf.Tensor4D, [224, 224]));
    const [direct] = enc.layerOutputs(pixels, ['block_5_add']);
    const viaMaps = enc.encodePixels(pixels, 0, [5]);
    expect(Array.from(await viaMaps.maps[0].data())).toEqual(Array.from(await direct.data()));
    // no maps unless asked for
    expect(enc.encodeImages(images, 3).maps).toEqual([]);
    const g = tf.grad((x: tf.Tensor) => tf.sum(tf.square(enc.encodeImages(x as tf.Tensor4D, 0, [2]).maps[0])))(images);
    const d = await g.data();
    expect(d.every(Number.isFinite)).toBe(true);
    expect(d.some((v) => v !== 0)).toBe(true);
    expect(() => enc.encodeImages(images, 0, [17])).toThrow(/out of range/);
    tf.dispose([images, f.embedding, f.tokens, ...f.maps, pixels, direct, viaMaps.embedding, viaMaps.tokens, ...viaMaps.maps, g]);
  });

  it('leaks no tensors across repeated encodes', () => {
    const images = tf.randomUniform([1, 32, 32, 3], -1, 1) as tf.Tensor4D;
    const ref = { width: 40, height: 30, data: new Uint8ClampedArray(40 * 30 * 4).fill(128) };
    const run = () => {
      const a = enc.encodeImages(images, 16);
      const b = enc.encodeReference(ref, 0, [1, 16]);
      expect(b.tokens.shape).toEqual([1, 112 * 112, 16]);
      expect(b.maps.map((m) => m.shape)).toEqual([[1, 56, 56, 24], [1, 7, 7, 320]]);
      tf.dispose([a.embedding, a.tokens, b.embedding, b.tokens, ...b.maps]);
    };
    run();
    const before = tf.memory().numTensors;
    run();
    run();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
    expect(() => enc.encodeImages(images, 17)).toThrow(/out of range/);
  });

  it('its depthwise input gradient equals the native kernel gradient (cpu backend)', async () => {
    await tf.setBackend('cpu');
    try {
      for (const [h, s] of [[9, 1], [10, 2], [11, 2]]) {
        const x = tf.randomNormal([2, h, h + 1, 4]) as tf.Tensor4D;
        const k = tf.randomNormal([3, 3, 4, 1]) as tf.Tensor4D;
        const r = tf.randomNormal(tf.depthwiseConv2d(x, k, s, 'valid').shape);
        const ours = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(depthwiseValid(v as tf.Tensor4D, k, s), r)))(x);
        const native = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.depthwiseConv2d(v as tf.Tensor4D, k, s, 'valid'), r)))(x);
        expect(tf.max(tf.abs(tf.sub(ours, native))).dataSync()[0]).toBeLessThan(1e-5);
        tf.dispose([x, k, r, ours, native]);
      }
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

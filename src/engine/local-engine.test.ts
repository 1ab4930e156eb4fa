/**
 * LocalEngine exports on the tiny fixture: the complete EG3D pickle with G_ema's Tri-D and G2
 * replaced, re-read with the project's own reader tensor by tensor.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { Random } from '../core/random.ts';
import { readEG3DPickle } from '../eg3d/checkpoint.ts';
import { parseEG3DConfig } from '../eg3d/config.ts';
import { loadWeights, tfToTorch } from '../eg3d/weights.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../adapter/export.ts';
import { CHEAP_RENDER, FIXTURES } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { EngineError, type ModelInfo } from './types.ts';

let engine: LocalEngine;
let info: ModelInfo;
const pkl = () => new Uint8Array(readFileSync(`${FIXTURES}eg3d-tiny.pkl`));

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), renderOverrides: CHEAP_RENDER });
  info = await engine.loadGenerator({ kind: 'file', file: new Blob([pkl()]), name: 'eg3d-tiny.pkl' });
});

afterAll(async () => {
  await engine?.dispose();
});

describe('LocalEngine exports', () => {
  it('refuses exports before anything was adapted, and flat references', async () => {
    await expect(engine.exportSafetensors()).rejects.toMatchObject({ code: 'not-ready' });
    const flat = { width: 32, height: 32, data: new Uint8ClampedArray(32 * 32 * 4).fill(128) };
    const err = await engine.setReference(flat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect((err as EngineError).code).toBe('bad-reference');
  });

  it('writes a complete pickle with only Tri-D and G2 changed, readable by the project’s reader', async () => {
    // Adapted weights: the base generator's Tri-D + G2 plus seeded noise, imported through the engine.
    const original = await readEG3DPickle(new MemoryByteSource(pkl(), 'eg3d-tiny.pkl'));
    const config = parseEG3DConfig({ initKwargs: original.initKwargs, renderingKwargs: original.renderingKwargs, neuralRenderingResolution: original.neuralRenderingResolution });
    const base = await loadWeights(config, original);
    const rng = new Random(5);
    const adapted = new Map<string, tf.Tensor>();
    for (const [k, t] of base) if (isTrainableKey(k)) adapted.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.1))));
    const file = writeAdaptedSafetensors(adapted, {
      baseGeneratorSha256: info.sha256,
      baseGeneratorName: info.name,
      encoders: [],
      settings: {},
      seed: 0,
      iterations: { triD: 1, g2: 1 },
      lossHistory: [],
      createdAt: new Date(0).toISOString(),
    });
    await engine.importAdapted(new Blob([file as Uint8Array<ArrayBuffer>]));

    const bytes = await engine.exportPickle();
    expect(bytes.length).toBe(pkl().length);
    const written = await readEG3DPickle(new MemoryByteSource(bytes, 'adapted.pkl'));
    expect(written.keys).toEqual(original.keys);
    expect(written.initKwargs).toEqual(original.initKwargs);
    let replaced = 0;
    for (const key of original.keys) {
      const got = await written.read(key);
      const want = adapted.has(key) ? tfToTorch(key, adapted.get(key)!) : await original.read(key);
      expect(got.shape, key).toEqual(want.shape);
      expect(got.data.every((v, i) => v === want.data[i]), key).toBe(true);
      if (adapted.has(key)) replaced++;
    }
    expect(replaced).toBe(adapted.size);
    for (const t of [...adapted.values(), ...base.values()]) t.dispose();
  });
});

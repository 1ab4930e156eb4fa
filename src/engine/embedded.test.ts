import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { readEG3DPickle } from '../eg3d/checkpoint.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { tfToTorch } from '../eg3d/weights.ts';
import { tinyGenerator, tinyPickleBytes } from '../adapter/test-fixtures.ts';
import { EMBEDDED_GENERATOR_FILE, EmbeddedGeneratorError, generatorFromSafetensors, loadEmbeddedGenerator } from './embedded.ts';

let reference: EG3DGenerator;

beforeAll(async () => {
  await initNodeBackend('wasm');
  reference = await tinyGenerator();
});
afterAll(() => reference?.dispose());

describe('embedded generator file format', () => {
  it('builds the same generator from official-name PyTorch-layout safetensors + construction metadata', async () => {
    const ckpt = await readEG3DPickle(new MemoryByteSource(tinyPickleBytes(), 'eg3d-tiny.pkl'));
    const tensors = new Map<string, TensorToWrite>();
    for (const [k, t] of reference.weights) tensors.set(k, tfToTorch(k, t));
    const bytes = writeSafetensors(tensors, {
      name: 'tiny as embedded',
      init_kwargs: JSON.stringify(ckpt.initKwargs),
      rendering_kwargs: JSON.stringify(ckpt.renderingKwargs),
      neural_rendering_resolution: String(ckpt.neuralRenderingResolution),
    });
    const { generator, metadata } = await generatorFromSafetensors(new MemoryByteSource(bytes, 'demo.safetensors'));
    try {
      expect(metadata.name).toBe('tiny as embedded');
      expect(generator.config).toEqual(reference.config);
      for (const [k, t] of reference.weights) expect(Array.from(generator.weights.get(k)!.dataSync()), k).toEqual(Array.from(t.dataSync()));
    } finally {
      generator.dispose();
    }
    await expect(generatorFromSafetensors(new MemoryByteSource(writeSafetensors(tensors, {}), 'x.safetensors'))).rejects.toThrow(/init_kwargs/);
  });

  it(`loads public/${EMBEDDED_GENERATOR_FILE} when it exists, else says it is missing`, async () => {
    const path = fileURLToPath(new URL(`../../public/${EMBEDDED_GENERATOR_FILE}`, import.meta.url));
    if (existsSync(path)) {
      const emb = await loadEmbeddedGenerator();
      expect(emb.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(emb.generator.config.imgResolution).toBeGreaterThan(0);
      emb.generator.dispose();
    } else {
      await expect(loadEmbeddedGenerator()).rejects.toThrow(EmbeddedGeneratorError);
    }
  });
});

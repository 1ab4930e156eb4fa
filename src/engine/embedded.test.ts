import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { openEmbeddedFile, publicFilePath } from '../platform/node-embedded.ts';
import { AppError, InternalError } from '../core/errors.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { readEG3DPickle } from '../eg3d/checkpoint.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { tfToTorch } from '../eg3d/weights.ts';
import { tinyGenerator, tinyPickleBytes } from '../testing/fixtures.ts';
import { EMBEDDED_GENERATOR_FILE, generatorFromSafetensors, loadEmbeddedGenerator, type EmbeddedFileOpener } from './embedded.ts';

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

  it('opens the file through the opener the platform passes in, with progress, and hashes its bytes', async () => {
    const ckpt = await readEG3DPickle(new MemoryByteSource(tinyPickleBytes(), 'eg3d-tiny.pkl'));
    const tensors = new Map<string, TensorToWrite>();
    for (const [k, t] of reference.weights) tensors.set(k, tfToTorch(k, t));
    const bytes = writeSafetensors(tensors, { init_kwargs: JSON.stringify(ckpt.initKwargs), neural_rendering_resolution: String(ckpt.neuralRenderingResolution) });
    const asked: string[] = [];
    const open: EmbeddedFileOpener = async (file, onProgress) => {
      asked.push(file);
      onProgress?.(bytes.length, bytes.length);
      return new MemoryByteSource(bytes, 'demo-eg3d.safetensors');
    };
    const progress: [number, number][] = [];
    const emb = await loadEmbeddedGenerator(open, (loaded, total) => progress.push([loaded, total]));
    try {
      expect(asked).toEqual([EMBEDDED_GENERATOR_FILE]);
      expect(progress).toEqual([[bytes.length, bytes.length]]);
      expect(emb.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(emb.name).toBe('Embedded demo generator');
      expect(emb.generator.config).toEqual(reference.config);
    } finally {
      emb.generator.dispose();
    }
    const none = loadEmbeddedGenerator(undefined);
    await expect(none).rejects.toThrow(AppError);
    await expect(none).rejects.toMatchObject({ kind: 'not-ready' });
  });

  it(`loads public/${EMBEDDED_GENERATOR_FILE} through Node's opener when it exists, else says it is missing`, async () => {
    if (existsSync(publicFilePath(EMBEDDED_GENERATOR_FILE))) {
      const emb = await loadEmbeddedGenerator(openEmbeddedFile);
      expect(emb.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(emb.generator.config.imgResolution).toBeGreaterThan(0);
      emb.generator.dispose();
    } else {
      await expect(loadEmbeddedGenerator(openEmbeddedFile)).rejects.toThrow(InternalError);
    }
    await expect(openEmbeddedFile('models/no-such-file.safetensors')).rejects.toThrow(/no-such-file.*missing/);
  });
});

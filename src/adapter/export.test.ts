import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { Random } from '../core/random.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { frontalCamera, cameraFromYawPitch } from '../eg3d/camera.ts';
import type { GeneratorView } from './generator-view.ts';
import {
  AdaptedFileError,
  isTrainableKey,
  readAdaptedSafetensors,
  readCheckpoint,
  writeAdaptedSafetensors,
  writeCheckpoint,
  type AdaptedMetadata,
} from './export.ts';
import { latentFromSeed } from './trainer.ts';
import { FIXTURES, tinyGenerator, tinyView } from '../testing/fixtures.ts';

let gen: EG3DGenerator;
let view: GeneratorView;
let adapted: Map<string, tf.Tensor>;

const META: AdaptedMetadata = {
  baseGeneratorSha256: 'a'.repeat(64),
  baseGeneratorName: 'eg3d-tiny.pkl',
  encoders: [{ id: 'clip-tiny', name: 'CLIP tiny', sha256: 'b'.repeat(64) }],
  settings: { iterations: [150, 150], batchSize: 2, options: { imageStructure: 'lowres-l1' } },
  seed: 42,
  iterations: { triD: 150, g2: 150 },
  lossHistory: [{ phase: 'tri-d', iterations: 150, first: 2, last: 1, min: 0.9, finalMean: 1 }],
  createdAt: '2026-01-01T00:00:00.000Z',
};

const base = () => ({ sha256: META.baseGeneratorSha256, name: 'eg3d-tiny.pkl', weights: gen.weights });

function render(weights: Map<string, tf.Tensor>): Float32Array {
  return tf.tidy(() => {
    const v = view.withWeights(weights);
    const zDim = v.config.zDim;
    const ws = v.mapping(tf.tensor2d(latentFromSeed(3, zDim), [1, zDim]), tf.tensor2d(frontalCamera(), [1, 25]), 1, null);
    return v.synthesize(ws, tf.tensor2d(cameraFromYawPitch(0.3, -0.1), [1, 25]), { kind: 'deterministic' }).image.dataSync() as Float32Array;
  });
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  gen = await tinyGenerator();
  view = tinyView(gen);
  // "Adapted" weights: the base Tri-D and G2 parameters plus seeded noise.
  const rng = new Random(1);
  adapted = new Map();
  for (const [k, t] of gen.weights) {
    if (!isTrainableKey(k)) continue;
    adapted.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.05))));
  }
});

afterAll(() => {
  for (const t of adapted?.values() ?? []) t.dispose();
  gen?.dispose();
});

describe('adapted-weights file', () => {
  it('holds only Tri-D and G2 parameters, in official names and PyTorch layouts, with metadata', async () => {
    const bytes = writeAdaptedSafetensors(adapted, META);
    const file = await SafetensorsFile.open(new MemoryByteSource(bytes, 'adapted.safetensors'));
    const fixture = JSON.parse(readFileSync(`${FIXTURES}eg3d-tiny.json`, 'utf8')) as { keys: Record<string, number[]> };
    const keys = file.keys();
    expect(keys.length).toBe(adapted.size);
    for (const k of keys) {
      expect(k.startsWith('decoder.') || k.startsWith('superresolution.')).toBe(true);
      expect(file.entries.get(k)!.shape).toEqual(fixture.keys[k]); // PyTorch shape from the official state dict
    }
    expect(keys).toContain('decoder.net.0.weight');
    expect(keys).toContain('superresolution.block0.conv0.weight');
    expect(keys.some((k) => k.endsWith('noise_const') || k.endsWith('resample_filter'))).toBe(false);
    const md = file.metadata;
    expect(md.base_generator_sha256).toBe(META.baseGeneratorSha256);
    expect(JSON.parse(md.settings)).toEqual(META.settings);
    expect(JSON.parse(md.loss_history)).toEqual(META.lossHistory);
    expect(md.seed).toBe('42');
  });

  it('round-trips exactly: imported weights equal the exported ones and reproduce the renders', async () => {
    const bytes = writeAdaptedSafetensors(adapted, META);
    const { weights, metadata } = await readAdaptedSafetensors(new MemoryByteSource(bytes, 'adapted.safetensors'), base());
    expect(metadata).toEqual(META);
    for (const [k, t] of adapted) expect(Array.from(weights.get(k)!.dataSync())).toEqual(Array.from(t.dataSync()));
    expect(Array.from(render(weights))).toEqual(Array.from(render(adapted)));
    for (const t of weights.values()) t.dispose();
  });

  it('is refused on another base generator, and a non-adapter safetensors is refused', async () => {
    const bytes = writeAdaptedSafetensors(adapted, META);
    const other = { ...base(), sha256: 'c'.repeat(64), name: 'other.pkl' };
    const err = await readAdaptedSafetensors(new MemoryByteSource(bytes, 'adapted.safetensors'), other).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdaptedFileError);
    expect((err as AdaptedFileError).kind).toBe('incompatible-file');
    expect((err as Error).message).toMatch(/different base generator/);
    const clip = new Uint8Array(readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`));
    await expect(readAdaptedSafetensors(new MemoryByteSource(clip, 'clip.safetensors'), base())).rejects.toThrow(/not 3D-Adapter weights/);
  });

  it('run checkpoints carry the optimiser state and position; adapted files cannot be resumed', async () => {
    const m = new Map([...adapted].filter(([k]) => k.startsWith('decoder.')).map(([k, t]) => [k, Float32Array.from(t.dataSync(), (x) => x * 0.5)]));
    const v = new Map([...m].map(([k, a]) => [k, Float32Array.from(a, (x) => x * x)]));
    const bytes = writeCheckpoint(adapted, META, { globalIteration: 17, adam: { step: 17, m, v }, lossTotals: [3, 2, 1] });
    const ck = await readCheckpoint(new MemoryByteSource(bytes, 'ck.safetensors'), base());
    expect(ck.position.globalIteration).toBe(17);
    expect(ck.position.lossTotals).toEqual([3, 2, 1]);
    expect(ck.position.adam!.step).toBe(17);
    for (const [k, a] of m) expect(Array.from(ck.position.adam!.m.get(k)!)).toEqual(Array.from(a));
    for (const [k, a] of v) expect(Array.from(ck.position.adam!.v.get(k)!)).toEqual(Array.from(a));
    for (const [k, t] of adapted) expect(Array.from(ck.weights.get(k)!.dataSync())).toEqual(Array.from(t.dataSync()));
    for (const t of ck.weights.values()) t.dispose();
    const plain = writeAdaptedSafetensors(adapted, META);
    await expect(readCheckpoint(new MemoryByteSource(plain, 'adapted.safetensors'), base())).rejects.toThrow(/not a run checkpoint/);
  });
});

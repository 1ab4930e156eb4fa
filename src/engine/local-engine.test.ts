/**
 * LocalEngine on the tiny fixture: the complete EG3D pickle export (G_ema's Tri-D and G2 replaced,
 * re-read with the project's own reader tensor by tensor); load failures mapped to the right error
 * kind; ModelInfo of the encoders; and no tensor leak over full adapt + render + export cycles.
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
import { ConvShapeError } from '../nn/conv.ts';
import { writeSafetensors } from '../io/safetensors.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { loadEmbeddedMobileNetV2Artifacts } from '../clip/default-encoder.ts';
import { CHEAP_RENDER, FIXTURES, stripedReference } from '../testing/fixtures.ts';
import { LocalEngine, type LocalEngineOptions } from './local-engine.ts';
import { EngineError, type AdaptSettings, type ModelInfo } from './types.ts';

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

const probe: LocalEngineOptions['probe'] = async () => ({ backend: 'wasm', summary: 'test' });

async function failureOf(p: Promise<unknown>): Promise<EngineError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(EngineError);
  return e as EngineError;
}

describe('LocalEngine load failures keep their kind', () => {
  it("an internal ConvShapeError while loading is 'internal', not an incompatible file", async () => {
    const e = new LocalEngine({
      probe,
      loadDefaultEncoder: async () => {
        throw new ConvShapeError('conv2d: input channels 3 ≠ filter channels 4');
      },
      openEmbeddedFile: async () => {
        throw new ConvShapeError('conv2d: input channels 3 ≠ filter channels 4');
      },
    });
    expect((await failureOf(e.loadEncoder({ kind: 'embedded' }))).code).toBe('internal');
    expect((await failureOf(e.loadGenerator({ kind: 'embedded' }))).code).toBe('internal');
    await e.dispose();
  });

  it("a truncated pickle is 'corrupt-file' (named), an unsupported architecture 'incompatible-file'", async () => {
    const e = new LocalEngine({
      probe,
      openEmbeddedFile: async (file) => {
        const ckpt = await readEG3DPickle(new MemoryByteSource(pkl(), 'eg3d-tiny.pkl'));
        // A construction argument this port does not know.
        const bytes = writeSafetensors(new Map(), { init_kwargs: JSON.stringify({ ...ckpt.initKwargs, magic_wings: true }), neural_rendering_resolution: String(ckpt.neuralRenderingResolution) });
        return new MemoryByteSource(bytes, file);
      },
    });
    const bytes = pkl();
    const truncated = await failureOf(e.loadGenerator({ kind: 'file', file: new Blob([bytes.slice(0, Math.floor(bytes.length / 2))]), name: 'half.pkl' }));
    expect(truncated.code).toBe('corrupt-file');
    expect(truncated.message).toMatch(/^half\.pkl: /);
    const unsupported = await failureOf(e.loadGenerator({ kind: 'embedded' }));
    expect(unsupported.code).toBe('incompatible-file');
    expect(unsupported.message).toMatch(/magic_wings/);
    await e.dispose();
  });

  it("a wasm abort or 'Failed to allocate' while loading is 'out-of-memory'", async () => {
    const e = new LocalEngine({
      probe,
      openEmbeddedFile: async () => {
        throw new WebAssembly.RuntimeError('Aborted(OOM)');
      },
      loadDefaultEncoder: async () => {
        throw new Error('Failed to allocate 4294967296 bytes');
      },
    });
    expect((await failureOf(e.loadGenerator({ kind: 'embedded' }))).code).toBe('out-of-memory');
    expect((await failureOf(e.loadEncoder({ kind: 'embedded' }))).code).toBe('out-of-memory');
    await e.dispose();
  });

  it("a bad method option is 'bad-settings'", async () => {
    await engine.loadEncoder({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)]), name: 'clip-tiny.hf.safetensors' });
    await engine.setReference(stripedReference());
    const err = await failureOf(engine.start({ ...cycleSettings, options: { previewViews: 'many' } }));
    expect(err.code).toBe('bad-settings');
  });
});

describe('LocalEngine ModelInfo', () => {
  it('reports encoder parameter counts; the embedded encoder’s sha256 is of its weight bytes', async () => {
    const clip = await engine.loadEncoder({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)]), name: 'clip-tiny.hf.safetensors' });
    expect(clip.parameters).toBeGreaterThan(1000);
    expect(clip.sha256).toBe(await sha256OfSource(new MemoryByteSource(new Uint8Array(readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)), 'clip')));
    const embedded = await engine.loadEncoder({ kind: 'embedded' });
    // MobileNetV2 (alpha 1.0) without its classifier: about 2.26 M parameters.
    expect(embedded.parameters).toBeGreaterThan(2_000_000);
    expect(embedded.parameters).toBeLessThan(2_400_000);
    const artifacts = await loadEmbeddedMobileNetV2Artifacts();
    expect(embedded.sha256).toBe(await sha256OfSource(new MemoryByteSource(new Uint8Array(artifacts.weightData as ArrayBuffer), 'weights')));
    await engine.unloadEncoder(embedded.id);
  });
});

const cycleSettings: AdaptSettings = {
  iterations: [1, 1],
  batchSize: 1,
  learningRate: 0.0016,
  betas: [0, 0.992],
  lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
  encoders: [],
  seed: 3,
  truncationPsi: 1,
  meanEmbeddingSamples: 1,
  previewEvery: 1,
  options: { previewLatents: 1, previewViews: 1, step1Output: 'raw-upsampled' },
};

describe('LocalEngine tensor bookkeeping', () => {
  // Both steps (a Tri-D and a G2 Adam), previews, checkpoints, interpolated renders, both exports, an
  // import and a resumed run; the second cycle must not add a tensor, and dispose() frees them all.
  it('a full adapt + render + export + import cycle leaves tf.memory().numTensors where it started', async () => {
    const before = tf.memory().numTensors;
    const e = new LocalEngine({ probe, renderOverrides: CHEAP_RENDER });
    await e.loadGenerator({ kind: 'file', file: new Blob([pkl()]), name: 'eg3d-tiny.pkl' });
    await e.loadEncoder({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)]), name: 'clip-tiny.hf.safetensors' });
    await e.setReference(stripedReference());
    const checkpoints: Uint8Array[] = [];
    const estimates: unknown[] = [];
    e.subscribe((ev) => {
      if (ev.type === 'checkpoint') checkpoints.push(ev.bytes);
      if (ev.type === 'preview') estimates.push(ev.estimate);
    });

    const cycle = async () => {
      await e.start(cycleSettings);
      await e.render({ seed: 1, yaw: 0.2, pitch: 0, psi: 1, mode: 'rgb', strength: 1 });
      await e.render({ seed: 1, yaw: 0, pitch: 0.1, psi: 0.7, mode: 'depth', strength: 0.5 });
      await e.render({ seed: 2, yaw: 0, pitch: 0, psi: 1, mode: 'raw', strength: 0 });
      const delta = await e.exportSafetensors();
      expect((await e.exportPickle()).length).toBe(pkl().length);
      await e.importAdapted(new Blob([delta.slice()]));
      await e.checkpoint();
      // resume a finished schedule from its own checkpoint (nothing left to train: set-up and tear-down only)
      await e.start(cycleSettings, checkpoints[checkpoints.length - 1]);
    };

    await cycle();
    // Every preview carries the live estimate (plain numbers: no tensor stays behind for it).
    expect(estimates.length).toBeGreaterThan(0);
    for (const est of estimates) expect(est).toMatchObject({ depthDiff: expect.any(Number), views: 1 });
    const afterOne = tf.memory().numTensors;
    await cycle();
    expect(tf.memory().numTensors).toBe(afterOne);
    await e.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

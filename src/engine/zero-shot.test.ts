/**
 * Zero-shot (text-driven) runs on the tiny fixtures through LocalEngine: Δ_ref from the text tower
 * (src/adapter/zero-shot.ts), no μ_s and no L_dis without a reference, the prompt in the metadata and
 * the evaluation's line against the prompt; refusals with typed errors (no vocabulary, no text tower,
 * empty or identical descriptions). Also the direction mixing of prepareZeroShotEncoder.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { gunzipSync, strFromU8 } from 'fflate';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { readAdaptedSafetensors } from '../adapter/export.ts';
import { parseMethodOptions } from '../adapter/options.ts';
import { checkTextTarget, needsMeanEmbedding, prepareZeroShotEncoder, zeroShotLossWeights } from '../adapter/zero-shot.ts';
import { disposeTrainerEncoder, prepareTrainerEncoder } from '../adapter/trainer.ts';
import { loadClipEncoder, type ClipImageEncoder } from '../clip/encoder.ts';
import { ClipTokenizer } from '../clip/tokenizer.ts';
import { textDirection } from '../clip/text-direction.ts';
import { SettingsError } from '../core/errors.ts';
import { CHEAP_RENDER, FIXTURES, stripedReference } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { defaultAdaptSettings } from './defaults.ts';
import type { AdaptSettings, EngineEvent, ModelInfo } from './types.ts';

const vocabBytes = () => readFileSync(`${FIXTURES}clip-bpe-vocab.txt.gz`);
let engine: LocalEngine;
let gen: ModelInfo;
let clip: ModelInfo;
const events: EngineEvent[] = [];

function settings(extra: Partial<AdaptSettings> = {}): AdaptSettings {
  const s = defaultAdaptSettings('quick');
  return {
    ...s,
    iterations: [1, 1],
    batchSize: 1,
    previewEvery: 100,
    encoders: [clip.id],
    options: { ...s.options, previewLatents: 1, previewViews: 1 },
    text: { prompt: 'a pencil sketch', sourcePrompt: 'photo', weight: 1 },
    ...extra,
  };
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), renderOverrides: CHEAP_RENDER });
  engine.subscribe((e) => events.push(e));
  gen = await engine.loadGenerator({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}eg3d-tiny.pkl`)]), name: 'eg3d-tiny.pkl' });
  clip = await engine.loadEncoder({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}clip-tiny.pt`)]), name: 'clip-tiny.pt' });
});
afterAll(async () => {
  await engine?.dispose();
});

describe('zero-shot runs (LocalEngine, tiny fixtures)', () => {
  it('the CLIP file brings its text tower; without the vocabulary a zero-shot run is refused', async () => {
    expect(clip.textTower).toBe(true);
    expect(clip.summary).toMatch(/text tower/);
    await expect(engine.start(settings())).rejects.toMatchObject({ code: 'not-ready', message: expect.stringMatching(/BPE vocabulary/) });
    await expect(engine.loadVocabulary(new Blob(['not a vocabulary']), 'notes.txt')).rejects.toMatchObject({ code: 'incompatible-file' });
    const v = await engine.loadVocabulary(new Blob([vocabBytes()]), 'clip-bpe-vocab.txt.gz');
    expect(v.tokens).toBe(49408);
    expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('text only: no reference, no μ_s, L_dis 0, L_dir > 0; the prompt is in the metadata and the evaluation measures against it', async () => {
    events.length = 0;
    await engine.start(settings());
    expect(events.some((e) => e.type === 'mean-embedding')).toBe(false);
    const steps = events.filter((e): e is Extract<EngineEvent, { type: 'progress' }> => e.type === 'progress' && e.phase !== 'mean-embedding');
    expect(steps).toHaveLength(2);
    for (const s of steps) {
      expect(s.losses!.dis).toBe(0);
      expect(s.losses!.dir).toBeGreaterThan(0);
    }
    const read = await readAdaptedSafetensors(new MemoryByteSource(await engine.exportSafetensors(), 'zs'), {
      sha256: gen.sha256,
      name: gen.name,
      weights: new Map(), // only the metadata is checked here: no tensors expected
    });
    expect(read.metadata.prompt).toBe('a pencil sketch');
    expect(read.metadata.sourcePrompt).toBe('photo');
    expect((read.metadata.settings as AdaptSettings).text).toEqual({ prompt: 'a pencil sketch', sourcePrompt: 'photo', weight: 1 });

    const report = await engine.evaluate({ latents: 1, identity: false, texture: false, clipEncoders: [clip.id] });
    expect(report.reference).toBe(false);
    expect(report.result.means.clip).toHaveLength(1);
    const line = report.result.means.clip[0];
    expect(line.target).toBe('prompt');
    expect(line.encoder).toContain('“a pencil sketch”');
    expect(report.clipEncoders[0].name).toContain('“a pencil sketch”');
    for (const x of [line.similarity.source, line.similarity.adapted, line.directionAlignment]) {
      expect(x).toBeGreaterThanOrEqual(-1);
      expect(x).toBeLessThanOrEqual(1);
    }
    expect(line.similarity.adapted).not.toBe(line.similarity.source);
  });

  it('refuses empty or identical descriptions, and a text-only run with the embedded encoder alone', async () => {
    await expect(engine.start(settings({ text: { prompt: '  ', sourcePrompt: 'photo', weight: 1 } }))).rejects.toMatchObject({ code: 'bad-settings' });
    await expect(engine.start(settings({ text: { prompt: 'Photo', sourcePrompt: 'photo', weight: 1 } }))).rejects.toMatchObject({ code: 'bad-settings' });
    const embedded = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), renderOverrides: CHEAP_RENDER });
    try {
      await embedded.loadGenerator({ kind: 'file', file: new Blob([readFileSync(`${FIXTURES}eg3d-tiny.pkl`)]), name: 'eg3d-tiny.pkl' });
      await embedded.loadVocabulary(new Blob([vocabBytes()]), 'vocab.txt.gz');
      const mobile = await embedded.loadEncoder({ kind: 'embedded' });
      const err = await embedded.start(settings({ encoders: [mobile.id] })).catch((e: unknown) => e);
      expect((err as { code: string }).code).toBe('bad-settings');
      expect((err as Error).message).toMatch(/text tower/);
    } finally {
      await embedded.dispose();
    }
  });
});

describe('zero-shot pieces (src/adapter/zero-shot.ts)', () => {
  let enc: ClipImageEncoder;
  let tok: ClipTokenizer;
  beforeAll(async () => {
    enc = await loadClipEncoder(await NodeFileByteSource.open(`${FIXTURES}clip-tiny.pt`), { text: true });
    tok = new ClipTokenizer(strFromU8(gunzipSync(vocabBytes())));
  });
  afterAll(() => enc?.dispose());

  it('checks and completes the text target', () => {
    expect(checkTextTarget({ prompt: ' ukiyo-e print ', sourcePrompt: '', weight: 1 })).toEqual({ prompt: 'ukiyo-e print', sourcePrompt: 'photo', weight: 1 });
    expect(() => checkTextTarget({ prompt: 'x', sourcePrompt: 'photo', weight: 1.5 })).toThrow(SettingsError);
    expect(() => checkTextTarget({ prompt: 'x'.repeat(201), sourcePrompt: 'photo', weight: 1 })).toThrow(/200 characters/);
  });

  it('turns L_dis off only without a reference; μ_s only for the image part of the direction', () => {
    const w = { dir: 1, dis: 2, imageStructure: 3, featureStructure: 4 };
    expect(zeroShotLossWeights(w, false)).toEqual({ ...w, dis: 0 });
    expect(zeroShotLossWeights(w, true)).toEqual(w);
    const o = parseMethodOptions({});
    const t = { prompt: 'a sketch', sourcePrompt: 'photo', weight: 1 };
    expect(needsMeanEmbedding(enc, o, 1, t, false)).toBe(false);
    expect(needsMeanEmbedding(enc, o, 1, t, true)).toBe(false);
    expect(needsMeanEmbedding(enc, o, 1, { ...t, weight: 0.5 }, true)).toBe(true);
    expect(needsMeanEmbedding(enc, o, 1, null, true)).toBe(true);
    expect(needsMeanEmbedding(enc, o, 0, null, true)).toBe(false);
  });

  it('Δ_ref is the text direction without a reference, and normalize((1 − w)·Δ_image + w·Δ_text) with one', async () => {
    const o = parseMethodOptions({ disTokens: 'block', disColourWeight: 0 });
    const text = { prompt: 'a pencil sketch', sourcePrompt: 'photo', weight: 0.25 };
    const before = tf.memory().numTensors;
    const dir = await textDirection(enc, tok, text.prompt, text.sourcePrompt, o.textTemplates);
    const only = await prepareZeroShotEncoder({ encoder: enc, reference: null, meanEmbedding: null, options: o, text, tokenizer: tok, templates: o.textTemplates });
    expect(Array.from(await only.refDirection!.data()).map((x, i) => Math.abs(x - dir.direction[i])).every((d) => d < 1e-6)).toBe(true);
    disposeTrainerEncoder(only);

    const mu = new Float32Array(enc.embedDim).fill(0.01);
    const ref = stripedReference(64);
    const image = prepareTrainerEncoder(enc, ref, mu, o);
    const imageDir = (await image.refDirection!.data()) as Float32Array;
    disposeTrainerEncoder(image);
    const mixed = await prepareZeroShotEncoder({ encoder: enc, reference: ref, meanEmbedding: mu, options: o, text, tokenizer: tok, templates: o.textTemplates });
    const want = imageDir.map((x, i) => 0.75 * x + 0.25 * dir.direction[i]);
    const n = Math.hypot(...want);
    const got = await mixed.refDirection!.data();
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i] / n, 5);
    disposeTrainerEncoder(mixed);
    expect(tf.memory().numTensors).toBe(before);
  });
});

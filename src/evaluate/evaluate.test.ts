import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { initNodeBackend } from '../platform/node-backend.ts';
import { CHEAP_RENDER, stripedReference, tinyClip, tinyGenerator, tinyView } from '../testing/fixtures.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import type { GeneratorView } from '../adapter/generator-view.ts';
import type { ClipImageEncoder } from '../clip/encoder.ts';
import { evaluateAdaptation, evaluationLatentSeed, referenceLab, resizeArea, resolveEvaluationOptions, sharesBackbone } from './evaluate.ts';
import { slicedWasserstein } from './color.ts';
import { FaceApiEmbedder, FACE_API_MODEL_NAMES, type FaceApiModule, type FaceApiWeights } from './face-identity.ts';
import { InceptionGramNetwork, loadNsfwInceptionV3 } from './texture.ts';
import type { EvaluationResult } from './types.ts';

const require = createRequire(import.meta.url);

/** face-api's Node build (requires this project's @tensorflow/tfjs) and its shipped weights. */
function faceApi(): FaceApiEmbedder {
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as FaceApiModule;
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const read = (name: string): FaceApiWeights => ({
    manifest: JSON.parse(readFileSync(join(dir, `${name}-weights_manifest.json`), 'utf8')) as FaceApiWeights['manifest'],
    bin: new Uint8Array(readFileSync(join(dir, `${name}.bin`))),
  });
  return FaceApiEmbedder.create(api, { detector: read(FACE_API_MODEL_NAMES.detector), landmarks: read(FACE_API_MODEL_NAMES.landmarks), recognition: read(FACE_API_MODEL_NAMES.recognition) });
}

describe('evaluation report on the tiny fixture generator', () => {
  let gen: EG3DGenerator;
  let view: GeneratorView;
  let face: FaceApiEmbedder;
  let texture: InceptionGramNetwork;
  let clip: ClipImageEncoder;
  let self: EvaluationResult;

  beforeAll(async () => {
    await initNodeBackend('wasm');
    gen = await tinyGenerator();
    view = tinyView(gen, CHEAP_RENDER);
    face = faceApi();
    texture = await InceptionGramNetwork.create(await loadNsfwInceptionV3());
    clip = await tinyClip();
  }, 120_000);

  afterAll(() => {
    face?.dispose();
    texture?.dispose();
    clip?.dispose();
    gen?.dispose();
  });

  const run = (adapted: GeneratorView) =>
    evaluateAdaptation({
      source: view,
      adapted,
      reference: stripedReference(64),
      face,
      texture,
      clip: [{ encoder: clip }],
      options: { latents: 2, seed: 5, yaws: [-0.3, 0, 0.3], thumbnailSize: 16 },
    });

  it('source vs itself: identity 1, depth difference 0, style distances unchanged; structured-cloneable', async () => {
    self = await run(view);
    expect(self.rows.map((r) => r.latentSeed)).toEqual([evaluationLatentSeed(5, 0), evaluationLatentSeed(5, 1)]);
    for (const r of self.rows) {
      expect(r.identity).toBeCloseTo(1, 5);
      expect(r.identityCrop).not.toBeNull();
      expect(r.depthDiff).toBe(0);
      expect(r.depthDiffPct).toBe(0);
      expect(r.headDepth).toBeGreaterThan(0);
      expect(r.palette!.source).toBeGreaterThan(0);
      expect(r.palette!.adapted).toBe(r.palette!.source);
      expect(r.texture!.source).toBeGreaterThan(0);
      expect(r.texture!.adapted).toBeCloseTo(r.texture!.source, 6);
      expect(r.consistency.adapted).toBe(r.consistency.source);
      expect(r.clip).toHaveLength(1);
      expect(r.clip[0].similarity.adapted).toBeCloseTo(r.clip[0].similarity.source, 5);
      expect(r.clip[0].directionAlignment).toBe(0);
      expect(r.thumbnails.source).toHaveLength(3);
      expect([r.thumbnails.source[0].width, r.thumbnails.source[0].height]).toEqual([16, 16]);
      expect(r.thumbnails.adapted.map((t) => Array.from(t.data))).toEqual(r.thumbnails.source.map((t) => Array.from(t.data)));
    }
    expect(self.frontalView).toBe(1);
    expect(self.means.identity).toBeCloseTo(1, 5);
    expect(self.means.paletteChangePct).toBe(0);
    expect(self.means.detectedLatents + self.means.fixedCropLatents).toBeLessThanOrEqual(2);
    expect(self.measures.identity).toMatch(/stand-in for the ArcFace/);
    const clone = structuredClone(self);
    expect(clone).toEqual(self);
  }, 300_000);

  it('a strongly perturbed Tri-D lowers identity and raises the depth difference; no tensor leak', async () => {
    // Scale the Tri-D decoder's weights: the density and colour fields change everywhere.
    const overrides = new Map<string, tf.Tensor>();
    for (const [k, t] of gen.weights) if (k.startsWith('decoder.') && k.endsWith('.weight')) overrides.set(k, tf.mul(t, 2.5));
    const perturbed = view.withWeights(overrides);
    // Tri-D/G2 overrides keep the mapping and backbone shared: the tri-planes are computed once for both.
    expect(sharesBackbone(view, perturbed)).toBe(true);
    const other = await tinyGenerator();
    expect(sharesBackbone(view, tinyView(other))).toBe(false);
    other.dispose();
    try {
      // (measured on the second run: the encoders' caches were filled by the first)
      const before = tf.memory().numTensors;
      const r = await run(perturbed);
      expect(tf.memory().numTensors).toBe(before);
      expect(r.means.identity!).toBeLessThan(self.means.identity! - 0.01);
      expect(r.means.depthDiff).toBeGreaterThan(0.001);
      expect(r.means.depthDiffPct).toBeGreaterThan(0.5);
      for (const row of r.rows) {
        expect(row.palette!.source).toBe(self.rows[row.latent].palette!.source);
        expect(row.palette!.adapted).not.toBe(row.palette!.source);
        expect(Math.abs(row.clip[0].directionAlignment)).toBeGreaterThan(0);
      }
    } finally {
      tf.dispose([...overrides.values()]);
    }
  }, 300_000);

  it('validates options and stops when asked', async () => {
    await expect(evaluateAdaptation({ source: view, adapted: view, options: { latents: 0 } })).rejects.toThrow(/latents/);
    const r = await evaluateAdaptation({ source: view, adapted: view, options: { latents: 3, yaws: [0, 0.2] }, shouldStop: () => true });
    expect(r.stopped).toBe(true);
    expect(r.rows).toHaveLength(0);
    // Without a reference, face embedder or texture network the corresponding measures are absent.
    const bare = await evaluateAdaptation({ source: view, adapted: view, options: { latents: 1, yaws: [0, 0.2] } });
    expect(bare.rows[0].identity).toBeNull();
    expect(bare.rows[0].palette).toBeNull();
    expect(bare.rows[0].texture).toBeNull();
    expect(bare.means.palette).toBeNull();
  }, 120_000);

  it("the palette's reference pixels: the face box of the crop ('face-box') or all of it ('image')", () => {
    // 8×8 reference: a white face box (FACE_BOX covers pixels x 2…5, y 2…6) on a black backdrop.
    const ref = { width: 8, height: 8, data: new Uint8ClampedArray(256) };
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) ref.data.set(x >= 2 && x < 6 && y >= 2 && y < 7 ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 8 + x) * 4);
    const o = resolveEvaluationOptions();
    const boxed = referenceLab(ref, o);
    const whole = referenceLab(ref, { ...o, paletteReference: 'image' });
    expect(boxed.length / 3).toBe(20);
    expect(whole.length / 3).toBe(64);
    expect(Math.min(...boxed.filter((_, i) => i % 3 === 0))).toBeGreaterThan(99); // L* of white
    // a white head is at distance 0 from the face box, far from the whole crop (mostly black)
    const white = new Float32Array(48).map((_, i) => boxed[i % 3]);
    expect(slicedWasserstein(white, boxed)).toBeLessThan(1e-3);
    expect(slicedWasserstein(white, whole)).toBeGreaterThan(30);
    expect(() => resolveEvaluationOptions({ paletteReference: 'face' as 'image' })).toThrow(/paletteReference/);
  });

  it('area resize averages blocks', () => {
    const img = { width: 4, height: 4, data: new Uint8ClampedArray(64) };
    for (let i = 0; i < 16; i++) img.data.set([i < 8 ? 0 : 200, 10, 20, 255], i * 4);
    const s = resizeArea(img, 2);
    expect(Array.from(s.data)).toEqual([0, 10, 20, 255, 0, 10, 20, 255, 200, 10, 20, 255, 200, 10, 20, 255]);
  });
});

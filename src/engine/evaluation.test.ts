/**
 * The engine's evaluation on the tiny fixture: LocalEngine.evaluate over held-out latents with the
 * platform's face-api loader and the nsfwjs InceptionV3 (loaded on first use, once), progress events,
 * cancellation, refusals while it runs, no tensor leak; and the live preview estimate (source vs
 * itself: no change; a perturbed Tri-D: depth moves).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { loadNodeFaceApi } from '../platform/node-evaluation.ts';
import { Random } from '../core/random.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../adapter/export.ts';
import { parseMethodOptions } from '../adapter/options.ts';
import { loadNsfwInceptionV3 } from '../evaluate/texture.ts';
import { CHEAP_RENDER, stripedReference, tinyGenerator, tinyPickleBytes, tinyView } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { PreviewEstimator } from './evaluation.ts';
import { previewRenders } from './rendering.ts';
import type { EngineEvent, ModelInfo } from './types.ts';

let engine: LocalEngine;
let info: ModelInfo;
const events: EngineEvent[] = [];
const loads = { face: 0, texture: 0 };

/** Tri-D + G2 of the base plus seeded noise of scale `scale`, as an adapted-weights file for this base. */
async function adaptedFile(scale: number): Promise<Blob> {
  const gen = await tinyGenerator();
  const rng = new Random(3);
  const adapted = new Map<string, tf.Tensor>();
  for (const [k, t] of gen.weights) if (isTrainableKey(k)) adapted.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), scale))));
  const bytes = writeAdaptedSafetensors(adapted, {
    baseGeneratorSha256: info.sha256,
    baseGeneratorName: info.name,
    encoders: [],
    settings: {},
    seed: 0,
    iterations: { triD: 4, g2: 2 },
    lossHistory: [],
    createdAt: new Date(0).toISOString(),
  });
  tf.dispose([...adapted.values()]);
  gen.dispose();
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({
    probe: async () => ({ backend: 'wasm', summary: 'test' }),
    renderOverrides: CHEAP_RENDER,
    evaluationModels: {
      loadFaceApi: async () => {
        loads.face++;
        return loadNodeFaceApi();
      },
      loadTextureModel: async () => {
        loads.texture++;
        return loadNsfwInceptionV3();
      },
    },
  });
  engine.subscribe((e) => events.push(e));
  info = await engine.loadGenerator({ kind: 'file', file: new Blob([tinyPickleBytes() as Uint8Array<ArrayBuffer>]), name: 'eg3d-tiny.pkl' });
}, 120_000);

afterAll(async () => {
  await engine?.dispose();
});

describe('LocalEngine.evaluate', () => {
  it('refuses without adapted weights, and loads nothing at construction', async () => {
    await expect(engine.evaluate({ latents: 1 })).rejects.toMatchObject({ code: 'not-ready' });
    expect(loads).toEqual({ face: 0, texture: 0 });
  });

  it('evaluates the adapted weights over held-out latents with progress; the networks load once, on first use', async () => {
    await engine.importAdapted(await adaptedFile(0.3));
    await engine.setReference(stripedReference(64));
    events.length = 0;
    const first = await engine.evaluate({ latents: 2, thumbnailSize: 16 });
    expect(loads).toEqual({ face: 1, texture: 1 });
    expect(first.result.rows).toHaveLength(2);
    expect(first.result.stopped).toBe(false);
    expect(first.generatorId).toBe(info.id);
    expect(first.adaptedIterations).toEqual({ triD: 4, g2: 2 });
    expect(first.reference).toBe(true);
    expect(first.identityModel).toMatch(/face-api/);
    expect(first.textureModel).toMatch(/InceptionV3/);
    const row = first.result.rows[0];
    expect(row.identity).not.toBeNull();
    expect(row.identity!).toBeLessThan(1);
    expect(row.depthDiff).toBeGreaterThan(0);
    expect(row.palette).not.toBeNull();
    expect(row.texture).not.toBeNull();
    expect(row.thumbnails.source).toHaveLength(5);
    expect(row.thumbnails.adapted[0].width).toBe(16);
    const progress = events.filter((e) => e.type === 'evaluation-progress');
    expect(progress.map((e) => e.stage)).toEqual(['loading', 'loading', 'evaluating', 'evaluating', 'evaluating']);
    expect(progress[progress.length - 1]).toMatchObject({ done: 2, total: 2 });

    // A second evaluation reuses the networks and leaks no tensors.
    const before = tf.memory().numTensors;
    const second = await engine.evaluate({ latents: 1, texture: false, identity: false });
    expect(tf.memory().numTensors).toBe(before);
    expect(loads).toEqual({ face: 1, texture: 1 });
    expect(second.identityModel).toBeNull();
    expect(second.textureModel).toBeNull();
    expect(second.notes).toEqual(['identity: off', 'texture: off']);
    // Same seed, same latent 0: the same depth difference.
    expect(second.result.rows[0].depthDiff).toBeCloseTo(row.depthDiff, 6);
  }, 300_000);

  it('refuses other work while it runs, and cancels after the current latent', async () => {
    await engine.importAdapted(await adaptedFile(0.3));
    const other = await adaptedFile(0.1);
    const running = engine.evaluate({ latents: 4, texture: false, identity: false });
    await expect(engine.evaluate({ latents: 1 })).rejects.toMatchObject({ code: 'not-ready' });
    await expect(engine.importAdapted(other)).rejects.toMatchObject({ code: 'not-ready' });
    await expect(engine.loadGenerator({ kind: 'embedded' })).rejects.toMatchObject({ code: 'not-ready' });
    // Cancel once the first latent is done.
    await new Promise<void>((resolve) => {
      const stop = engine.subscribe((e) => {
        if (e.type === 'evaluation-progress' && e.stage === 'evaluating' && e.done === 1) {
          stop();
          void engine.cancelEvaluation().then(resolve);
        }
      });
    });
    const r = await running;
    expect(r.result.stopped).toBe(true);
    expect(r.result.rows.length).toBeGreaterThanOrEqual(1);
    expect(r.result.rows.length).toBeLessThan(4);
    // Free again.
    await expect(engine.evaluate({ latents: 0 })).rejects.toMatchObject({ code: 'bad-settings' });
  }, 300_000);

  it('a cancel before the first latent rejects as cancelled', async () => {
    await engine.importAdapted(await adaptedFile(0.3));
    const running = engine.evaluate({ latents: 2, texture: false, identity: false });
    await engine.cancelEvaluation();
    await expect(running).rejects.toMatchObject({ code: 'cancelled' });
  }, 120_000);
});

describe('PreviewEstimator (the live line during a run)', () => {
  it('source vs itself: no palette change, no depth difference; a perturbed Tri-D moves depth', async () => {
    const gen = await tinyGenerator();
    const view = tinyView(gen, CHEAP_RENDER);
    const options = parseMethodOptions({ previewLatents: 2, previewViews: 3 });
    try {
      const source = await previewRenders(view, options);
      expect(source.images).toHaveLength(6);
      expect(source.depth).toHaveLength(6);
      expect(source.depth[0].length).toBe(source.resolution * source.resolution);
      const est = new PreviewEstimator(stripedReference(64), source);
      const same = await est.estimate(source, null);
      expect(same.views).toBe(6);
      expect(same.depthDiff).toBe(0);
      expect(same.identity).toBeNull();
      expect(same.palette).not.toBeNull();
      expect(same.palette!.adapted).toBeCloseTo(same.palette!.source, 9);
      expect(same.palette!.changePct).toBeCloseTo(0, 9);

      const rng = new Random(9);
      const perturbed = new Map<string, tf.Tensor>();
      for (const [k, t] of gen.weights) if (k.startsWith('decoder.')) perturbed.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.5))));
      const moved = await est.estimate(await previewRenders(view.withWeights(perturbed), options), null);
      tf.dispose([...perturbed.values()]);
      expect(moved.depthDiff).toBeGreaterThan(0);
      expect(moved.depthDiffPct).toBeGreaterThan(0);
      expect(moved.palette!.adapted).not.toBeCloseTo(moved.palette!.source, 6);
      expect(moved.milliseconds).toBeGreaterThanOrEqual(0);
    } finally {
      gen.dispose();
    }
  }, 120_000);
});

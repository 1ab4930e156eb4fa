/**
 * μ_s through the engine: a run reports each encoder's μ_s (samples, stability, cached); a second run
 * on the same generator/encoder/ψ reuses it without computing (no μ_s progress), from memory or — in a
 * fresh engine — from the injected store, which is consulted and written; a cached μ_s from fewer
 * samples than asked is recomputed; corrupt store entries and a failing store never break a run.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { meanEmbeddingStoreKey, type MeanEmbeddingRecord, type MeanEmbeddingStore, type MeanEmbeddingStoreKey } from '../core/mean-embedding-store.ts';
import { CHEAP_RENDER, FIXTURES, stripedReference } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { MEAN_EMBEDDING_STORE_TIMEOUT_MS, usableRecord } from './mean-embeddings.ts';
import type { AdaptSettings, EngineEvent, MeanEmbeddingEvent, ModelInfo } from './types.ts';

const probe = async () => ({ backend: 'wasm' as const, summary: 'test' });
const pkl = () => new Uint8Array(readFileSync(`${FIXTURES}eg3d-tiny.pkl`));
const clipBytes = () => new Uint8Array(readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`));

const settings = (samples: number, truncationPsi = 1): AdaptSettings => ({
  iterations: [1, 1],
  batchSize: 1,
  learningRate: 0.0016,
  betas: [0, 0.992],
  lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
  encoders: [],
  seed: 3,
  truncationPsi,
  meanEmbeddingSamples: samples,
  previewEvery: 1,
  options: { previewLatents: 1, previewViews: 1, meanEmbeddingBatch: 2 },
});

/** A structured-cloning store that records what the engine asked and wrote. */
class RecordingStore implements MeanEmbeddingStore {
  readonly data = new Map<string, unknown>();
  readonly gets: MeanEmbeddingStoreKey[] = [];
  readonly puts: MeanEmbeddingRecord[] = [];
  async get(key: MeanEmbeddingStoreKey): Promise<unknown> {
    this.gets.push(key);
    return structuredClone(this.data.get(meanEmbeddingStoreKey(key)));
  }
  async put(r: MeanEmbeddingRecord): Promise<void> {
    this.puts.push(r);
    this.data.set(meanEmbeddingStoreKey(r), structuredClone(r));
  }
}

interface Loaded {
  engine: LocalEngine;
  gen: ModelInfo;
  clip: ModelInfo;
}

async function engineWith(store?: MeanEmbeddingStore): Promise<Loaded> {
  const engine = new LocalEngine({ probe, renderOverrides: CHEAP_RENDER, meanEmbeddingStore: store });
  const gen = await engine.loadGenerator({ kind: 'file', file: new Blob([pkl()]), name: 'eg3d-tiny.pkl' });
  const clip = await engine.loadEncoder({ kind: 'file', file: new Blob([clipBytes()]), name: 'clip-tiny.hf.safetensors' });
  await engine.setReference(stripedReference());
  return { engine, gen, clip };
}

/** Runs until μ_s is reported, then cancels (training is not what these tests are about). */
async function muRun(engine: LocalEngine, samples: number, psi = 1): Promise<{ reports: MeanEmbeddingEvent[]; muProgress: number; states: string[] }> {
  const reports: MeanEmbeddingEvent[] = [];
  const states: string[] = [];
  let muProgress = 0;
  const off = engine.subscribe((e: EngineEvent) => {
    if (e.type === 'progress' && e.phase === 'mean-embedding') muProgress++;
    if (e.type === 'state') states.push(e.state);
    if (e.type === 'mean-embedding') {
      reports.push(e);
      void engine.cancel();
    }
  });
  try {
    await engine.start(settings(samples, psi));
  } finally {
    off();
  }
  return { reports, muProgress, states };
}

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('μ_s cache through the engine', () => {
  it('skips μ_s when no encoder has an L_dir (direction weight 0): no μ_s progress, no report, no store access', async () => {
    const store = new RecordingStore();
    const { engine } = await engineWith(store);
    const events: EngineEvent[] = [];
    const off = engine.subscribe((e) => events.push(e));
    try {
      await engine.start({ ...settings(512), iterations: [1, 0], options: { ...settings(512).options, encoderDirectionWeight: 0 } });
    } finally {
      off();
    }
    expect(events.some((e) => e.type === 'progress' && e.phase === 'mean-embedding')).toBe(false);
    expect(events.some((e) => e.type === 'mean-embedding')).toBe(false);
    expect(events.some((e) => e.type === 'progress' && e.phase === 'tri-d')).toBe(true);
    expect(events.filter((e) => e.type === 'state').at(-1)).toMatchObject({ state: 'done' });
    expect(store.gets).toHaveLength(0);
    expect(store.puts).toHaveLength(0);
  });

  it('reports μ_s, reuses it on the next run, and persists it for a fresh engine', async () => {
    const store = new RecordingStore();
    const a = await engineWith(store);
    const first = await muRun(a.engine, 4);
    expect(first.muProgress).toBeGreaterThan(0);
    expect(first.states.at(-1)).toBe('cancelled');
    expect(first.reports).toHaveLength(1);
    const r1 = first.reports[0];
    expect(r1).toMatchObject({ type: 'mean-embedding', encoder: a.clip.id, encoderName: a.clip.name, samples: 4, cached: false });
    expect(r1.stability).toBeGreaterThan(-1);
    expect(r1.stability).toBeLessThan(1);
    // The store was asked for (generator sha, encoder sha, ψ) and given the result.
    expect(store.gets).toEqual([{ generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256, psi: 1 }]);
    expect(store.puts).toHaveLength(1);
    const rec = store.puts[0];
    expect(rec).toMatchObject({ generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256, psi: 1, samples: 4, stability: r1.stability });
    expect(rec.mean).toBeInstanceOf(Float32Array);
    expect(Math.hypot(...rec.mean)).toBeCloseTo(1, 5);

    // Same engine, fewer samples asked: the 4-sample μ_s from memory, nothing computed, store not needed.
    const second = await muRun(a.engine, 2);
    expect(second.muProgress).toBe(0);
    expect(second.reports[0]).toMatchObject({ samples: 4, stability: r1.stability, cached: true });
    expect(store.gets).toHaveLength(1);
    expect(store.puts).toHaveLength(1);
    await a.engine.dispose();

    // A fresh engine (a new session) reads it from the store.
    const b = await engineWith(store);
    const third = await muRun(b.engine, 4);
    expect(third.muProgress).toBe(0);
    expect(third.reports[0]).toMatchObject({ samples: 4, stability: r1.stability, cached: true });
    expect(store.gets).toHaveLength(2);
    expect(store.puts).toHaveLength(1);

    // More samples than cached: computed again, and the store keeps the larger one.
    const fourth = await muRun(b.engine, 6);
    expect(fourth.muProgress).toBeGreaterThan(0);
    expect(fourth.reports[0]).toMatchObject({ samples: 6, cached: false });
    expect(store.puts.map((p) => p.samples)).toEqual([4, 6]);
    await b.engine.dispose();
  });

  it('ignores corrupt store entries and a failing store (μ_s is recomputed, the run goes on)', async () => {
    const store = new RecordingStore();
    const a = await engineWith(store);
    // One ψ per case, so the engine's memory has none of them and must go to the store.
    const cases: [number, unknown][] = [
      [1, 'not a record'],
      [0.9, { samples: 64, stability: 0.99, created: 0, psi: 0.9, mean: new Float32Array(3).fill(1 / Math.sqrt(3)) }], // wrong width, no shas
      [0.8, { generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256, psi: 0.8, samples: 64, stability: 0.99, created: 0, mean: [1, 0] }], // a plain array, no sampling
    ];
    for (const [psi, corrupt] of cases) {
      const key = meanEmbeddingStoreKey({ generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256, psi });
      store.data.set(key, corrupt);
      const r = await muRun(a.engine, 2, psi);
      expect(r.reports[0]).toMatchObject({ samples: 2, cached: false });
      expect(r.muProgress).toBeGreaterThan(0);
      expect(r.states).not.toContain('error');
      // The unusable entry was replaced by the computed μ_s.
      expect(store.puts.at(-1)).toMatchObject({ psi, samples: 2, generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256 });
    }
    // A record made under other sampling settings (here: another camera spread) is not reused.
    const other = { ...(store.data.get(meanEmbeddingStoreKey({ generatorSha256: a.gen.sha256, encoderSha256: a.clip.sha256, psi: 1 })) as MeanEmbeddingRecord), samples: 64, sampling: 'yawStd=9' };
    await a.engine.dispose();
    const fresh = await engineWith(store);
    store.data.set(meanEmbeddingStoreKey(other), other);
    const otherSampling = await muRun(fresh.engine, 2);
    expect(otherSampling.reports[0]).toMatchObject({ samples: 2, cached: false });
    await fresh.engine.dispose();

    const failing: MeanEmbeddingStore = {
      get: async () => {
        throw new Error('disk gone');
      },
      put: async () => {
        throw new Error('disk full');
      },
    };
    const b = await engineWith(failing);
    const r = await muRun(b.engine, 2);
    expect(r.reports[0]).toMatchObject({ samples: 2, cached: false });
    expect(r.states).not.toContain('error');
    // Still cached in memory for the engine's lifetime.
    expect((await muRun(b.engine, 2)).reports[0].cached).toBe(true);
    await b.engine.dispose();

    // A store that never answers (a blocked IndexedDB) holds the run up for the timeout only.
    const silent = new RecordingStore();
    silent.get = (key) => {
      silent.gets.push(key);
      return new Promise(() => {});
    };
    const c = await engineWith(silent);
    const started = performance.now();
    const hung = await muRun(c.engine, 2);
    expect(hung.reports[0]).toMatchObject({ samples: 2, cached: false });
    expect(silent.gets).toHaveLength(1);
    expect(silent.puts).toHaveLength(1);
    expect(performance.now() - started).toBeGreaterThanOrEqual(MEAN_EMBEDDING_STORE_TIMEOUT_MS - 50);
    await c.engine.dispose();
  });
});

describe('usableRecord', () => {
  const want = { generatorSha256: 'g'.repeat(64), encoderSha256: 'e'.repeat(64), psi: 0.7, sampling: 's', embedDim: 2 };
  const rec = { ...want, embedDim: undefined, samples: 512, stability: 0.995, mean: new Float32Array([0.6, 0.8]), created: 5 };

  it('accepts a matching unit-length record and refuses anything else', () => {
    expect(usableRecord(rec, want)).toMatchObject({ samples: 512, stability: 0.995, created: 5 });
    expect(usableRecord({ ...rec, samples: 1, stability: NaN }, want)?.stability).toBeNaN();
    expect(usableRecord({ ...rec, stability: NaN }, want)).toBeNull();
    for (const bad of [
      null,
      42,
      { ...rec, psi: 1 },
      { ...rec, sampling: 't' },
      { ...rec, encoderSha256: 'x' },
      { ...rec, samples: 0 },
      { ...rec, samples: 2.5 },
      { ...rec, stability: 'high' },
      { ...rec, stability: 1.5 },
      { ...rec, mean: [0.6, 0.8] },
      { ...rec, mean: new Float32Array([0.6, 0.8, 0]) },
      { ...rec, mean: new Float32Array([3, 4]) },
      { ...rec, mean: new Float32Array([NaN, 1]) },
    ]) {
      expect(usableRecord(bad, want), JSON.stringify(bad)).toBeNull();
    }
  });
});

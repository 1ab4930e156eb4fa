/**
 * μ_s per encoder for a run, cached per (generator SHA-256, encoder SHA-256, ψ) with its sample count:
 * a cached μ_s from at least the requested number of samples is reused — from memory (the engine's
 * lifetime) or from the injected persistent store (IndexedDB in the browser, JSON files next to the
 * CLI's outputs) — otherwise it is computed and stored. It does not depend on the reference or the
 * training seed, so every run reuses it. Anything the store returns is validated; an unusable entry
 * or a failing store is ignored (μ_s is recomputed), never the end of a run.
 */
import { estimateMeanEmbedding, meanEmbeddingSampling } from '../adapter/mean-embedding.ts';
import type { MethodOptions } from '../adapter/options.ts';
import { InternalError } from '../core/errors.ts';
import type { MeanEmbeddingRecord, MeanEmbeddingStore, MeanEmbeddingStoreKey } from '../core/mean-embedding-store.ts';
import type { LoadedEncoder, LoadedGenerator } from './models.ts';
import type { AdaptSettings } from './types.ts';

/** μ_s's sampling seed: fixed (not the run's seed) so the cache stays valid across runs. */
const MEAN_EMBEDDING_SEED = 20250101;

/** How long a store read or write may take before it counts as failed (a blocked IndexedDB must not hold up a run). */
export const MEAN_EMBEDDING_STORE_TIMEOUT_MS = 5000;

/** `p`, or a rejection after `ms` (the timer is cleared either way). */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InternalError(`the μ_s store did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface MeanEmbeddingRequest {
  gen: LoadedGenerator;
  encoders: LoadedEncoder[];
  settings: AdaptSettings;
  options: MethodOptions;
  /** Checked between batches; true aborts with MeanEmbeddingCancelled. */
  shouldStop: () => boolean;
  onProgress: (done: number, total: number) => void;
}

/** μ_s of one encoder for a run. */
export interface MeanEmbeddingResult {
  mean: Float32Array;
  samples: number;
  stability: number;
  /** True when it came from the cache (memory or the store), not computed for this run. */
  cached: boolean;
}

/** The record when `x` is a usable μ_s for `want` (same key and sampling, unit length, finite); otherwise null. */
export function usableRecord(x: unknown, want: MeanEmbeddingStoreKey & { sampling: string; embedDim: number }): MeanEmbeddingRecord | null {
  if (!x || typeof x !== 'object') return null;
  const r = x as Partial<Record<keyof MeanEmbeddingRecord, unknown>>;
  if (r.generatorSha256 !== want.generatorSha256 || r.encoderSha256 !== want.encoderSha256 || r.psi !== want.psi || r.sampling !== want.sampling) return null;
  if (typeof r.samples !== 'number' || !Number.isSafeInteger(r.samples) || r.samples < 1) return null;
  if (typeof r.stability !== 'number' || (r.samples >= 2 && !(r.stability >= -1 - 1e-6 && r.stability <= 1 + 1e-6))) return null;
  if (!(r.mean instanceof Float32Array) || r.mean.length !== want.embedDim) return null;
  let sq = 0;
  for (const v of r.mean) sq += v * v;
  if (!Number.isFinite(sq) || Math.abs(Math.sqrt(sq) - 1) > 1e-3) return null;
  return {
    generatorSha256: want.generatorSha256,
    encoderSha256: want.encoderSha256,
    psi: want.psi,
    sampling: want.sampling,
    samples: r.samples,
    stability: r.samples >= 2 ? r.stability : NaN,
    mean: r.mean,
    created: typeof r.created === 'number' ? r.created : 0,
  };
}

export class MeanEmbeddingCache {
  private readonly memory = new Map<string, MeanEmbeddingRecord>();

  constructor(
    private readonly store?: MeanEmbeddingStore,
    private readonly storeTimeoutMs = MEAN_EMBEDDING_STORE_TIMEOUT_MS,
  ) {}

  /** μ_s of each encoder, in order (computed together for the encoders without a large enough cached one). */
  async get(r: MeanEmbeddingRequest): Promise<MeanEmbeddingResult[]> {
    const samples = r.settings.meanEmbeddingSamples;
    const psi = r.settings.truncationPsi;
    const batch = r.options.meanEmbeddingBatch;
    const sampling = meanEmbeddingSampling(r.gen.view, { seed: MEAN_EMBEDDING_SEED, batch, options: r.options });
    // The same weights can load as another network (a CLIP config changing its head count): the
    // encoder's architecture summary is part of what μ_s depends on.
    const samplingOf = (e: LoadedEncoder) => `${sampling}|encoder=${e.info.summary}`;
    const wantOf = (e: LoadedEncoder) => ({ generatorSha256: r.gen.info.sha256, encoderSha256: e.info.sha256, psi, sampling: samplingOf(e), embedDim: e.encoder.embedDim });
    const memoryKey = (e: LoadedEncoder) => `${r.gen.info.sha256}|${e.info.sha256}|psi=${psi}|${samplingOf(e)}`;

    const results = new Map<LoadedEncoder, MeanEmbeddingResult>();
    for (const e of r.encoders) {
      let rec = this.memory.get(memoryKey(e)) ?? null;
      if (!rec || rec.samples < samples) {
        const stored = await this.readStore(wantOf(e));
        if (stored && (!rec || stored.samples > rec.samples)) {
          rec = stored;
          this.memory.set(memoryKey(e), stored);
        }
      }
      if (rec && rec.samples >= samples) results.set(e, { mean: rec.mean, samples: rec.samples, stability: rec.stability, cached: true });
    }

    const missing = r.encoders.filter((e) => !results.has(e));
    if (missing.length) {
      const computed = await estimateMeanEmbedding(
        r.gen.view,
        missing.map((e) => e.encoder),
        { samples, seed: MEAN_EMBEDDING_SEED, psi, batch, options: r.options, shouldStop: r.shouldStop, onProgress: r.onProgress },
      );
      for (let i = 0; i < missing.length; i++) {
        const e = missing[i];
        const c = computed[i];
        const rec: MeanEmbeddingRecord = {
          generatorSha256: r.gen.info.sha256,
          encoderSha256: e.info.sha256,
          psi,
          sampling: samplingOf(e),
          samples: c.samples,
          stability: c.stability,
          mean: c.mean,
          created: Date.now(),
        };
        this.memory.set(memoryKey(e), rec);
        await this.writeStore(rec);
        results.set(e, { mean: c.mean, samples: c.samples, stability: c.stability, cached: false });
      }
    }
    return r.encoders.map((e) => results.get(e)!);
  }

  private async readStore(want: Parameters<typeof usableRecord>[1]): Promise<MeanEmbeddingRecord | null> {
    if (!this.store) return null;
    try {
      const key: MeanEmbeddingStoreKey = { generatorSha256: want.generatorSha256, encoderSha256: want.encoderSha256, psi: want.psi };
      return usableRecord(await withTimeout(this.store.get(key), this.storeTimeoutMs), want);
    } catch {
      return null; // unreadable: recompute
    }
  }

  private async writeStore(rec: MeanEmbeddingRecord): Promise<void> {
    if (!this.store) return;
    try {
      // The store keeps its own copy (IndexedDB clones; files serialise).
      await withTimeout(this.store.put({ ...rec, mean: rec.mean.slice() }), this.storeTimeoutMs);
    } catch {
      // Not persisted: this session still has it in memory.
    }
  }
}

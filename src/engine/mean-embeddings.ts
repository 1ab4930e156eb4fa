/**
 * μ_s per encoder for a run, cached for the engine's lifetime per (generator, encoder, sampling
 * settings): it does not depend on the reference or the training seed, so every run reuses it.
 */
import { computeMeanEmbedding, meanEmbeddingKey } from '../adapter/mean-embedding.ts';
import type { MethodOptions } from '../adapter/options.ts';
import type { LoadedEncoder, LoadedGenerator } from './models.ts';
import type { AdaptSettings } from './types.ts';

/** μ_s's sampling seed: fixed (not the run's seed) so the cache stays valid across runs. */
const MEAN_EMBEDDING_SEED = 20250101;

export interface MeanEmbeddingRequest {
  gen: LoadedGenerator;
  encoders: LoadedEncoder[];
  settings: AdaptSettings;
  options: MethodOptions;
  /** Checked between batches; true aborts with MeanEmbeddingCancelled. */
  shouldStop: () => boolean;
  onProgress: (done: number, total: number) => void;
}

export class MeanEmbeddingCache {
  private readonly cache = new Map<string, Float32Array>();

  /** μ_s of each encoder, in order (computed together for the encoders not cached yet). */
  async get(r: MeanEmbeddingRequest): Promise<Float32Array[]> {
    const keyOpts = { samples: r.settings.meanEmbeddingSamples, seed: MEAN_EMBEDDING_SEED, psi: r.settings.truncationPsi };
    const key = (e: LoadedEncoder) => meanEmbeddingKey(r.gen.info.sha256, e.info.id, keyOpts);
    const missing = r.encoders.filter((e) => !this.cache.has(key(e)));
    if (missing.length) {
      const computed = await computeMeanEmbedding(
        r.gen.view,
        missing.map((e) => e.encoder),
        { ...keyOpts, batch: r.options.meanEmbeddingBatch, options: r.options, shouldStop: r.shouldStop, onProgress: r.onProgress },
      );
      missing.forEach((e, i) => this.cache.set(key(e), computed[i]));
    }
    return r.encoders.map((e) => this.cache.get(key(e))!);
  }
}

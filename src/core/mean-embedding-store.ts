/**
 * Persistence of μ_s (the mean source embedding, src/adapter/mean-embedding.ts) across sessions: one
 * record per (generator SHA-256, encoder SHA-256, ψ). The engine (no DOM, no Node) is given a store;
 * the platform implements it (src/platform/browser-mean-store.ts: IndexedDB in the worker;
 * src/platform/node-mean-store.ts: JSON files next to the CLI's outputs). Records are
 * structured-cloneable. A store may return anything for a key — the engine validates what it reads
 * and recomputes on anything it cannot use, so a corrupt entry never breaks a run.
 */

export interface MeanEmbeddingStoreKey {
  generatorSha256: string;
  encoderSha256: string;
  /** Truncation ψ of the source latents. */
  psi: number;
}

export interface MeanEmbeddingRecord extends MeanEmbeddingStoreKey {
  /**
   * What else the sampling depended on (camera spread, renderer resolution and samples per ray, the
   * sampling seed): a record made under other sampling settings is recomputed, not reused.
   */
  sampling: string;
  /** Source renders averaged. */
  samples: number;
  /** Cosine between the normalised means of the even- and odd-indexed samples (NaN below 2 samples). */
  stability: number;
  /** μ_s: unit length, the encoder's embedding width. */
  mean: Float32Array;
  /** When it was computed (ms since the epoch). */
  created: number;
}

export interface MeanEmbeddingStore {
  /** The record of a key, or undefined; may throw (the engine then recomputes). */
  get(key: MeanEmbeddingStoreKey): Promise<unknown>;
  /** Stores (replaces) the record of its key; may throw (the engine then goes on without storing). */
  put(record: MeanEmbeddingRecord): Promise<void>;
}

/** One string per key (IndexedDB key, file name stem): ψ written as JavaScript prints it. */
export function meanEmbeddingStoreKey(k: MeanEmbeddingStoreKey): string {
  return `mu_s-${k.generatorSha256.slice(0, 12)}-${k.encoderSha256.slice(0, 12)}-psi${k.psi}`;
}

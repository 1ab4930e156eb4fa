/**
 * The engine's domain mix: adapted-weights files read once (on the loaded base generator) and kept
 * under the caller's ids, so changing a weight only recomputes the blend (src/adapter/mix.ts), which
 * then becomes the engine's adapted weights — rendered, strength-scaled, evaluated and exported like
 * any adaptation.
 */
import type * as tf from '@tensorflow/tfjs';
import { BlobByteSource } from '../io/byte-source.ts';
import { readAdaptedSafetensors, type AdaptedMetadata } from '../adapter/export.ts';
import { mixMetadata, mixWeights, type MixPart } from '../adapter/mix.ts';
import { AdaptedState } from './adapted.ts';
import type { LoadedGenerator } from './models.ts';
import { EngineError, type MixInfo, type MixPartRequest } from './types.ts';

interface HeldPart {
  name: string;
  meta: AdaptedMetadata;
  weights: Map<string, tf.Tensor>;
}

export class DomainMixer {
  private readonly parts = new Map<string, HeldPart>();
  /** The generator (sha256) the held parts were read for. */
  private baseSha: string | null = null;

  get size(): number {
    return this.parts.size;
  }

  /**
   * Reads the new files among `requests` (a file made on another base is refused before anything
   * changes), drops held parts no longer listed, and returns the blended weights with their metadata
   * (null for an empty list). The caller owns the returned AdaptedState.
   */
  async update(gen: LoadedGenerator, requests: readonly MixPartRequest[]): Promise<{ adapted: AdaptedState | null; info: MixInfo }> {
    if (this.baseSha !== gen.info.sha256) this.clear();
    this.baseSha = gen.info.sha256;
    const ids = new Set<string>();
    for (const r of requests) {
      if (typeof r.id !== 'string' || r.id === '') throw new EngineError('bad-settings', 'every mix part needs an id');
      if (ids.has(r.id)) throw new EngineError('bad-settings', `the mix lists the part ${r.id} twice`);
      ids.add(r.id);
      if (!r.file && !this.parts.has(r.id)) throw new EngineError('not-ready', `the mix part ${r.name ?? r.id} has not been loaded: pass its file`);
    }
    // Read every new file first: a refused one leaves the mix as it was.
    const fresh = new Map<string, HeldPart>();
    try {
      for (const r of requests) {
        if (!r.file) continue;
        const name = r.name ?? (r.file as File).name ?? r.id;
        const read = await readAdaptedSafetensors(new BlobByteSource(r.file, name), { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights });
        fresh.set(r.id, { name, meta: read.metadata, weights: read.weights });
      }
    } catch (e) {
      for (const p of fresh.values()) disposeAll(p.weights);
      throw e;
    }
    for (const [id, p] of fresh) {
      const old = this.parts.get(id);
      if (old) disposeAll(old.weights);
      this.parts.set(id, p);
    }
    for (const [id, p] of [...this.parts]) {
      if (!ids.has(id)) {
        disposeAll(p.weights);
        this.parts.delete(id);
      }
    }
    const parts: MixPart[] = requests.map((r) => {
      const held = this.parts.get(r.id)!;
      return { name: held.name, weight: r.weight, meta: held.meta, weights: held.weights };
    });
    const info: MixInfo = {
      parts: requests.map((r) => {
        const held = this.parts.get(r.id)!;
        return { id: r.id, name: held.name, weight: r.weight, iterations: { ...held.meta.iterations }, createdAt: held.meta.createdAt, ...(held.meta.prompt !== undefined ? { prompt: held.meta.prompt } : {}) };
      }),
    };
    if (parts.length === 0) return { adapted: null, info };
    const base = { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights };
    const weights = mixWeights(base, parts);
    return { adapted: new AdaptedState(weights, mixMetadata(base, parts), []), info };
  }

  clear(): void {
    for (const p of this.parts.values()) disposeAll(p.weights);
    this.parts.clear();
    this.baseSha = null;
  }
}

function disposeAll(weights: Map<string, tf.Tensor>): void {
  for (const t of weights.values()) t.dispose();
}

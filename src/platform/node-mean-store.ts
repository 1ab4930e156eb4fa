/**
 * μ_s persistence for Node (the CLI): one JSON file per (generator, encoder, ψ) in a directory — the
 * CLI passes the directory of its --out file, so μ_s sits next to the outputs it was used for — named
 * `mu_s-<generator sha 12>-<encoder sha 12>-psi<ψ>.json`. The engine validates what is read; a file
 * that is missing, unreadable or not JSON reads as absent.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { meanEmbeddingStoreKey, type MeanEmbeddingRecord, type MeanEmbeddingStore, type MeanEmbeddingStoreKey } from '../core/mean-embedding-store.ts';

/** The file's JSON: the record with μ_s as a number array and a NaN stability as null. */
interface MeanEmbeddingJson extends Omit<MeanEmbeddingRecord, 'mean' | 'stability'> {
  format: 'adapter3d-mu_s';
  version: 1;
  stability: number | null;
  mean: number[];
}

export class NodeMeanEmbeddingStore implements MeanEmbeddingStore {
  constructor(readonly dir: string) {}

  pathOf(key: MeanEmbeddingStoreKey): string {
    return join(this.dir, `${meanEmbeddingStoreKey(key)}.json`);
  }

  async get(key: MeanEmbeddingStoreKey): Promise<MeanEmbeddingRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.pathOf(key), 'utf8');
    } catch {
      return undefined;
    }
    let j: Partial<MeanEmbeddingJson>;
    try {
      j = JSON.parse(text) as Partial<MeanEmbeddingJson>;
    } catch {
      return undefined;
    }
    if (!j || typeof j !== 'object' || j.format !== 'adapter3d-mu_s' || !Array.isArray(j.mean) || !j.mean.every((x) => typeof x === 'number')) return undefined;
    // Field types are checked by the engine (usableRecord); only the JSON encodings are undone here.
    return {
      generatorSha256: j.generatorSha256 as string,
      encoderSha256: j.encoderSha256 as string,
      psi: j.psi as number,
      sampling: j.sampling as string,
      samples: j.samples as number,
      stability: j.stability === null ? NaN : (j.stability as number),
      mean: Float32Array.from(j.mean),
      created: j.created as number,
    };
  }

  async put(r: MeanEmbeddingRecord): Promise<void> {
    const j: MeanEmbeddingJson = {
      format: 'adapter3d-mu_s',
      version: 1,
      generatorSha256: r.generatorSha256,
      encoderSha256: r.encoderSha256,
      psi: r.psi,
      sampling: r.sampling,
      samples: r.samples,
      stability: Number.isFinite(r.stability) ? r.stability : null,
      created: r.created,
      mean: Array.from(r.mean),
    };
    await mkdir(this.dir, { recursive: true });
    // Written beside and renamed over: a reader never sees half a file.
    const path = this.pathOf(r);
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(j));
    await rename(tmp, path);
  }
}

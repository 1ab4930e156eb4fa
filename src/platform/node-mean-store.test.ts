import { describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MeanEmbeddingRecord } from '../core/mean-embedding-store.ts';
import { NodeMeanEmbeddingStore } from './node-mean-store.ts';

const record = (over: Partial<MeanEmbeddingRecord> = {}): MeanEmbeddingRecord => ({
  generatorSha256: 'ab'.repeat(32),
  encoderSha256: 'cd'.repeat(32),
  psi: 0.7,
  sampling: 'seed=1',
  samples: 512,
  stability: 0.9981234,
  mean: new Float32Array([0.6, -0.8, 1e-7]),
  created: 1234,
  ...over,
});

describe('NodeMeanEmbeddingStore', () => {
  it('writes one JSON file per (generator, encoder, ψ) into its directory and reads it back exactly', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mu-')), 'out');
    const store = new NodeMeanEmbeddingStore(dir);
    const r = record();
    await store.put(r);
    expect(readdirSync(dir)).toEqual([`mu_s-${'ab'.repeat(6)}-${'cd'.repeat(6)}-psi0.7.json`]);
    const back = await store.get(r);
    expect(back).toEqual(r);
    expect(back!.mean).toBeInstanceOf(Float32Array);
    // Another ψ is another file; NaN stability (1 sample) survives JSON.
    await store.put(record({ psi: 1, samples: 1, stability: NaN }));
    expect((await store.get({ ...r, psi: 1 }))!.stability).toBeNaN();
    expect(readdirSync(dir)).toHaveLength(2);
    // Replacing keeps one file.
    await store.put(record({ samples: 1024 }));
    expect((await store.get(r))!.samples).toBe(1024);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('reads a missing, unreadable or foreign file as absent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mu-'));
    const store = new NodeMeanEmbeddingStore(dir);
    const r = record();
    expect(await store.get(r)).toBeUndefined();
    for (const text of ['{"format":"adapter3d-mu_s","mean":[0.6,', '[]', 'null', '{"format":"other","mean":[1]}', '{"format":"adapter3d-mu_s","mean":["x"]}']) {
      writeFileSync(store.pathOf(r), text);
      expect(await store.get(r), text).toBeUndefined();
    }
  });
});

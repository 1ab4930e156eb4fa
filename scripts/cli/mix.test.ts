/**
 * `npm run cli -- mix` and LocalEngine.mixAdapted on the tiny fixture: two deltas (the base's Tri-D + G2
 * with seeded noise) mixed 0.5 / 0.5 give the mean of the parts, the output reads back with the parts
 * listed, a delta of another base is refused (nothing changes), and weight changes reuse the parts read once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '../../src/platform/node-backend.ts';
import { MemoryByteSource } from '../../src/io/byte-source.ts';
import { Random } from '../../src/core/random.ts';
import { isTrainableKey, readAdaptedSafetensors, writeAdaptedSafetensors, type AdaptedMetadata } from '../../src/adapter/export.ts';
import { LocalEngine } from '../../src/engine/local-engine.ts';
import type { ModelInfo } from '../../src/engine/types.ts';
import type { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { CHEAP_RENDER, FIXTURES, tinyGenerator } from '../../src/testing/fixtures.ts';
import { parseMixArgs, run } from './mix.ts';

const dir = mkdtempSync(join(tmpdir(), 'mix-'));
const pklPath = `${FIXTURES}eg3d-tiny.pkl`;
let gen: EG3DGenerator;
let engine: LocalEngine;
let info: ModelInfo;

function delta(seed: number, sha: string, name = 'eg3d-tiny.pkl'): Uint8Array {
  const rng = new Random(seed);
  const w = new Map<string, tf.Tensor>();
  for (const [k, t] of gen.weights) if (isTrainableKey(k)) w.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), 0.1))));
  const meta: AdaptedMetadata = { baseGeneratorSha256: sha, baseGeneratorName: name, encoders: [], settings: {}, seed, iterations: { triD: seed, g2: 0 }, lossHistory: [], createdAt: new Date(0).toISOString() };
  const bytes = writeAdaptedSafetensors(w, seed === 2 ? { ...meta, prompt: 'a pencil sketch' } : meta);
  tf.dispose([...w.values()]);
  return bytes;
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  gen = await tinyGenerator();
  engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), renderOverrides: CHEAP_RENDER });
  info = await engine.loadGenerator({ kind: 'file', file: new Blob([readFileSync(pklPath)]), name: 'eg3d-tiny.pkl' });
  writeFileSync(join(dir, 'a.safetensors'), delta(1, info.sha256));
  writeFileSync(join(dir, 'b.safetensors'), delta(2, info.sha256));
  writeFileSync(join(dir, 'other.safetensors'), delta(3, 'f'.repeat(64), 'ffhq512-128.pkl'));
});
afterAll(async () => {
  await engine?.dispose();
  gen?.dispose();
});

const base = () => ({ sha256: info.sha256, name: info.name, weights: gen.weights });

describe('mix CLI', () => {
  it('parses parts, --out and --generator', () => {
    expect(parseMixArgs(['a.safetensors:0.5', 'b.safetensors:0.5', '--out', 'm.safetensors', '--generator', 'g.pkl'])).toEqual({
      parts: [
        { path: 'a.safetensors', weight: 0.5 },
        { path: 'b.safetensors', weight: 0.5 },
      ],
      out: 'm.safetensors',
      generator: 'g.pkl',
    });
    expect(() => parseMixArgs(['--out', 'm.safetensors'])).toThrow(/at least one/);
    expect(() => parseMixArgs(['a.safetensors'])).toThrow(/--out is required/);
    expect(() => parseMixArgs(['a.safetensors', '--out', 'm', '--weights', '1'])).toThrow(/unknown argument/);
  });

  it('writes the mean of two deltas with the parts in its metadata', async () => {
    const out = join(dir, 'm.safetensors');
    await run([join(dir, 'a.safetensors:0.5'), join(dir, 'b.safetensors:0.5'), '--out', out, '--generator', pklPath]);
    const m = await readAdaptedSafetensors(new MemoryByteSource(new Uint8Array(readFileSync(out)), 'm.safetensors'), base());
    const a = await readAdaptedSafetensors(new MemoryByteSource(new Uint8Array(readFileSync(join(dir, 'a.safetensors'))), 'a'), base());
    const b = await readAdaptedSafetensors(new MemoryByteSource(new Uint8Array(readFileSync(join(dir, 'b.safetensors'))), 'b'), base());
    expect(m.metadata.mix?.map((p) => [p.name, p.weight, p.prompt])).toEqual([
      ['a.safetensors', 0.5, undefined],
      ['b.safetensors', 0.5, 'a pencil sketch'],
    ]);
    for (const key of [...m.weights.keys()].slice(0, 4)) {
      const [x, y, z] = await Promise.all([m.weights.get(key)!.data(), a.weights.get(key)!.data(), b.weights.get(key)!.data()]);
      for (let i = 0; i < x.length; i += 7) expect(x[i]).toBeCloseTo((y[i] + z[i]) / 2, 5);
    }
    tf.dispose([...m.weights.values(), ...a.weights.values(), ...b.weights.values()]);
  });

  it('refuses a delta of another base generator with a clear message', async () => {
    const err = await run([join(dir, 'a.safetensors:0.5'), join(dir, 'other.safetensors:0.5'), '--out', join(dir, 'x.safetensors'), '--generator', pklPath]).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('incompatible-file');
    expect((err as Error).message).toMatch(/other\.safetensors was adapted from a different base generator \(ffhq512-128\.pkl/);
  });
});

describe('LocalEngine.mixAdapted', () => {
  it('reads each part once; weight changes re-blend; a refused part changes nothing; an empty list drops the mix', async () => {
    const file = (n: string) => new Blob([readFileSync(join(dir, n))]);
    const view = { seed: 1, yaw: 0.3, pitch: 0, psi: 0.7, mode: 'rgb' as const, strength: 1 };
    const source = await engine.render({ ...view, strength: 0 });
    const tensors0 = tf.memory().numTensors;
    const first = await engine.mixAdapted([
      { id: 'a', weight: 1, file: file('a.safetensors'), name: 'a.safetensors' },
      { id: 'b', weight: 0, file: file('b.safetensors'), name: 'b.safetensors' },
    ]);
    expect(first.parts.map((p) => [p.name, p.weight, p.prompt])).toEqual([
      ['a.safetensors', 1, undefined],
      ['b.safetensors', 0, 'a pencil sketch'],
    ]);
    const onlyA = await engine.render(view);
    // Without files: the parts held are re-blended.
    await engine.mixAdapted([
      { id: 'a', weight: 0 },
      { id: 'b', weight: 1 },
    ]);
    const onlyB = await engine.render(view);
    const diff = (x: { data: Uint8ClampedArray }, y: { data: Uint8ClampedArray }) => x.data.reduce((s, v, i) => s + Math.abs(v - y.data[i]), 0);
    expect(diff(onlyA, onlyB)).toBeGreaterThan(0);
    expect(diff(onlyA, source)).toBeGreaterThan(0);
    const exported = await engine.exportSafetensors();
    const read = await readAdaptedSafetensors(new MemoryByteSource(exported, 'mix'), base());
    expect(read.metadata.mix?.map((p) => p.weight)).toEqual([0, 1]);
    tf.dispose([...read.weights.values()]);

    // Another base's delta is refused, and the mix stays as it was.
    const refused = await engine.mixAdapted([{ id: 'o', weight: 1, file: file('other.safetensors'), name: 'other.safetensors' }]).catch((e: unknown) => e);
    expect((refused as { code: string }).code).toBe('incompatible-file');
    expect(diff(await engine.render(view), onlyB)).toBe(0);
    // An unknown id without a file.
    await expect(engine.mixAdapted([{ id: 'zzz', weight: 1 }])).rejects.toMatchObject({ code: 'not-ready' });

    // Emptied: the blend is dropped (back to the source), no tensors are left behind.
    expect((await engine.mixAdapted([])).parts).toEqual([]);
    expect(diff(await engine.render(view), source)).toBe(0);
    await expect(engine.exportSafetensors()).rejects.toMatchObject({ code: 'not-ready' });
    expect(tf.memory().numTensors).toBe(tensors0);
  });
});

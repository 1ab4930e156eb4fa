import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { Random } from '../core/random.ts';
import { SettingsError } from '../core/errors.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { isTrainableKey, readAdaptedSafetensors, writeAdaptedSafetensors, type AdaptedMetadata } from './export.ts';
import { MixBaseError, checkMix, mixMetadata, mixWeights, parseMixArgument, type MixPart } from './mix.ts';
import { tinyGenerator } from '../testing/fixtures.ts';

let gen: EG3DGenerator;
const SHA = 'c'.repeat(64);

function meta(seed: number, extra: Partial<AdaptedMetadata> = {}): AdaptedMetadata {
  return {
    baseGeneratorSha256: SHA,
    baseGeneratorName: 'eg3d-tiny.pkl',
    encoders: [{ id: `e${seed}`, name: `enc ${seed}`, sha256: String(seed).repeat(64).slice(0, 64) }],
    settings: { seed },
    seed,
    iterations: { triD: 10 * seed, g2: seed },
    lossHistory: [],
    createdAt: '2026-01-01T00:00:00.000Z',
    ...extra,
  };
}

/** The tiny generator's Tri-D + G2 with seeded noise. */
function perturbed(seed: number): Map<string, tf.Tensor> {
  const rng = new Random(seed);
  const out = new Map<string, tf.Tensor>();
  for (const [k, t] of gen.weights) if (isTrainableKey(k)) out.set(k, tf.tidy(() => tf.add(t, tf.tensor(rng.normalArray(t.size), t.shape))));
  return out;
}

const base = () => ({ sha256: SHA, name: 'eg3d-tiny.pkl', weights: gen.weights });

beforeAll(async () => {
  await initNodeBackend('wasm');
  gen = await tinyGenerator();
});
afterAll(() => gen.dispose());

describe('mixing adapted domains', () => {
  it('blends W_base + Σ w_i (W_i − W_base) per Tri-D / G2 tensor, without leaking tensors', async () => {
    const a = perturbed(1);
    const b = perturbed(2);
    const parts: MixPart[] = [
      { name: 'a', weight: 0.25, meta: meta(1), weights: a },
      { name: 'b', weight: 0.75, meta: meta(2), weights: b },
    ];
    const before = tf.memory().numTensors;
    const mixed = mixWeights(base(), parts);
    expect(tf.memory().numTensors - before).toBe(mixed.size);
    expect([...mixed.keys()].sort()).toEqual([...gen.weights.keys()].filter(isTrainableKey).sort());
    for (const key of [...mixed.keys()].slice(0, 6)) {
      const [m, w0, wa, wb] = await Promise.all([mixed.get(key)!, gen.weights.get(key)!, a.get(key)!, b.get(key)!].map((t) => t.data()));
      for (let i = 0; i < m.length; i += Math.max(1, Math.floor(m.length / 50))) {
        expect(m[i]).toBeCloseTo(w0[i] + 0.25 * (wa[i] - w0[i]) + 0.75 * (wb[i] - w0[i]), 4);
      }
    }
    // Weights 1 / 0 give exactly the part; all 0 give the base (fresh tensors the caller disposes).
    const onlyA = mixWeights(base(), [{ ...parts[0], weight: 1 }, { ...parts[1], weight: 0 }]);
    const zero = mixWeights(base(), [{ ...parts[0], weight: 0 }]);
    const key = [...onlyA.keys()][0];
    expect(Array.from(await onlyA.get(key)!.data())).toEqual(Array.from(await a.get(key)!.data()));
    expect(Array.from(await zero.get(key)!.data())).toEqual(Array.from(await gen.weights.get(key)!.data()));
    tf.dispose([...mixed.values(), ...onlyA.values(), ...zero.values()]);
    expect(tf.memory().numTensors).toBe(before);
    expect(gen.weights.get(key)!.isDisposed).toBe(false);
    tf.dispose([...a.values(), ...b.values()]);
  });

  it('refuses parts of another base generator, missing tensors, bad weights and an empty mix with typed errors', () => {
    const a = perturbed(3);
    const ok: MixPart = { name: 'a.safetensors', weight: 0.5, meta: meta(3), weights: a };
    expect(() => checkMix(base(), [ok])).not.toThrow();
    const other: MixPart = { ...ok, name: 'other.safetensors', meta: meta(3, { baseGeneratorSha256: 'd'.repeat(64), baseGeneratorName: 'ffhq512.pkl' }) };
    expect(() => mixWeights(base(), [ok, other])).toThrow(MixBaseError);
    expect(() => checkMix(base(), [other])).toThrow(/other\.safetensors was adapted from another base generator \(ffhq512\.pkl.*only adaptations of the same base can be mixed/);
    try {
      checkMix(base(), [other]);
    } catch (e) {
      expect((e as MixBaseError).kind).toBe('incompatible-file');
    }
    const missing = new Map(a);
    missing.delete([...missing.keys()][0]);
    expect(() => checkMix(base(), [{ ...ok, weights: missing }])).toThrow(/lacks the tensor/);
    expect(() => checkMix(base(), [{ ...ok, weight: NaN }])).toThrow(SettingsError);
    expect(() => checkMix(base(), [{ ...ok, weight: 9 }])).toThrow(SettingsError);
    expect(() => checkMix(base(), [])).toThrow(SettingsError);
    tf.dispose([...a.values()]);
  });

  it("writes the mix as an adapted-weights file whose metadata lists the parts, read back by the studio's reader", async () => {
    const a = perturbed(4);
    const parts: MixPart[] = [
      { name: 'sketch.safetensors', weight: 0.6, meta: meta(4, { prompt: 'a pencil sketch', sourcePrompt: 'photo' }), weights: a },
      { name: 'ukiyo-e.safetensors', weight: 0.4, meta: meta(5), weights: a },
    ];
    const md = mixMetadata(base(), parts, '2026-12-07T00:00:00.000Z');
    expect(md.encoders.map((e) => e.id)).toEqual(['e4', 'e5']);
    const mixed = mixWeights(base(), parts);
    const bytes = writeAdaptedSafetensors(mixed, md);
    const read = await readAdaptedSafetensors(new MemoryByteSource(bytes, 'mix.safetensors'), base());
    expect(read.metadata.mix).toEqual([
      { name: 'sketch.safetensors', weight: 0.6, iterations: { triD: 40, g2: 4 }, seed: 4, createdAt: '2026-01-01T00:00:00.000Z', prompt: 'a pencil sketch' },
      { name: 'ukiyo-e.safetensors', weight: 0.4, iterations: { triD: 50, g2: 5 }, seed: 5, createdAt: '2026-01-01T00:00:00.000Z' },
    ]);
    expect(read.metadata.baseGeneratorSha256).toBe(SHA);
    // A mix of a mix keeps the nested parts.
    const nested = mixMetadata(base(), [{ name: 'mix.safetensors', weight: 1, meta: read.metadata }]);
    expect(nested.mix![0].mix).toHaveLength(2);
    tf.dispose([...a.values(), ...mixed.values(), ...read.weights.values()]);
  });

  it('parses "file:weight" arguments', () => {
    expect(parseMixArgument('a.safetensors:0.5')).toEqual({ path: 'a.safetensors', weight: 0.5 });
    expect(parseMixArgument('dir/b.safetensors:-0.25')).toEqual({ path: 'dir/b.safetensors', weight: -0.25 });
    expect(parseMixArgument('c.safetensors')).toEqual({ path: 'c.safetensors', weight: 1 });
    expect(parseMixArgument('C:\\x\\d.safetensors')).toEqual({ path: 'C:\\x\\d.safetensors', weight: 1 });
    expect(() => parseMixArgument('a.safetensors:half')).toThrow(SettingsError);
  });
});

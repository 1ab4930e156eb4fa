/** The adapted-weights / checkpoint readers against damaged metadata and Adam moments (from loader fuzzing). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { AdaptedFileError, isTrainableKey, readAdaptedSafetensors, readCheckpoint, writeCheckpoint, type AdaptedMetadata } from './export.ts';
import { tinyGenerator } from '../testing/fixtures.ts';

let gen: EG3DGenerator;

const META: AdaptedMetadata = {
  baseGeneratorSha256: 'c'.repeat(64),
  baseGeneratorName: 'eg3d-tiny.pkl',
  encoders: [{ id: 'clip-tiny', name: 'CLIP tiny', sha256: 'b'.repeat(64) }],
  settings: { batchSize: 2 },
  seed: 42,
  iterations: { triD: 2, g2: 0 },
  lossHistory: [{ phase: 'tri-d', iterations: 2, first: 2, last: 1, min: 1, finalMean: 1 }],
  createdAt: '2026-01-01T00:00:00.000Z',
};

const base = () => ({ sha256: META.baseGeneratorSha256, name: 'eg3d-tiny.pkl', weights: gen.weights });

/** Rewrites the safetensors JSON header of `bytes` (metadata or entries), keeping the data. */
function rewriteHeader(bytes: Uint8Array, edit: (h: Record<string, Record<string, unknown>>) => void): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, Record<string, unknown>>;
  edit(header);
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(bytes.subarray(8 + n), 8 + h.length);
  return out;
}

function checkpoint(): Uint8Array {
  const m = new Map<string, Float32Array>();
  for (const [k, t] of gen.weights) if (isTrainableKey(k) && k.startsWith('decoder.')) m.set(k, new Float32Array(t.size).fill(0.5));
  return writeCheckpoint(gen.weights, META, { globalIteration: 2, adam: { step: 2, m, v: new Map(m) }, lossTotals: [2, 1] });
}

async function failure(bytes: Uint8Array, read: typeof readCheckpoint | typeof readAdaptedSafetensors = readCheckpoint): Promise<AdaptedFileError> {
  const before = tf.memory().numTensors;
  const e = await read(new MemoryByteSource(bytes, 'ck.safetensors'), base()).then(() => null, (x: unknown) => x);
  expect(tf.memory().numTensors, 'tensors left after a refused file').toBe(before);
  expect(e).toBeInstanceOf(AdaptedFileError);
  return e as AdaptedFileError;
}

beforeAll(async () => {
  await initNodeBackend('wasm');
  gen = await tinyGenerator();
});

afterAll(() => gen?.dispose());

describe('adapted-weights and checkpoint readers refuse damaged files with typed errors and free what they read', () => {
  it('reads the pristine checkpoint', async () => {
    const ck = await readCheckpoint(new MemoryByteSource(checkpoint(), 'ck.safetensors'), base());
    expect(ck.position.adam?.m.size).toBeGreaterThan(0);
    for (const t of ck.weights.values()) t.dispose();
  });

  it('metadata of the wrong type', async () => {
    const md = (patch: Record<string, string>) => rewriteHeader(checkpoint(), (h) => Object.assign(h.__metadata__, patch));
    const cases: [Record<string, string>, RegExp][] = [
      [{ iterations: '{"triD": -1, "g2": 0}' }, /'iterations' is not \{triD, g2\} counts/],
      [{ encoders: '{}' }, /'encoders' is not a list/],
      [{ loss_history: '[{"phase": "x"}]' }, /'loss_history' is not a list of loss summaries/],
      [{ seed: 'soon' }, /'seed' is not an integer/],
      [{ base_generator_sha256: '{}' }, /is not a SHA-256/],
      [{ loss_totals: '["a"]' }, /'loss_totals' is not a list of losses/],
      [{ global_iteration: '-3' }, /'global_iteration' is not a count/],
      [{ adam_step: '1.5' }, /'adam_step' is not a count/],
    ];
    for (const [patch, msg] of cases) {
      const e = await failure(md(patch));
      expect(e.kind, JSON.stringify(patch)).toBe('corrupt-file');
      expect(e.message, JSON.stringify(patch)).toMatch(msg);
    }
  });

  it('Adam moments of the wrong size, of unknown parameters, or only half present', async () => {
    const bytes = checkpoint();
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const key = Object.keys(JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)))).find((k) => k.startsWith('optimizer.m.'))!;
    // a moment that claims fewer values (the lie is consistent inside the safetensors header)
    const short = rewriteHeader(bytes, (h) => {
      const e = h[key] as { shape: number[]; data_offsets: number[] };
      e.shape = [1];
      e.data_offsets = [e.data_offsets[0], e.data_offsets[0] + 4];
    });
    expect((await failure(short)).message).toMatch(/has 1 values, its parameter/);
    const renamed = rewriteHeader(bytes, (h) => {
      h['optimizer.m.mapping.fc0.weight'] = h[key];
      delete h[key];
    });
    expect((await failure(renamed)).message).toMatch(/belongs to no trainable parameter/);
    const half = rewriteHeader(bytes, (h) => {
      delete h[key];
    });
    expect((await failure(half)).message).toMatch(/cover different parameters/);
  });

  it('a tensor whose shape does not fit the base generator is refused before it is converted', async () => {
    const bytes = rewriteHeader(checkpoint(), (h) => {
      const e = h['decoder.net.0.weight'] as { shape: number[] };
      e.shape = [...e.shape].reverse();
    });
    const e = await failure(bytes, readAdaptedSafetensors);
    expect(e.kind).toBe('incompatible-file');
    expect(e.message).toMatch(/decoder\.net\.0\.weight has shape .* does not fit the base generator/);
  });
});

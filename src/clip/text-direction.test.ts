/**
 * Text embeddings and the text direction on the tiny CLIP fixture: with 'plain' templates they
 * reproduce the fixture's reference text embeddings (official CLIP code), normalised; the template
 * ensemble is the normalised mean of the normalised sentence embeddings.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { gunzipSync, strFromU8 } from 'fflate';
import { initNodeBackend } from '../platform/node-backend.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { SettingsError } from '../core/errors.ts';
import { FIXTURES } from '../testing/fixtures.ts';
import { loadClipEncoder, type ClipImageEncoder } from './encoder.ts';
import { ClipTokenizer } from './tokenizer.ts';
import { PROMPT_TEMPLATES, promptSentences } from './prompt-templates.ts';
import { hasTextTower, textDirection, textEmbedding } from './text-direction.ts';

let enc: ClipImageEncoder;
let tok: ClipTokenizer;
let prompts: string[];
/** The fixture's text embeddings, each L2-normalised. */
let reference: Float32Array[];

const normalize = (v: ArrayLike<number>) => {
  const n = Math.hypot(...Array.from(v));
  return Float32Array.from(v, (x) => x / n);
};
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));

beforeAll(async () => {
  await initNodeBackend('wasm');
  enc = await loadClipEncoder(await NodeFileByteSource.open(`${FIXTURES}clip-tiny.pt`), { text: true });
  tok = new ClipTokenizer(strFromU8(gunzipSync(readFileSync(`${FIXTURES}clip-bpe-vocab.txt.gz`))));
  prompts = (JSON.parse(readFileSync(`${FIXTURES}clip-tiny.json`, 'utf8')) as { prompts: string[] }).prompts;
  const ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}clip-tiny.reference.safetensors`));
  const { shape, data } = await ref.readFloat32('text_embeds');
  reference = Array.from({ length: shape[0] }, (_, i) => normalize(data.subarray(i * shape[1], (i + 1) * shape[1])));
});
afterAll(() => enc?.dispose());

describe('prompt templates', () => {
  it('fill every template with the description, without doubling its article', () => {
    const s = promptSentences('  a   pencil sketch ', 'ensemble');
    expect(s).toHaveLength(PROMPT_TEMPLATES.length);
    expect(s[0]).toBe('a pencil sketch');
    expect(s).toContain('a photo of a pencil sketch.');
    expect(s.some((x) => /\ba a\b/.test(x))).toBe(false);
    expect(new Set(s).size).toBe(s.length);
    expect(promptSentences('ukiyo-e woodblock print', 'plain')).toEqual(['ukiyo-e woodblock print']);
    // Every sentence fits CLIP's context.
    for (const x of promptSentences('ukiyo-e woodblock print portrait, 3D render!', 'ensemble')) expect(() => tok.tokenize([x])).not.toThrow();
  });
});

describe('text direction (tiny CLIP fixture)', () => {
  it('the text tower is there', () => {
    expect(hasTextTower(enc)).toBe(true);
  });

  it("'plain': the fixture's text embeddings, and Δ = normalize(T(target) − T(source))", async () => {
    const before = tf.memory().numTensors;
    for (let i = 0; i < prompts.length; i++) {
      const e = textEmbedding(enc, tok, prompts[i], 'plain');
      expect(maxDiff(await e.data(), reference[i])).toBeLessThan(1e-4);
      e.dispose();
    }
    const d = await textDirection(enc, tok, prompts[1], prompts[0], 'plain');
    const want = normalize(reference[1].map((x, i) => x - reference[0][i]));
    expect(maxDiff(d.direction, want)).toBeLessThan(1e-4);
    expect(Math.hypot(...d.direction)).toBeCloseTo(1, 5);
    expect(maxDiff(d.target, reference[1])).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("'ensemble': the normalised mean of the sentences' normalised embeddings", async () => {
    const sentences = promptSentences('pencil sketch', 'ensemble');
    const rows = enc.encodeText(tok.tokenize(sentences), sentences.length);
    const data = (await rows.data()) as Float32Array;
    rows.dispose();
    const d = data.length / sentences.length;
    const mean = new Float32Array(d);
    for (let r = 0; r < sentences.length; r++) for (let i = 0; i < d; i++) mean[i] += data[r * d + i] / sentences.length;
    const e = textEmbedding(enc, tok, 'pencil sketch', 'ensemble');
    const got = (await e.data()) as Float32Array;
    e.dispose();
    expect(maxDiff(got, normalize(mean))).toBeLessThan(1e-5);
    const plain = textEmbedding(enc, tok, 'pencil sketch', 'plain');
    expect(maxDiff(got, await plain.data())).toBeGreaterThan(1e-3);
    plain.dispose();
  });

  it('refuses an empty description and a target that embeds like the source', async () => {
    expect(() => textEmbedding(enc, tok, '  ', 'plain')).toThrow(SettingsError);
    await expect(textDirection(enc, tok, 'Photo', 'photo', 'plain')).rejects.toThrow(/embed alike/);
  });
});

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gunzipSync, strFromU8 } from 'fflate';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { ClipTokenizer, ClipTokenizerError } from './tokenizer.ts';

const FIXTURES = '../shared/fixtures';
const vocab = () => strFromU8(gunzipSync(readFileSync(`${FIXTURES}/clip-bpe-vocab.txt.gz`)));

describe('CLIP BPE tokenizer', () => {
  it('matches clip.tokenize on the fixture prompts', async () => {
    const tok = new ClipTokenizer(vocab());
    expect(tok.vocabSize).toBe(49408);
    const cfg = JSON.parse(readFileSync(`${FIXTURES}/clip-tiny.json`, 'utf8')) as { prompts: string[] };
    const ids = tok.tokenize(cfg.prompts);
    const ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}/clip-tiny.reference.safetensors`));
    const expected = (await ref.readFloat32('text_ids')).data;
    expect(Array.from(ids)).toEqual(Array.from(expected));
  });

  it('cleans whitespace, case and HTML entities; errors on overly long input unless truncating', () => {
    const tok = new ClipTokenizer(vocab());
    expect(tok.encode('  A   Photo &amp; a SKETCH ')).toEqual(tok.encode('a photo & a sketch'));
    const long = Array(100).fill('face').join(' ');
    expect(() => tok.tokenize([long])).toThrow(ClipTokenizerError);
    const t = tok.tokenize([long], 77, true);
    expect(t[76]).toBe(tok.eotToken);
    expect(t[0]).toBe(tok.sotToken);
  });

  it('rejects a file that is not a BPE merges list', () => {
    expect(() => new ClipTokenizer('hello\nworld')).toThrow(ClipTokenizerError);
  });
});

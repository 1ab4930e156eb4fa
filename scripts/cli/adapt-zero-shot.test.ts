import { describe, expect, it } from 'vitest';
import { FIXTURES } from '../../src/testing/fixtures.ts';
import { findVocabulary, parseAdaptArgs, settingsFromArgs } from './adapt.ts';

describe('adapt CLI: zero-shot flags', () => {
  it('--prompt replaces --reference, needs a --clip, and becomes settings.text', () => {
    const a = parseAdaptArgs(['--clip', 'c.pt', '--prompt', 'a pencil sketch', '--out', 'o.safetensors']);
    expect(settingsFromArgs(a, ['clip']).text).toEqual({ prompt: 'a pencil sketch', sourcePrompt: 'photo', weight: 1 });
    const both = parseAdaptArgs(['--clip', 'c.pt', '--prompt', 'ukiyo-e', '--source-prompt', 'portrait photo', '--reference', 'r.png', '--out', 'o.safetensors']);
    expect(settingsFromArgs(both, ['clip']).text).toEqual({ prompt: 'ukiyo-e', sourcePrompt: 'portrait photo', weight: 0.5 });
    const weighted = parseAdaptArgs(['--clip', 'c.pt', '--prompt', 'x', '--text-weight', '0.8', '--reference', 'r.png', '--out', 'o']);
    expect(settingsFromArgs(weighted, []).text!.weight).toBe(0.8);
    expect(settingsFromArgs(parseAdaptArgs(['--reference', 'r.png', '--out', 'o']), []).text).toBeUndefined();
    expect(() => parseAdaptArgs(['--prompt', 'a sketch', '--out', 'o'])).toThrow(/needs a --clip with a text tower/);
    expect(() => parseAdaptArgs(['--clip', 'c.pt', '--out', 'o'])).toThrow(/--reference \(or --prompt\) and --out are required/);
    expect(() => parseAdaptArgs(['--reference', 'r.png', '--out', 'o', '--vocab', 'v.txt'])).toThrow(/belong to --prompt/);
  });

  it('finds the BPE vocabulary beside the CLIP file unless --vocab names one', () => {
    expect(findVocabulary('my.txt', [])).toBe('my.txt');
    expect(findVocabulary('', [`${FIXTURES}clip-tiny.pt`])).toMatch(/clip-bpe-vocab\.txt\.gz$/);
    expect(findVocabulary('', ['/nonexistent/dir/c.pt'])).toBeNull();
    expect(findVocabulary('', [])).toBeNull();
  });
});

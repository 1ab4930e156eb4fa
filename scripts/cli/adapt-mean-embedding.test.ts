import { describe, expect, it } from 'vitest';
import { meanEmbeddingLine } from './adapt.ts';

describe('adapt CLI μ_s line', () => {
  it('prints samples, stability and the cache, with a hint when the direction is not stable yet', () => {
    const e = { type: 'mean-embedding' as const, encoder: 'clip-1', encoderName: 'ViT-B/32', samples: 512, stability: 0.9987, cached: true };
    expect(meanEmbeddingLine(e)).toBe('μ_s (ViT-B/32) · 512 samples · stability 0.998 (cached)');
    expect(meanEmbeddingLine({ ...e, samples: 16, stability: 0.95, cached: false })).toBe('μ_s (ViT-B/32) · 16 samples · stability 0.950 — below 0.99: raise μ_s samples (--mean-samples)');
    expect(meanEmbeddingLine({ ...e, samples: 1, stability: NaN, cached: false })).toMatch(/1 sample · stability n\/a .* raise μ_s samples/);
  });
});

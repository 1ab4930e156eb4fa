import { describe, expect, it } from 'vitest';
import { describeCpuThreads, threadCountLabel } from './backend.ts';

describe('capability thread wording', () => {
  it('counts threads for the badge', () => {
    expect(threadCountLabel({ threads: 1 })).toBe('1 thread');
    expect(threadCountLabel({ threads: 8 })).toBe('8 threads');
    expect(threadCountLabel({})).toBe('');
  });

  it('says one thread per core when every core computes', () => {
    expect(describeCpuThreads({ threads: 2, cores: 2, crossOriginIsolated: true })).toBe('It computes on 2 threads, one per CPU core.');
  });

  it('says how many of the cores compute when fewer were started', () => {
    expect(describeCpuThreads({ threads: 4, cores: 16, crossOriginIsolated: true })).toBe('It computes on 4 threads (of 16 cores).');
    expect(describeCpuThreads({ threads: 1, cores: 16, crossOriginIsolated: true })).toBe('It computes on 1 thread of 16 cores.');
  });

  it('blames the missing headers when the page is not cross-origin isolated', () => {
    const text = describeCpuThreads({ threads: 1, cores: 8, crossOriginIsolated: false });
    expect(text).toMatch(/^It computes on 1 thread although this device has 8 cores: the page is not cross-origin isolated/);
    expect(text).toContain('Cross-Origin-Opener-Policy: same-origin');
    expect(text).toContain('Cross-Origin-Embedder-Policy: require-corp');
  });

  it('does not claim missing cores on a one-core device', () => {
    expect(describeCpuThreads({ threads: 1, cores: 1, crossOriginIsolated: true })).toBe('It computes on 1 thread (this device reports one CPU core).');
    expect(describeCpuThreads({ threads: 1, cores: 1, crossOriginIsolated: false })).not.toContain('although');
  });
});

import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.ts';
import { labPixels, slicedWasserstein, srgbToLab, unitDirections } from './color.ts';

describe('sRGB → CIE L*a*b* (D65)', () => {
  it('matches reference values', () => {
    // Reference values (D65, 2°) as published for the sRGB primaries and greys.
    const cases: [number[], number[]][] = [
      [[0, 0, 0], [0, 0, 0]],
      [[1, 1, 1], [100, 0, 0]],
      [[1, 0, 0], [53.2408, 80.0925, 67.2032]],
      [[0, 1, 0], [87.7347, -86.1827, 83.1793]],
      [[0, 0, 1], [32.2970, 79.1875, -107.8602]],
      [[0.5, 0.5, 0.5], [53.3889, 0, 0]],
    ];
    for (const [rgb, lab] of cases) {
      const got = srgbToLab(rgb[0], rgb[1], rgb[2]);
      for (let c = 0; c < 3; c++) expect(got[c]).toBeCloseTo(lab[c], 1);
    }
  });

  it('converts only the masked pixels of an RGBA image', () => {
    const data = new Uint8ClampedArray([255, 255, 255, 255, 0, 0, 0, 255, 255, 0, 0, 255]);
    const lab = labPixels(data, 4, [1, 0, 1]);
    expect(lab.length).toBe(6);
    expect(lab[0]).toBeCloseTo(100, 2);
    expect(lab[3]).toBeCloseTo(53.24, 1);
  });
});

describe('sliced Wasserstein distance', () => {
  function cloud(n: number, seed: number, shift: [number, number, number] = [0, 0, 0]): Float32Array {
    const r = new Random(seed);
    const out = new Float32Array(n * 3);
    for (let i = 0; i < n; i++) {
      out[i * 3] = 50 + 10 * r.normal() + shift[0];
      out[i * 3 + 1] = 5 * r.normal() + shift[1];
      out[i * 3 + 2] = 20 + 8 * r.normal() + shift[2];
    }
    return out;
  }

  it('is 0 for identical distributions (also in a different order and sample count)', () => {
    const a = cloud(500, 1);
    expect(slicedWasserstein(a, a)).toBe(0);
    // The same points, permuted and duplicated: same empirical distribution.
    const b = new Float32Array(a.length * 2);
    for (let i = 0; i < 500; i++) {
      const j = 499 - i;
      b.set(a.subarray(j * 3, j * 3 + 3), i * 3);
      b.set(a.subarray(j * 3, j * 3 + 3), (500 + i) * 3);
    }
    expect(slicedWasserstein(a, b)).toBeLessThan(0.2);
  });

  it('grows with a colour shift, ≈ |δ|/√3 for a translation', () => {
    const a = cloud(2000, 2);
    const d5 = slicedWasserstein(a, cloud(2000, 2, [5, 0, 0]), 3, { projections: 256 });
    const d20 = slicedWasserstein(a, cloud(2000, 2, [20, 0, 0]), 3, { projections: 256 });
    const d40 = slicedWasserstein(a, cloud(2000, 2, [0, 40, 0]), 3, { projections: 256 });
    expect(d5).toBeGreaterThan(0);
    expect(d20).toBeGreaterThan(d5);
    expect(d40).toBeGreaterThan(d20);
    // Random directions: E[(θ·e)²] = 1/3; 256 of them estimate it within a few per cent.
    expect(Math.abs(d20 / (20 / Math.sqrt(3)) - 1)).toBeLessThan(0.1);
    expect(Math.abs(d40 / (40 / Math.sqrt(3)) - 1)).toBeLessThan(0.1);
    // Independent samples of the same distribution are much closer than a shifted one.
    expect(slicedWasserstein(a, cloud(2000, 3))).toBeLessThan(d5);
  });

  it('uses seeded, unit-length directions', () => {
    const d = unitDirections(10, 3, 7);
    for (let p = 0; p < 10; p++) expect(Math.hypot(d[p * 3], d[p * 3 + 1], d[p * 3 + 2])).toBeCloseTo(1, 12);
    expect(Array.from(unitDirections(10, 3, 7))).toEqual(Array.from(d));
    expect(Array.from(unitDirections(10, 3, 8))).not.toEqual(Array.from(d));
    expect(() => slicedWasserstein(new Float32Array(0), cloud(3, 1))).toThrow(/at least one point/);
  });
});

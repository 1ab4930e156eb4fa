import { describe, expect, it } from 'vitest';
import { transpose2d, transposeOuterInner } from './transpose.ts';

const iota = (n: number) => Float32Array.from({ length: n }, (_, k) => k * 0.5 - 7);

describe('blocked transposes', () => {
  it('transpose2d equals the element-wise definition (sizes not multiples of the block)', () => {
    for (const [r, c] of [[1, 1], [3, 70], [37, 53], [64, 33], [70, 130]]) {
      const src = iota(r * c);
      const dst = transpose2d(src, r, c);
      const want = new Float32Array(r * c);
      for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) want[j * r + i] = src[i * c + j];
      expect(dst, `${r}x${c}`).toEqual(want);
    }
  });

  it('transposeOuterInner: [o,i,k] → [k,i,o] (conv [out,in,kh,kw] → [kh,kw,in,out])', () => {
    for (const [o, i, k] of [[5, 7, 9], [40, 3, 1], [33, 35, 4], [65, 130, 9]]) {
      const src = iota(o * i * k);
      const dst = transposeOuterInner(src, o, i, k);
      const want = new Float32Array(src.length);
      for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let j = 0; j < k; j++) want[(j * i + b) * o + a] = src[(a * i + b) * k + j];
      expect(dst, `${o}x${i}x${k}`).toEqual(want);
    }
  });

  it('refuses a length that does not match the shape', () => {
    expect(() => transpose2d(new Float32Array(5), 2, 3)).toThrow(RangeError);
    expect(() => transposeOuterInner(new Float32Array(5), 1, 2, 3)).toThrow(RangeError);
  });
});

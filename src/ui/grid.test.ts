import { describe, expect, it } from 'vitest';
import { composeGrid, previewRows, toRows } from './grid.ts';
import type { RgbaImage } from '../engine/types.ts';

function solid(w: number, h: number, v: number): RgbaImage {
  return { width: w, height: h, data: new Uint8ClampedArray(w * h * 4).fill(v) };
}

describe('grid composition', () => {
  it('lays out cells with gaps and background', () => {
    const g = composeGrid([[solid(2, 2, 200), solid(2, 2, 100)], [null, solid(2, 2, 50)]], 1, [0, 0, 0]);
    expect([g.width, g.height]).toEqual([7, 7]);
    const px = (x: number, y: number) => g.data[(y * g.width + x) * 4];
    expect(px(0, 0)).toBe(0); // gap
    expect(px(1, 1)).toBe(200);
    expect(px(4, 2)).toBe(100);
    expect(px(1, 4)).toBe(0); // missing cell stays background
    expect(px(5, 5)).toBe(50);
    expect(g.data[3]).toBe(255);
  });

  it('resamples cells of another size to the first cell size', () => {
    const g = composeGrid([[solid(2, 2, 10), solid(4, 4, 90)]], 0);
    expect([g.width, g.height]).toEqual([4, 2]);
    expect(g.data[(0 * 4 + 3) * 4]).toBe(90);
  });

  it('refuses an empty grid and splits lists into rows', () => {
    expect(() => composeGrid([[null]])).toThrow(/no images/);
    expect(toRows([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
  });
});

describe('preview rows', () => {
  it('groups latent-major per-image seeds/yaws into one row per latent', () => {
    const rows = previewRows(['a', 'b', 'c', 'd', 'e', 'f'], [0, 0, 0, 1, 1, 1], [-0.4, 0, 0.4, -0.4, 0, 0.4]);
    expect(rows).toEqual([
      { seed: 0, cells: [{ img: 'a', yaw: -0.4 }, { img: 'b', yaw: 0 }, { img: 'c', yaw: 0.4 }] },
      { seed: 1, cells: [{ img: 'd', yaw: -0.4 }, { img: 'e', yaw: 0 }, { img: 'f', yaw: 0.4 }] },
    ]);
  });

  it('accepts one yaw per column and one seed per row', () => {
    const rows = previewRows(['a', 'b', 'c', 'd'], [5, 6], [-0.2, 0.2]);
    expect(rows.map((r) => r.seed)).toEqual([5, 6]);
    expect(rows[1].cells).toEqual([{ img: 'c', yaw: -0.2 }, { img: 'd', yaw: 0.2 }]);
  });
});

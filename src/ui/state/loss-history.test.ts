import { describe, expect, it } from 'vitest';
import { appendLosses, chartGeometry, emptyHistory, type LossHistory } from './loss-history.ts';

const L = (v: number) => ({ total: v, dir: v / 2, dis: v / 4, imageStructure: NaN, featureStructure: v * 2 });

function fill(n: number, capacity: number, switchAt = Infinity): LossHistory {
  let h = emptyHistory();
  for (let i = 1; i <= n; i++) h = appendLosses(h, i, i >= switchAt ? 'g2' : 'tri-d', L(i), capacity);
  return h;
}

describe('loss history', () => {
  it('appends each loss and skips non-finite values', () => {
    const h = fill(3, 100);
    expect(h.total.map((p) => p.value)).toEqual([1, 2, 3]);
    expect(h.dir.map((p) => p.value)).toEqual([0.5, 1, 1.5]);
    expect(h.imageStructure).toEqual([]);
  });

  it('stays within capacity by averaging neighbours, keeping the whole run', () => {
    const h = fill(1000, 64);
    expect(h.total.length).toBeLessThanOrEqual(64);
    expect(h.total[h.total.length - 1].it).toBe(1000);
    // Averages of increasing values stay increasing.
    for (let i = 1; i < h.total.length; i++) expect(h.total[i].value).toBeGreaterThan(h.total[i - 1].value);
  });

  it('never merges points across the Tri-D → G2 boundary', () => {
    const h = fill(301, 40, 151);
    const firstG2 = h.total.findIndex((p) => p.phase === 'g2');
    expect(firstG2).toBeGreaterThan(0);
    expect(h.total[firstG2 - 1].it).toBeLessThan(151);
    expect(h.total.slice(firstG2).every((p) => p.phase === 'g2')).toBe(true);
  });

  it('a resumed run replaces the iterations it repeats', () => {
    let h = fill(10, 100);
    h = appendLosses(h, 6, 'tri-d', L(100));
    expect(h.total.map((p) => p.it)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(h.total[5].value).toBe(100);
  });

  it('maps a series into the chart box with the phase boundary', () => {
    const h = fill(4, 100, 3);
    const g = chartGeometry(h.total, 5, 104, 54, 2);
    expect(g.points[0]).toEqual([2, 52]); // it 1, min value → bottom-left
    expect(g.points[3][0]).toBeCloseTo(2 + (3 / 4) * 100);
    expect(g.points[3][1]).toBeCloseTo(2); // max value → top
    expect(g.phaseBoundaryX).toBeCloseTo(2 + (2 / 4) * 100);
    expect(g.min).toBe(1);
    expect(g.max).toBe(4);
    expect(g.last).toBe(4);
  });

  it('draws a flat series in the middle and handles empty series', () => {
    const flat = appendLosses(appendLosses(emptyHistory(), 1, 'tri-d', L(2)), 2, 'tri-d', L(2));
    const g = chartGeometry(flat.total, 2, 100, 50, 0);
    expect(g.points.map((p) => p[1])).toEqual([25, 25]);
    expect(chartGeometry([], 10, 100, 50).points).toEqual([]);
  });
});

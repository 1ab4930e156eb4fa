import { describe, expect, it } from 'vitest';
import { displayScale, pixelAlignOffset } from './scale.ts';

describe('viewer display scale', () => {
  it('enlarges by the largest whole number that fits, so a 128² render never lands on a fractional scale', () => {
    expect(displayScale(128, 570)).toBe(4); // 512 px in a 570 px box, not 4.45×
    expect(displayScale(128, 1140)).toBe(8); // the same box at devicePixelRatio 2
    expect(displayScale(64, 570)).toBe(8); // the raw neural image shows at the same size
    expect(displayScale(512, 570)).toBe(1);
    for (const box of [300, 333, 599, 1000]) {
      const s = displayScale(128, box);
      expect(Number.isInteger(s)).toBe(true);
      expect(128 * s).toBeLessThanOrEqual(box);
      expect(128 * (s + 1)).toBeGreaterThan(box);
    }
  });

  it('zoom magnifies in whole steps', () => {
    expect(displayScale(128, 570, 1.5)).toBe(6);
    expect(displayScale(128, 570, 3)).toBe(13);
    expect(displayScale(128, 570, 0.2)).toBe(4); // zoom below 1 is fit
  });

  it('reduces by powers of two when the render is larger than the box', () => {
    expect(displayScale(1024, 570)).toBe(0.5);
    expect(displayScale(2048, 570)).toBe(0.25);
    expect(displayScale(1024, 1024)).toBe(1);
  });

  it('stays finite for a box not measured yet', () => {
    expect(displayScale(128, 0)).toBe(1);
    expect(displayScale(0, 570)).toBe(1);
  });

  it('aligns a centred span to whole device pixels', () => {
    expect(pixelAlignOffset(570, 512)).toBe(0);
    expect(pixelAlignOffset(571, 512)).toBe(0.5);
    expect(pixelAlignOffset(654, 512)).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { centredCrop, clampCrop, fitWithin, moveCrop, resizeCrop } from './crop.ts';

describe('crop geometry', () => {
  it('centres the largest square', () => {
    expect(centredCrop(800, 600)).toEqual({ x: 100, y: 0, size: 600 });
    expect(centredCrop(300, 500)).toEqual({ x: 0, y: 100, size: 300 });
  });

  it('keeps the square inside the image', () => {
    expect(clampCrop({ x: -20, y: 700, size: 200 }, 800, 600)).toEqual({ x: 0, y: 400, size: 200 });
    expect(clampCrop({ x: 0, y: 0, size: 5000 }, 800, 600)).toEqual({ x: 0, y: 0, size: 600 });
    expect(clampCrop({ x: 0, y: 0, size: 2 }, 800, 600).size).toBe(16);
    expect(clampCrop({ x: 0, y: 0, size: 2 }, 8, 8)).toEqual({ x: 0, y: 0, size: 8 });
  });

  it('moves by display pixels converted to image pixels', () => {
    const c = { x: 100, y: 50, size: 200 };
    expect(moveCrop(c, 30, -10, 0.5, 800, 600)).toEqual({ x: 160, y: 30, size: 200 });
    expect(moveCrop(c, 10_000, 0, 1, 800, 600).x).toBe(600);
  });

  it('resizes around the centre', () => {
    const r = resizeCrop({ x: 100, y: 0, size: 600 }, 0.5, 800, 600);
    expect(r).toEqual({ x: 250, y: 150, size: 300 });
  });

  it('fits huge images within the kept size', () => {
    expect(fitWithin(8000, 8000, 1024)).toEqual({ width: 1024, height: 1024, scaled: true });
    expect(fitWithin(8000, 2000, 1024)).toEqual({ width: 1024, height: 256, scaled: true });
    expect(fitWithin(640, 480, 1024)).toEqual({ width: 640, height: 480, scaled: false });
  });
});

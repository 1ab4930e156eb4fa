import { describe, expect, it } from 'vitest';
import { decodeApng } from 'fast-png';
import type { RgbaImage } from '../core/image.ts';
import { ApngWriter, frameDelay } from './node-apng.ts';

function frame(w: number, h: number, k: number): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let p = 0; p < w * h; p++) {
    data[p * 4] = (p * 7 + k * 40) & 255;
    data[p * 4 + 1] = (p * 3) & 255;
    data[p * 4 + 2] = k * 50;
    data[p * 4 + 3] = 255;
  }
  return { width: w, height: h, data };
}

describe('APNG writer', () => {
  it('writes frames that an APNG decoder reads back exactly, in order, at the frame rate, looping', async () => {
    const w = 6;
    const h = 4;
    const writer = new ApngWriter({ width: w, height: h, frames: 3, fps: 30 });
    const frames = [0, 1, 2].map((k) => frame(w, h, k));
    for (let i = 0; i < 3; i++) await writer.add(frames[i], i);
    const file = await writer.finish();
    expect(file.mimeType).toBe('image/apng');
    expect(Array.from(file.bytes.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    const apng = decodeApng(file.bytes);
    expect(apng.numberOfFrames).toBe(3);
    expect(apng.numberOfPlays).toBe(0);
    expect([apng.width, apng.height]).toEqual([w, h]);
    expect(apng.frames).toHaveLength(3);
    apng.frames.forEach((f, i) => {
      expect(f.delayNumber / f.delayDenominator).toBeCloseTo(1 / 30, 6);
      // the writer drops the (opaque) alpha: 3 channels back
      expect(apng.channels).toBe(3);
      const want = Array.from(frames[i].data).filter((_, k) => k % 4 !== 3);
      expect(Array.from(f.data as Uint8Array)).toEqual(want);
    });
  });

  it('refuses frames out of order or of the wrong size, and a finish after abort', async () => {
    const writer = new ApngWriter({ width: 2, height: 2, frames: 2, fps: 10 });
    await expect(writer.add(frame(2, 2, 0), 1)).rejects.toThrow(/in order/);
    await expect(writer.add(frame(3, 2, 0), 0)).rejects.toThrow(/not 2×2/);
    await expect(writer.finish()).rejects.toThrow(/at least one frame/);
    writer.abort();
    await expect(writer.add(frame(2, 2, 0), 0)).rejects.toThrow(/aborted/);
    expect(() => new ApngWriter({ width: 2, height: 2, frames: 2, fps: 0 })).toThrow(/frame rate/);
  });

  it('delays are 1/fps to 0.1 %', () => {
    for (const fps of [1, 12, 24, 29.97, 30, 60]) {
      const d = frameDelay(fps);
      expect(d.den).toBeLessThanOrEqual(65535);
      expect(Math.abs(d.num / d.den - 1 / fps) * fps).toBeLessThan(1e-3);
    }
  });
});

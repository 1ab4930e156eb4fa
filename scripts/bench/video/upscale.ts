import type { RgbaImage } from '../../../src/core/image.ts';

/** Nearest-neighbour upscale by an integer factor (the bench's stand-in for a full-size EG3D frame). */
export function upscale(f: { width: number; height: number; data: ArrayLike<number> }, k: number): RgbaImage {
  const width = f.width * k;
  const height = f.height * k;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (Math.floor(y / k) * f.width + Math.floor(x / k)) * 4;
      for (let c = 0; c < 4; c++) data[(y * width + x) * 4 + c] = f.data[s + c];
    }
  }
  return { width, height, data };
}

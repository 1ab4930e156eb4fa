/**
 * The reference image of the Node tools (CLI `adapt` / `evaluate`, the experiment driver): a PNG or
 * JPEG file cropped to a square as the studio crops a dropped image — the face-aware crop (face-api's
 * landmarks → FFHQ's alignment, eyes level, src/ui/reference/crop.ts geometry, at most 512²) when a
 * face is found, else the centred square — or one of the studio's built-in examples as
 * `example:<id>` (`example:sketch`, `example:cartoon`), drawn by the studio's own drawing code
 * (src/ui/examples) on a Node Canvas 2D (@napi-rs/canvas) at the size the studio draws them (512²).
 */
import { readFileSync } from 'node:fs';
import { createCanvas } from '@napi-rs/canvas';
import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { AppError, SettingsError } from '../src/core/errors.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { drawExample, EXAMPLES } from '../src/ui/examples/index.ts';
import type { Ctx2D } from '../src/ui/examples/draw-utils.ts';
import { alignedCrop, FACE_INPUT_SIDE, fitWithin, type CropRect } from '../src/ui/reference/crop.ts';
import { REFERENCE_SIZE } from '../src/ui/reference/image-toolkit.ts';

/** Decodes a PNG or JPEG to RGBA8 (PNG: gray / gray+alpha / RGB / RGBA, 8 or 16 bit, palette). */
export function decodeImage(bytes: Uint8Array, name: string): RgbaImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (isJpeg) {
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
    return { width: j.width, height: j.height, data: new Uint8ClampedArray(j.data.buffer, j.data.byteOffset, j.data.byteLength) };
  }
  if (!isPng) throw new AppError('bad-reference', `${name}: not a PNG or JPEG file`);
  const p = decodePng(bytes);
  const n = p.width * p.height;
  const out = new Uint8ClampedArray(n * 4);
  const scale = p.depth === 16 ? 1 / 257 : 1;
  for (let i = 0; i < n; i++) {
    let r: number, g: number, b: number, al = 255;
    if (p.palette) {
      const c = p.palette[p.data[i]];
      [r, g, b] = c;
      al = c.length > 3 ? (c as number[])[3] : 255;
    } else if (p.channels === 1 || p.channels === 2) {
      r = g = b = p.data[i * p.channels] * scale;
      if (p.channels === 2) al = p.data[i * 2 + 1] * scale;
    } else {
      r = p.data[i * p.channels] * scale;
      g = p.data[i * p.channels + 1] * scale;
      b = p.data[i * p.channels + 2] * scale;
      if (p.channels === 4) al = p.data[i * 4 + 3] * scale;
    }
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = al;
  }
  return { width: p.width, height: p.height, data: out };
}

/** Centre square crop (the studio lets the user choose the crop; the CLI takes the centre). */
export function centreCrop(img: RgbaImage): RgbaImage {
  const s = Math.min(img.width, img.height);
  const x0 = Math.floor((img.width - s) / 2);
  const y0 = Math.floor((img.height - s) / 2);
  const data = new Uint8ClampedArray(s * s * 4);
  for (let y = 0; y < s; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + s) * 4), y * s * 4);
  return { width: s, height: s, data };
}

/** Side the studio draws its examples at (src/ui/reference/browser-images.ts). */
export const EXAMPLE_SIZE = 512;
const PREFIX = 'example:';

export function isExampleReference(spec: string): boolean {
  return spec.startsWith(PREFIX);
}

/** Draws a built-in example reference (RGBA, `size`²). */
export function drawExampleReference(id: string, size = EXAMPLE_SIZE): RgbaImage {
  if (!EXAMPLES.some((e) => e.id === id)) {
    throw new AppError('bad-reference', `unknown example reference "${id}" (known: ${EXAMPLES.map((e) => PREFIX + e.id).join(', ')})`);
  }
  const canvas = createCanvas(size, size);
  const ctx = canvas.getContext('2d');
  // @napi-rs/canvas implements the Canvas 2D API the drawing code uses; its type is its own.
  drawExample(id, ctx as unknown as Ctx2D, size);
  const img = ctx.getImageData(0, 0, size, size);
  return { width: size, height: size, data: new Uint8ClampedArray(img.data) };
}

/** `--crop` of the tools: 'face' (the default, as the studio crops a dropped image) or 'centre'. */
export function parseCropMode(v: string): ReferenceCropMode {
  if (v !== 'face' && v !== 'centre') throw new SettingsError(`--crop must be face or centre (got ${v})`);
  return v;
}

/** The FFHQ-aligned square of the most confident face (image pixels), or null: LocalEngine.detectFace's `aligned`. */
export type FaceLocator = (image: RgbaImage) => Promise<{ cx: number; cy: number; size: number; angle: number } | null>;

/** How the tools crop a reference file: as the studio does on drop ('face'), or the centred square. */
export type ReferenceCropMode = 'face' | 'centre';

export interface PreparedReference {
  image: RgbaImage;
  /** What was done, for the log: 'example', 'face crop (…)', 'centred crop (no face found)', … */
  how: string;
}

/** `img` resampled (Canvas 2D, high-quality smoothing) so its long side is at most `maxSide`. */
function fitImage(img: RgbaImage, maxSide: number): RgbaImage {
  const fit = fitWithin(img.width, img.height, maxSide);
  if (!fit.scaled) return img;
  const ctx = createCanvas(fit.width, fit.height).getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(toCanvas(img), 0, 0, fit.width, fit.height);
  return { width: fit.width, height: fit.height, data: new Uint8ClampedArray(ctx.getImageData(0, 0, fit.width, fit.height).data) };
}

function toCanvas(img: RgbaImage) {
  const c = createCanvas(img.width, img.height);
  const ctx = c.getContext('2d');
  const id = ctx.createImageData(img.width, img.height);
  id.data.set(img.data);
  ctx.putImageData(id, 0, 0);
  return c;
}

/** A (possibly turned) square crop resampled to at most `outSize`², as the studio's browser toolkit draws it. */
export function cropSquare(img: RgbaImage, crop: CropRect, outSize: number): RgbaImage {
  const size = Math.max(1, Math.round(Math.min(outSize, crop.size)));
  const ctx = createCanvas(size, size).getContext('2d');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  const s = size / crop.size;
  ctx.translate(size / 2, size / 2);
  ctx.rotate(-(crop.angle ?? 0));
  ctx.scale(s, s);
  ctx.drawImage(toCanvas(img), -(crop.x + crop.size / 2), -(crop.y + crop.size / 2));
  return { width: size, height: size, data: new Uint8ClampedArray(ctx.getImageData(0, 0, size, size).data) };
}

/**
 * `example:<id>` or a PNG/JPEG path → the square reference the studio would use by default: with
 * `crop` 'face' and a locator, the face-aware crop when a face is found (found in a copy whose long
 * side is FACE_INPUT_SIDE, as the studio does), else the centred square.
 */
export async function prepareReference(spec: string, crop: ReferenceCropMode, locate: FaceLocator | null): Promise<PreparedReference> {
  if (isExampleReference(spec)) return { image: drawExampleReference(spec.slice(PREFIX.length)), how: 'built-in example (drawn, no crop)' };
  const img = decodeImage(new Uint8Array(readFileSync(spec)), spec);
  if (crop === 'centre' || !locate) return { image: centreCrop(img), how: 'centred crop' };
  const px = fitImage(img, FACE_INPUT_SIDE);
  const found = await locate(px);
  if (!found) return { image: centreCrop(img), how: 'centred crop (no face found)' };
  const k = img.width / px.width;
  const c = alignedCrop({ cx: found.cx * k, cy: found.cy * k, size: found.size * k, angle: found.angle }, img.width, img.height);
  const clipped = c.size < found.size * k - 0.5 ? ', smaller than FFHQ’s: the image ends there' : '';
  return {
    image: cropSquare(img, c, REFERENCE_SIZE),
    how: `face crop (FFHQ alignment: ${c.size.toFixed(0)} px square at ${(c.x + c.size / 2).toFixed(0)},${(c.y + c.size / 2).toFixed(0)}, turned ${(((c.angle ?? 0) * 180) / Math.PI).toFixed(1)}°${clipped})`,
  };
}

/** A short name for tables and file names: the example id, or the file's base name without extension. */
export function referenceName(spec: string): string {
  if (isExampleReference(spec)) return spec.slice(PREFIX.length);
  return spec.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
}

/**
 * The reference image of the Node tools (CLI `adapt` / `evaluate`, the experiment driver): a PNG or
 * JPEG file, centre-cropped to a square, or one of the studio's built-in examples as
 * `example:<id>` (`example:sketch`, `example:cartoon`), drawn by the studio's own drawing code
 * (src/ui/examples) on a Node Canvas 2D (@napi-rs/canvas) at the size the studio draws them (512²).
 */
import { readFileSync } from 'node:fs';
import { createCanvas } from '@napi-rs/canvas';
import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { AppError } from '../src/core/errors.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { drawExample, EXAMPLES } from '../src/ui/examples/index.ts';
import type { Ctx2D } from '../src/ui/examples/draw-utils.ts';

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

/** `example:<id>` or a PNG/JPEG path → the square reference the studio would use by default. */
export function readReferenceImage(spec: string): RgbaImage {
  if (isExampleReference(spec)) return drawExampleReference(spec.slice(PREFIX.length));
  return centreCrop(decodeImage(new Uint8Array(readFileSync(spec)), spec));
}

/** A short name for tables and file names: the example id, or the file's base name without extension. */
export function referenceName(spec: string): string {
  if (isExampleReference(spec)) return spec.slice(PREFIX.length);
  return spec.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, '');
}

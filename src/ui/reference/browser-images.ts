/** Browser implementation of the reference-image pipeline (createImageBitmap + OffscreenCanvas). */
import type { RgbaImage } from '../../engine/types.ts';
import { fitWithin, type CropRect } from './crop.ts';
import { sniffImage } from './image-header.ts';
import {
  MAX_DECODE_PIXELS,
  MAX_KEPT_SIDE,
  ReferenceImageError,
  type DecodedImage,
  type ImageToolkit,
} from './image-toolkit.ts';
import { drawExample, EXAMPLES } from '../examples/index.ts';

function context2d(w: number, h: number): OffscreenCanvasRenderingContext2D {
  const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new ReferenceImageError('broken', 'this browser cannot create a 2D canvas');
  return ctx;
}

export function createBrowserImageToolkit(): ImageToolkit {
  return {
    async decode(file: Blob, name: string): Promise<DecodedImage> {
      if (file.size === 0) throw new ReferenceImageError('empty', `${name} is empty (0 bytes)`);
      const head = new Uint8Array(await file.slice(0, 65536).arrayBuffer());
      const header = sniffImage(head);
      if (!header) {
        const kind = file.type ? ` (${file.type})` : '';
        throw new ReferenceImageError(
          'not-image',
          `${name}${kind} is not an image the studio can read. Use a PNG, JPEG, WebP, GIF or BMP file.`,
        );
      }
      if (header.width !== undefined && header.height !== undefined) {
        if (header.width === 0 || header.height === 0) {
          throw new ReferenceImageError('broken', `${name} declares an empty ${header.width}×${header.height} image`);
        }
        if (header.width * header.height > MAX_DECODE_PIXELS) {
          throw new ReferenceImageError(
            'too-large',
            `${name} is ${header.width}×${header.height} pixels, too large to decode in the browser; ` +
              'downscale it below 16384×16384 first.',
          );
        }
      }
      let bitmap: ImageBitmap;
      try {
        // When the header gives the size, decode straight to the kept size so a huge image never
        // exists at full resolution as a bitmap.
        if (header.width && header.height) {
          const fit = fitWithin(header.width, header.height, MAX_KEPT_SIDE);
          bitmap = fit.scaled
            ? await createImageBitmap(file, { resizeWidth: fit.width, resizeHeight: fit.height, resizeQuality: 'high' })
            : await createImageBitmap(file);
          return {
            name,
            width: bitmap.width,
            height: bitmap.height,
            originalWidth: header.width,
            originalHeight: header.height,
            scaled: fit.scaled,
            bitmap,
          };
        }
        const full = await createImageBitmap(file);
        const fit = fitWithin(full.width, full.height, MAX_KEPT_SIDE);
        if (!fit.scaled) {
          return { name, width: full.width, height: full.height, originalWidth: full.width, originalHeight: full.height, scaled: false, bitmap: full };
        }
        bitmap = await createImageBitmap(full, { resizeWidth: fit.width, resizeHeight: fit.height, resizeQuality: 'high' });
        const out = { name, width: bitmap.width, height: bitmap.height, originalWidth: full.width, originalHeight: full.height, scaled: true, bitmap };
        full.close();
        return out;
      } catch (e) {
        if (e instanceof ReferenceImageError) throw e;
        throw new ReferenceImageError(
          'broken',
          `${name} looks like a ${header.format.toUpperCase()} file but could not be decoded (truncated or corrupt?)`,
        );
      }
    },

    crop(image: DecodedImage, crop: CropRect, outSize: number): RgbaImage {
      // Whole pixels: a turned crop's side is fractional (its centre and corners are exact).
      const size = Math.max(1, Math.round(Math.min(outSize, crop.size)));
      const ctx = context2d(size, size);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      const angle = crop.angle ?? 0;
      if (angle === 0) ctx.drawImage(image.bitmap as ImageBitmap, crop.x, crop.y, crop.size, crop.size, 0, 0, size, size);
      else {
        // The turned square: map its centre to the output's, undo its rotation, scale its side to the output.
        const s = size / crop.size;
        ctx.translate(size / 2, size / 2);
        ctx.rotate(-angle);
        ctx.scale(s, s);
        ctx.drawImage(image.bitmap as ImageBitmap, -(crop.x + crop.size / 2), -(crop.y + crop.size / 2));
      }
      const data = ctx.getImageData(0, 0, size, size).data;
      return { width: size, height: size, data: new Uint8ClampedArray(data) };
    },

    pixels(image: DecodedImage, maxSide: number): RgbaImage {
      const fit = fitWithin(image.width, image.height, maxSide);
      const ctx = context2d(fit.width, fit.height);
      ctx.imageSmoothingEnabled = true;
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(image.bitmap as ImageBitmap, 0, 0, fit.width, fit.height);
      return { width: fit.width, height: fit.height, data: new Uint8ClampedArray(ctx.getImageData(0, 0, fit.width, fit.height).data) };
    },

    async encode(image: DecodedImage): Promise<Blob> {
      const canvas = new OffscreenCanvas(image.width, image.height);
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new ReferenceImageError('broken', 'this browser cannot create a 2D canvas');
      ctx.drawImage(image.bitmap as ImageBitmap, 0, 0);
      return canvas.convertToBlob({ type: 'image/png' });
    },

    async example(id: string): Promise<DecodedImage> {
      const ex = EXAMPLES.find((e) => e.id === id);
      if (!ex) throw new ReferenceImageError('not-image', `unknown example reference "${id}"`);
      const size = 512;
      const canvas = new OffscreenCanvas(size, size);
      const ctx = canvas.getContext('2d');
      if (!ctx) throw new ReferenceImageError('broken', 'this browser cannot create a 2D canvas');
      drawExample(ex.id, ctx, size);
      const bitmap = await createImageBitmap(canvas);
      return { name: ex.label, width: size, height: size, originalWidth: size, originalHeight: size, scaled: false, bitmap };
    },

    release(image: DecodedImage): void {
      (image.bitmap as ImageBitmap).close?.();
    },
  };
}

/**
 * The reference-image pipeline behind an interface: the browser implementation (browser-images.ts)
 * decodes with createImageBitmap and crops on an OffscreenCanvas; tests supply their own.
 */
import { AppError } from '../../core/errors.ts';
import type { RgbaImage } from '../../engine/types.ts';
import type { CropRect } from './crop.ts';

export interface DecodedImage {
  name: string;
  /** Size of the kept (possibly downscaled) image. */
  width: number;
  height: number;
  /** Size of the file as decoded. */
  originalWidth: number;
  originalHeight: number;
  scaled: boolean;
  /** Platform handle (an ImageBitmap in the browser). */
  bitmap: unknown;
}

/** Why a reference image was refused (the AppError kind is always 'bad-reference'). */
export type ReferenceImageProblem = 'not-image' | 'broken' | 'too-large' | 'empty';

export class ReferenceImageError extends AppError {
  constructor(
    readonly reason: ReferenceImageProblem,
    message: string,
  ) {
    super('bad-reference', message);
  }
}

export interface ImageToolkit {
  /** Decodes an image file, downscaling so the long side is at most `maxSide`. Throws ReferenceImageError. */
  decode(file: Blob, name: string): Promise<DecodedImage>;
  /** Square crop resampled to outSize × outSize. */
  crop(image: DecodedImage, crop: CropRect, outSize: number): RgbaImage;
  /** The whole image with its long side at most `maxSide` (the face detection's input); optional for tests. */
  pixels?(image: DecodedImage, maxSide: number): RgbaImage;
  /** Lossless encoding of the kept image, for persistence across reloads. */
  encode(image: DecodedImage): Promise<Blob>;
  /** A built-in example reference drawn by code. */
  example(id: string): Promise<DecodedImage>;
  release(image: DecodedImage): void;
}

/** Long side kept after decoding; enough for a sharp crop preview, small enough for memory. */
export const MAX_KEPT_SIDE = 1024;
/** Reference resolution handed to the engine (it resizes for each encoder). */
export const REFERENCE_SIZE = 512;
/** Images beyond this many pixels are refused before decoding (a 20000² RGBA bitmap is 1.6 GB). */
export const MAX_DECODE_PIXELS = 16384 * 16384;

/**
 * Square-crop geometry for the reference panel. The crop is a square in source-image pixels; the user
 * moves it by dragging the preview and resizes it with a slider. All functions keep the square inside
 * the image.
 */

export interface CropRect {
  x: number;
  y: number;
  size: number;
  /** Rotation of the square about its centre, radians (image x toward y; the face-aware crop levels the eyes with it); absent = 0. */
  angle?: number;
}

/** Long side of the copy the face detection looks at (face-api's detector works at 512² anyway). */
export const FACE_INPUT_SIDE = 640;

/** Half the width of the axis-aligned box around a square of side `size` turned by `angle`. */
function rotatedHalfExtent(size: number, angle: number): number {
  return (size / 2) * (Math.abs(Math.cos(angle)) + Math.abs(Math.sin(angle)));
}

/** Largest centred square. */
export function centredCrop(width: number, height: number): CropRect {
  const size = Math.min(width, height);
  return { x: Math.round((width - size) / 2), y: Math.round((height - size) / 2), size };
}

/** Clamps a crop into the image (size at least `minSize` pixels or the whole short side if smaller). */
export function clampCrop(c: CropRect, width: number, height: number, minSize = 16): CropRect {
  const angle = c.angle ?? 0;
  if (angle !== 0 && Number.isFinite(angle)) return clampRotated(c, angle, width, height, minSize);
  const maxSize = Math.min(width, height);
  const size = Math.round(Math.min(maxSize, Math.max(Math.min(minSize, maxSize), c.size)));
  const x = Math.round(Math.min(width - size, Math.max(0, c.x)));
  const y = Math.round(Math.min(height - size, Math.max(0, c.y)));
  return { x, y, size };
}

/** A turned square kept inside the image: its corners stay in the image (shrunk about its centre if they cannot). */
function clampRotated(c: CropRect, angle: number, width: number, height: number, minSize: number): CropRect {
  const k = Math.abs(Math.cos(angle)) + Math.abs(Math.sin(angle));
  const maxSize = Math.min(width, height) / k;
  const size = Math.min(maxSize, Math.max(Math.min(minSize, maxSize), c.size));
  const h = rotatedHalfExtent(size, angle);
  const cx = Math.min(width - h, Math.max(h, c.x + c.size / 2));
  const cy = Math.min(height - h, Math.max(h, c.y + c.size / 2));
  // Centre-based, so not rounded to whole pixels (rounding would push a corner out of the image).
  return { x: cx - size / 2, y: cy - size / 2, size, angle };
}

/** The crop of an aligned square (centre, side, angle: the engine's face detection), kept inside the image. */
export function alignedCrop(a: { cx: number; cy: number; size: number; angle: number }, width: number, height: number): CropRect {
  return clampCrop({ x: a.cx - a.size / 2, y: a.cy - a.size / 2, size: a.size, angle: a.angle }, width, height);
}

/** Turns the crop about its centre to `angle` radians, kept inside the image. */
export function rotateCrop(c: CropRect, angle: number, width: number, height: number): CropRect {
  return clampCrop({ ...c, angle: Math.abs(angle) < 1e-6 ? 0 : angle }, width, height);
}

/** Moves the crop by a drag of (dx, dy) display pixels when the image is shown at `scale` display px per image px. */
export function moveCrop(c: CropRect, dx: number, dy: number, scale: number, width: number, height: number): CropRect {
  return clampCrop({ ...c, x: c.x + dx / scale, y: c.y + dy / scale }, width, height);
}

/** Resizes around the crop's centre to `fraction` (0..1] of the short side. */
export function resizeCrop(c: CropRect, fraction: number, width: number, height: number): CropRect {
  const maxSize = Math.min(width, height);
  const size = Math.max(1, Math.round(maxSize * Math.min(1, Math.max(0.05, fraction))));
  const cx = c.x + c.size / 2, cy = c.y + c.size / 2;
  return clampCrop({ ...c, x: cx - size / 2, y: cy - size / 2, size }, width, height);
}

/** Size to keep a decoded image at: the long side is limited to `maxSide` (aspect ratio preserved). */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number; scaled: boolean } {
  const long = Math.max(width, height);
  if (long <= maxSide) return { width, height, scaled: false };
  const s = maxSide / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)), scaled: true };
}

/**
 * Square-crop geometry for the reference panel. The crop is a square in source-image pixels; the user
 * moves it by dragging the preview and resizes it with a slider. All functions keep the square inside
 * the image.
 */

export interface CropRect {
  x: number;
  y: number;
  size: number;
}

/** Largest centred square. */
export function centredCrop(width: number, height: number): CropRect {
  const size = Math.min(width, height);
  return { x: Math.round((width - size) / 2), y: Math.round((height - size) / 2), size };
}

/** Clamps a crop into the image (size at least `minSize` pixels or the whole short side if smaller). */
export function clampCrop(c: CropRect, width: number, height: number, minSize = 16): CropRect {
  const maxSize = Math.min(width, height);
  const size = Math.round(Math.min(maxSize, Math.max(Math.min(minSize, maxSize), c.size)));
  const x = Math.round(Math.min(width - size, Math.max(0, c.x)));
  const y = Math.round(Math.min(height - size, Math.max(0, c.y)));
  return { x, y, size };
}

/** Moves the crop by a drag of (dx, dy) display pixels when the image is shown at `scale` display px per image px. */
export function moveCrop(c: CropRect, dx: number, dy: number, scale: number, width: number, height: number): CropRect {
  return clampCrop({ x: c.x + dx / scale, y: c.y + dy / scale, size: c.size }, width, height);
}

/** Resizes around the crop's centre to `fraction` (0..1] of the short side. */
export function resizeCrop(c: CropRect, fraction: number, width: number, height: number): CropRect {
  const maxSize = Math.min(width, height);
  const size = Math.max(1, Math.round(maxSize * Math.min(1, Math.max(0.05, fraction))));
  const cx = c.x + c.size / 2, cy = c.y + c.size / 2;
  return clampCrop({ x: cx - size / 2, y: cy - size / 2, size }, width, height);
}

/** Size to keep a decoded image at: the long side is limited to `maxSide` (aspect ratio preserved). */
export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number; scaled: boolean } {
  const long = Math.max(width, height);
  if (long <= maxSide) return { width, height, scaled: false };
  const s = maxSide / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)), scaled: true };
}

/**
 * How the viewer presents a render: at a whole-number scale when enlarging (every render pixel covers the
 * same number of screen pixels, so no row or column is drawn wider than its neighbours) and at 1/2ⁿ when
 * reducing (an exact mip level), placed on the device-pixel grid.
 */

/**
 * The display scale of a `renderSize`-pixel square render in a square box of `boxPixels` device pixels,
 * magnified by `zoom` (1 = the largest whole-number scale that fits).
 */
export function displayScale(renderSize: number, boxPixels: number, zoom = 1): number {
  if (!(renderSize > 0) || !(boxPixels > 0)) return 1;
  const s = (boxPixels / renderSize) * Math.max(1, zoom);
  if (s >= 1) return Math.floor(s);
  return 1 / 2 ** Math.ceil(Math.log2(1 / s));
}

/**
 * Offset (device pixels, 0 or 0.5) that puts a centred span of `span` pixels on whole pixels of a canvas
 * `canvasPixels` wide: without it an odd difference would place every texel edge mid-pixel.
 */
export function pixelAlignOffset(canvasPixels: number, span: number): number {
  const edge = (canvasPixels - span) / 2;
  return Math.abs(edge - Math.round(edge)) > 1e-6 ? 0.5 : 0;
}

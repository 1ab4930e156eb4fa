/**
 * A z-buffer rasteriser of per-vertex values over a W×H pixel grid: each pixel centre (integer
 * coordinates) inside a triangle gets the triangle's value interpolated barycentrically, and the
 * smallest value wins (values are distances from the camera). Pixels no triangle covers stay NaN.
 * Values are interpolated linearly in screen space: exact for affine projections, and for a perspective
 * camera the error is second order in the triangle's screen size (marching-cubes triangles are about a
 * pixel or smaller at the resolutions it is used at).
 */
import { InternalError } from '../core/errors.ts';

/**
 * `screen` [V·2] (column x, row y; pixel centres at integers), `values` [V], `indices` [F·3] →
 * [H·W] row-major minimum value per pixel, NaN where nothing is drawn. Vertices with a non-finite
 * screen position (behind the camera) drop their triangles.
 */
export function rasterizeMin(screen: Float32Array, values: Float32Array, indices: Uint32Array, width: number, height: number): Float32Array {
  if (screen.length !== values.length * 2) throw new InternalError(`rasterizeMin: ${screen.length / 2} screen positions for ${values.length} values`);
  const out = new Float32Array(width * height).fill(NaN);
  for (let t = 0; t < indices.length; t += 3) {
    const a = indices[t], b = indices[t + 1], c = indices[t + 2];
    const ax = screen[2 * a], ay = screen[2 * a + 1];
    const bx = screen[2 * b], by = screen[2 * b + 1];
    const cx = screen[2 * c], cy = screen[2 * c + 1];
    if (!Number.isFinite(ax + ay + bx + by + cx + cy)) continue;
    const area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax);
    if (area === 0) continue;
    const x0 = Math.max(0, Math.ceil(Math.min(ax, bx, cx)));
    const x1 = Math.min(width - 1, Math.floor(Math.max(ax, bx, cx)));
    const y0 = Math.max(0, Math.ceil(Math.min(ay, by, cy)));
    const y1 = Math.min(height - 1, Math.floor(Math.max(ay, by, cy)));
    const va = values[a], vb = values[b], vc = values[c];
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const wa = ((bx - x) * (cy - y) - (by - y) * (cx - x)) / area;
        const wb = ((cx - x) * (ay - y) - (cy - y) * (ax - x)) / area;
        const wc = 1 - wa - wb;
        if (wa < -1e-7 || wb < -1e-7 || wc < -1e-7) continue;
        const v = wa * va + wb * vb + wc * vc;
        const i = y * width + x;
        if (!(out[i] <= v)) out[i] = v;
      }
    }
  }
  return out;
}

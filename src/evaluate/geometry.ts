/**
 * Geometry measures of the evaluation report, in plain JS on rendered depth maps (EG3D's
 * `image_depth`: distance along the unit ray direction, the same convention as src/eg3d/rays.ts):
 * - foreground: pixels nearer than the Otsu threshold of the view's depth histogram (head vs backdrop);
 * - depth difference on the source's foreground, in world units and as % of head depth;
 * - multi-view consistency: a view's RGB reprojected into a neighbouring view through the target's
 *   depth and both cameras, masked L1 where both are foreground and the point is visible in both.
 */
import { InternalError } from '../core/errors.ts';

/** Row-major 4×4 cam2world and normalised intrinsics of a 25-float EG3D camera vector. */
interface CameraParts {
  r: number[]; // 3×3 rotation (columns: right, up, forward in OpenCV axes)
  o: [number, number, number];
  fx: number;
  fy: number;
  cx: number;
  cy: number;
  skew: number;
}

function cameraParts(c: ArrayLike<number>): CameraParts {
  if (c.length !== 25) throw new InternalError(`camera vector must have 25 entries (got ${c.length})`);
  return {
    r: [c[0], c[1], c[2], c[4], c[5], c[6], c[8], c[9], c[10]],
    o: [c[3], c[7], c[11]],
    fx: c[16],
    skew: c[17],
    cx: c[18],
    fy: c[20],
    cy: c[21],
  };
}

/** Ray of pixel (row i, col j) of an R×R image (pixel centres, as generateRays): origin and unit direction. */
export function pixelRay(camera: ArrayLike<number>, resolution: number, i: number, j: number): { origin: [number, number, number]; dir: [number, number, number] } {
  const k = cameraParts(camera);
  const u = (j + 0.5) / resolution;
  const v = (i + 0.5) / resolution;
  const x = (u - k.cx + (k.cy * k.skew) / k.fy - (k.skew * v) / k.fy) / k.fx;
  const y = (v - k.cy) / k.fy;
  const d: [number, number, number] = [k.r[0] * x + k.r[1] * y + k.r[2], k.r[3] * x + k.r[4] * y + k.r[5], k.r[6] * x + k.r[7] * y + k.r[8]];
  const n = Math.hypot(d[0], d[1], d[2]);
  return { origin: k.o, dir: [d[0] / n, d[1] / n, d[2] / n] };
}

/**
 * Projects a world point into a camera: continuous pixel coordinates (col x, row y; pixel centres at
 * integers) of an R×R image and the point's distance from the camera origin (the depth convention).
 * `null` behind the camera.
 */
export function projectPoint(camera: ArrayLike<number>, resolution: number, p: readonly [number, number, number]): { x: number; y: number; distance: number } | null {
  const k = cameraParts(camera);
  const d = [p[0] - k.o[0], p[1] - k.o[1], p[2] - k.o[2]];
  // camera coordinates = Rᵀ (p − o)
  const xc = k.r[0] * d[0] + k.r[3] * d[1] + k.r[6] * d[2];
  const yc = k.r[1] * d[0] + k.r[4] * d[1] + k.r[7] * d[2];
  const zc = k.r[2] * d[0] + k.r[5] * d[1] + k.r[8] * d[2];
  if (zc <= 1e-9) return null;
  const yn = yc / zc;
  const xn = xc / zc;
  const v = k.fy * yn + k.cy;
  const u = k.fx * xn + k.skew * yn + k.cx;
  return { x: u * resolution - 0.5, y: v * resolution - 0.5, distance: Math.hypot(d[0], d[1], d[2]) };
}

/** Otsu's threshold of a set of values (256-bin histogram over min…max); min when the values are constant. */
export function otsuThreshold(values: ArrayLike<number>): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] < lo) lo = values[i];
    if (values[i] > hi) hi = values[i];
  }
  if (!(hi > lo)) return hi;
  const bins = 256;
  const hist = new Float64Array(bins);
  const scale = (bins - 1) / (hi - lo);
  for (let i = 0; i < values.length; i++) hist[Math.round((values[i] - lo) * scale)]++;
  const total = values.length;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) sumAll += b * hist[b];
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let bestBin = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b];
    sum0 += b * hist[b];
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (sumAll - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > best) {
      best = between;
      bestBin = b;
    }
  }
  return lo + (bestBin + 0.5) / scale;
}

/**
 * Foreground of one depth map: depth ≤ Otsu threshold (the head in front of the backdrop / far end).
 * A constant depth map (nothing to separate) is all foreground.
 */
export function foregroundMask(depth: ArrayLike<number>): Uint8Array {
  const t = otsuThreshold(depth);
  const mask = new Uint8Array(depth.length);
  for (let i = 0; i < depth.length; i++) mask[i] = depth[i] <= t ? 1 : 0;
  return mask;
}

function percentile(sorted: Float64Array, p: number): number {
  if (!sorted.length) return 0;
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Head depth of a view: the 98th − 2nd percentile of the depths of its foreground pixels (world units). */
export function headDepth(depth: ArrayLike<number>, mask: ArrayLike<number>): number {
  const v: number[] = [];
  for (let i = 0; i < depth.length; i++) if (mask[i]) v.push(depth[i]);
  const s = Float64Array.from(v).sort();
  return percentile(s, 0.98) - percentile(s, 0.02);
}

/** Mean |a − b| over pixels where `mask` is set (0 when the mask is empty). */
export function maskedMeanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, mask: ArrayLike<number>): number {
  if (a.length !== b.length || a.length !== mask.length) throw new InternalError('depth maps and mask must have the same size');
  let s = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (!mask[i]) continue;
    s += Math.abs(a[i] - b[i]);
    n++;
  }
  return n ? s / n : 0;
}

/** One rendered view at neural resolution: RGB in [0, 1] `[R·R·3]`, depth `[R·R]`, foreground mask, camera. */
export interface ViewGeometry {
  resolution: number;
  rgb: Float32Array;
  depth: Float32Array;
  mask: Uint8Array;
  camera: ArrayLike<number>;
}

export interface ReprojectionOptions {
  /** Largest |distance to camera − rendered depth| for a point to count as visible (world units, default 0.05). */
  visibilityTolerance?: number;
}

export interface ReprojectionResult {
  /** Mean |RGB_target − RGB_source reprojected| over valid pixels and channels, RGB in [0, 1]. */
  l1: number;
  /** Number of valid (foreground in both, visible, in bounds) target pixels. */
  pixels: number;
}

/**
 * Reprojects `from`'s RGB into `to`: every foreground pixel of `to` is lifted to the world with `to`'s
 * depth, projected into `from`, and compared with `from`'s bilinearly sampled colour where the four
 * neighbours are foreground in `from` and the sampled depth agrees with the point's distance
 * (visibility). Returns the masked L1 and the number of pixels compared.
 */
export function reprojectionL1(from: ViewGeometry, to: ViewGeometry, opts: ReprojectionOptions = {}): ReprojectionResult {
  const tol = opts.visibilityTolerance ?? 0.05;
  const rs = from.resolution;
  const rt = to.resolution;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < rt; i++) {
    for (let j = 0; j < rt; j++) {
      const t = i * rt + j;
      if (!to.mask[t]) continue;
      const { origin, dir } = pixelRay(to.camera, rt, i, j);
      const d = to.depth[t];
      const p: [number, number, number] = [origin[0] + d * dir[0], origin[1] + d * dir[1], origin[2] + d * dir[2]];
      const q = projectPoint(from.camera, rs, p);
      if (!q || q.x < 0 || q.y < 0 || q.x > rs - 1 || q.y > rs - 1) continue;
      const x0 = Math.min(Math.floor(q.x), rs - 2 < 0 ? 0 : rs - 2);
      const y0 = Math.min(Math.floor(q.y), rs - 2 < 0 ? 0 : rs - 2);
      const x1 = Math.min(x0 + 1, rs - 1);
      const y1 = Math.min(y0 + 1, rs - 1);
      const fx = q.x - x0;
      const fy = q.y - y0;
      const idx = [y0 * rs + x0, y0 * rs + x1, y1 * rs + x0, y1 * rs + x1];
      if (!idx.every((k) => from.mask[k])) continue;
      const w = [(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy];
      let depthAt = 0;
      for (let k = 0; k < 4; k++) depthAt += w[k] * from.depth[idx[k]];
      if (Math.abs(depthAt - q.distance) > tol) continue;
      let diff = 0;
      for (let c = 0; c < 3; c++) {
        let v = 0;
        for (let k = 0; k < 4; k++) v += w[k] * from.rgb[idx[k] * 3 + c];
        diff += Math.abs(v - to.rgb[t * 3 + c]);
      }
      sum += diff / 3;
      count++;
    }
  }
  return { l1: count ? sum / count : 0, pixels: count };
}

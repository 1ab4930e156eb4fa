/**
 * Ground-truth renderer for procedural heads: EG3D's ray conventions (spec A.8) and compositing
 * (spec A.9: interval midpoints of σ_raw and colour, density softplus(σ̄ − 1), α = 1 − exp(−ρδ),
 * T_k = Π(1 − α_j + 1e−10), features 2F − 1, depth Σw·t̄ / Σw), but with enough samples that the
 * result is the converged volume-rendering integral of the field. A learned EG3D render with its own
 * samples is therefore directly comparable (same camera, same ray range, same black background).
 *
 * Plain JS (float64 math), one camera at a time, any resolution.
 */
import { BOX_HALF, ProceduralHead, SIGMA_RAW_EMPTY, sigmaRawFromSdf } from './heads.ts';
import { InternalError } from '../core/errors.ts';

export interface GroundTruthRenderOptions {
  /** Output width = height in pixels. */
  resolution: number;
  /** Ray range (rendering_kwargs.ray_start / ray_end). */
  rayStart?: number;
  rayEnd?: number;
  /** Step length near and inside surfaces (default 0.003; the density ramp is ≈ 0.03 thick). */
  fineStep?: number;
}

export interface GroundTruthImage {
  resolution: number;
  /** `[R·R·3]` row-major HWC, in [−1, 1] (2F − 1; empty space is −1 like EG3D with white_back off). */
  rgb: Float32Array;
  /** `[R·R]` expected depth along the ray (world units). */
  depth: Float32Array;
  /** `[R·R]` accumulated opacity of the head (everything but the backdrop), in [0, 1]. */
  foreground: Float32Array;
  /** `[R·R]` accumulated opacity Σw. */
  alpha: Float32Array;
}

export class GroundTruthRenderError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** World-space ray origin and unit direction of pixel (row, col), EG3D's `RaySampler` (skew included). */
export function pixelRay(camera: ArrayLike<number>, resolution: number, row: number, col: number, out: Float64Array): void {
  const c = camera;
  const fx = c[16], sk = c[17], cx = c[18], fy = c[20], cy = c[21];
  const u = (col + 0.5) / resolution;
  const v = (row + 0.5) / resolution;
  const xl = (u - cx + (cy * sk) / fy - (sk * v) / fy) / fx;
  const yl = (v - cy) / fy;
  // world point of the camera-space point (xl, yl, 1) minus the origin = rotation part applied to it
  const dx = c[0] * xl + c[1] * yl + c[2];
  const dy = c[4] * xl + c[5] * yl + c[6];
  const dz = c[8] * xl + c[9] * yl + c[10];
  const n = Math.sqrt(dx * dx + dy * dy + dz * dz);
  out[0] = c[3]; out[1] = c[7]; out[2] = c[11];
  out[3] = dx / n; out[4] = dy / n; out[5] = dz / n;
}

function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** Parameter interval [tin, tout] where the ray is inside the tri-plane box (tin > tout: misses). */
export function rayBoxInterval(ray: Float64Array): [number, number] {
  let tin = -Infinity, tout = Infinity;
  for (let a = 0; a < 3; a++) {
    const o = ray[a], d = ray[3 + a];
    if (Math.abs(d) < 1e-12) {
      if (Math.abs(o) > BOX_HALF) return [1, 0];
      continue;
    }
    const ta = (-BOX_HALF - o) / d, tb = (BOX_HALF - o) / d;
    tin = Math.max(tin, Math.min(ta, tb));
    tout = Math.min(tout, Math.max(ta, tb));
  }
  return [tin, tout];
}

/**
 * Renders one head from one 25-float EG3D camera. Each ray is sphere-traced through empty space
 * (steps of 0.7·SDF, which cannot cross a surface) and sampled every `fineStep` near and inside
 * surfaces; consecutive samples are composited exactly as EG3D does, until the ray is opaque.
 */
export function renderGroundTruth(head: ProceduralHead, camera: ArrayLike<number>, opts: GroundTruthRenderOptions): GroundTruthImage {
  if (camera.length !== 25) throw new GroundTruthRenderError(`camera must have 25 entries (got ${camera.length})`);
  const R = opts.resolution;
  if (!Number.isInteger(R) || R < 1) throw new GroundTruthRenderError(`resolution must be a positive integer (got ${R})`);
  const t0 = opts.rayStart ?? 2.25;
  const t1 = opts.rayEnd ?? 3.3;
  const fine = opts.fineStep ?? 0.003;
  if (!(t1 > t0) || !(fine > 0)) throw new GroundTruthRenderError('invalid ray range or step');
  const nearSurface = 2 * fine;
  const maxStep = 0.05;

  const rgb = new Float32Array(R * R * 3);
  const depth = new Float32Array(R * R);
  const foreground = new Float32Array(R * R);
  const alpha = new Float32Array(R * R);
  const ray = new Float64Array(6);
  const cPrev = new Float64Array(3);
  const cCur = new Float64Array(3);

  for (let row = 0; row < R; row++) {
    for (let cc = 0; cc < R; cc++) {
      pixelRay(camera, R, row, cc, ray);
      const ox = ray[0], oy = ray[1], oz = ray[2], dx = ray[3], dy = ray[4], dz = ray[5];
      const [tin, tout] = rayBoxInterval(ray);
      const tEnd = Math.min(t1, tout);
      let t = Math.max(t0, tin);
      let T = 1, F0 = 0, F1 = 0, F2 = 0, W = 0, WD = 0, FG = 0;
      // previous sample: depth, σ_raw, colour (computed lazily), head flag
      let tp = NaN, sp = SIGMA_RAW_EMPTY, havePrevColour = false, fgPrev = 0;
      while (t <= tEnd) {
        const x = ox + t * dx, y = oy + t * dy, z = oz + t * dz;
        const d = head.distance(x, y, z);
        const s = sigmaRawFromSdf(d);
        let haveCurColour = false, fgCur = 0;
        if (!Number.isNaN(tp) && 0.5 * (sp + s) > SIGMA_RAW_EMPTY) {
          const sbar = 0.5 * (sp + s);
          const a = 1 - Math.exp(-softplus(sbar - 1) * (t - tp));
          const w = a * T;
          T *= 1 - a + 1e-10;
          if (s > SIGMA_RAW_EMPTY) {
            fgCur = head.colour(x, y, z, cCur, 0) ? 1 : 0;
            haveCurColour = true;
          }
          if (!havePrevColour) {
            // the previous sample was empty: its colour is irrelevant, take this one's
            cPrev[0] = cCur[0]; cPrev[1] = cCur[1]; cPrev[2] = cCur[2]; fgPrev = fgCur;
          } else if (!haveCurColour) {
            cCur[0] = cPrev[0]; cCur[1] = cPrev[1]; cCur[2] = cPrev[2]; fgCur = fgPrev;
          }
          F0 += w * 0.5 * (cPrev[0] + cCur[0]);
          F1 += w * 0.5 * (cPrev[1] + cCur[1]);
          F2 += w * 0.5 * (cPrev[2] + cCur[2]);
          FG += w * 0.5 * (fgPrev + fgCur);
          W += w;
          WD += w * 0.5 * (tp + t);
          haveCurColour = s > SIGMA_RAW_EMPTY;
          if (T < 1e-5) break;
        }
        tp = t;
        sp = s;
        havePrevColour = haveCurColour;
        if (haveCurColour) { cPrev[0] = cCur[0]; cPrev[1] = cCur[1]; cPrev[2] = cCur[2]; fgPrev = fgCur; }
        t += d > nearSurface ? Math.min(Math.max(0.7 * d, fine), maxStep) : fine;
      }
      const p = row * R + cc;
      rgb[3 * p] = 2 * F0 - 1;
      rgb[3 * p + 1] = 2 * F1 - 1;
      rgb[3 * p + 2] = 2 * F2 - 1;
      depth[p] = W > 1e-8 ? WD / W : t1;
      foreground[p] = FG;
      alpha[p] = W;
    }
  }
  return { resolution: R, rgb, depth, foreground, alpha };
}

/** [−1, 1] HWC float image → 8-bit RGB (EG3D's `clamp(x·127.5 + 128, 0, 255)`). */
export function toRgb8(rgb: Float32Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.min(255, Math.max(0, Math.floor(rgb[i] * 127.5 + 128)));
  return out;
}

/** Tiles equally sized RGB8 images (row-major list, `cols` per row) into one RGB8 image. */
export function tileImages(images: Uint8Array[], size: number, cols: number): { data: Uint8Array; width: number; height: number } {
  const rows = Math.ceil(images.length / cols);
  const width = cols * size, height = rows * size;
  const data = new Uint8Array(width * height * 3);
  images.forEach((img, k) => {
    if (img.length !== size * size * 3) throw new GroundTruthRenderError(`tile ${k} is not ${size}×${size} RGB`);
    const r0 = Math.floor(k / cols) * size, c0 = (k % cols) * size;
    for (let y = 0; y < size; y++) data.set(img.subarray(y * size * 3, (y + 1) * size * 3), ((r0 + y) * width + c0) * 3);
  });
  return { data, width, height };
}

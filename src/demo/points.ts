/**
 * 3D supervision points for the demo generator: for one procedural head, a mix of uniform points in
 * (and slightly beyond) the tri-plane box and points near surfaces, with the ground-truth raw density
 * and colour at each. Near-surface points dominate because that is where density and colour decide
 * what a render looks like; the uniform ones keep empty space empty.
 */
import type { Random } from '../core/random.ts';
import { BOX_HALF, FACE_REGION_WORLD, insideBox, type ProceduralHead } from './heads.ts';

export interface PointSamples {
  /** `[P·3]` world positions. */
  points: Float32Array;
  /** `[P]` ground-truth σ_raw. */
  sigmaRaw: Float32Array;
  /** `[P·3]` ground-truth colour in [0, 1] (0 where empty). */
  rgb: Float32Array;
  /** `[P]` signed distance (world units); +BOX_HALF (well outside any surface) outside the tri-plane box. */
  sdf: Float32Array;
}

export interface PointSamplingOptions {
  count: number;
  /** Fraction of uniform points (default 0.2). */
  uniformFraction?: number;
  /** Half-width of the |SDF| band that counts as near a surface (default 0.03). */
  band?: number;
  /**
   * Fraction of the near-surface points drawn inside FACE_REGION_WORLD (default 0): the face's
   * features are small, and uniform near-surface sampling gives them a few points per head.
   */
  faceFraction?: number;
}

/** Draws `count` points for `head` (deterministic given `rng`). */
export function samplePoints(head: ProceduralHead, rng: Random, opts: PointSamplingOptions): PointSamples {
  const count = opts.count;
  const nUniform = Math.round(count * (opts.uniformFraction ?? 0.2));
  const band = opts.band ?? 0.03;
  const points = new Float32Array(count * 3);
  const reach = BOX_HALF * 1.04; // a few points just outside the box, where the field must be empty
  for (let i = 0; i < nUniform; i++) {
    points[3 * i] = (2 * rng.next() - 1) * reach;
    points[3 * i + 1] = (2 * rng.next() - 1) * reach;
    points[3 * i + 2] = (2 * rng.next() - 1) * reach;
  }
  // Near-surface points by rejection from uniform candidates, bounded in tries: first those in the
  // face region (candidates from its bounding cube, kept if inside the box and the sphere), then the rest.
  const nFace = Math.round((count - nUniform) * (opts.faceFraction ?? 0));
  const f = FACE_REGION_WORLD;
  let filled = nUniform;
  const fill = (until: number, candidate: () => [number, number, number] | null, what: string) => {
    for (let tries = 0; filled < until && tries < 200 * count; tries++) {
      const c = candidate();
      if (!c || Math.abs(head.distance(c[0], c[1], c[2])) > band) continue;
      points.set(c, 3 * filled);
      filled++;
    }
    if (filled < until) throw new Error(`samplePoints: found only ${filled - nUniform} ${what} points`);
  };
  fill(nUniform + nFace, () => {
    const dx = (2 * rng.next() - 1) * f.r, dy = (2 * rng.next() - 1) * f.r, dz = (2 * rng.next() - 1) * f.r;
    const x = f.cx + dx, y = f.cy + dy, z = f.cz + dz;
    if (dx * dx + dy * dy + dz * dz > f.r * f.r || !insideBox(x, y, z)) return null;
    return [x, y, z];
  }, 'face-region');
  fill(count, () => [(2 * rng.next() - 1) * BOX_HALF, (2 * rng.next() - 1) * BOX_HALF, (2 * rng.next() - 1) * BOX_HALF], 'near-surface');
  const sigmaRaw = new Float32Array(count);
  const rgb = new Float32Array(count * 3);
  head.evaluate(points, sigmaRaw, rgb);
  const sdf = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const x = points[3 * i], y = points[3 * i + 1], z = points[3 * i + 2];
    sdf[i] = insideBox(x, y, z) ? head.distance(x, y, z) : BOX_HALF;
  }
  return { points, sigmaRaw, rgb, sdf };
}

/**
 * Ray generation (spec A.8, EG3D's RaySampler). Pixel (row i, col j) of an R×R image uses the pixel
 * centre u = (j + 0.5)/R, v = (i + 0.5)/R with the normalised intrinsics; ray index m = i·R + j.
 * Camera-space point ((u − cx + cy·s/fy − s·v/fy)/fx, (v − cy)/fy, 1) (s = skew) is mapped by
 * cam2world; direction = normalize(world point − camera origin); origin = camera position.
 * Also the ray/box intersection used by `ray_start = ray_end = 'auto'`.
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';

export class RayError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

export interface Rays {
  /** [N, R², 3] */
  origins: tf.Tensor3D;
  /** [N, R², 3], unit length */
  directions: tf.Tensor3D;
}

/** Pixel-centre coordinates (u along columns, v along rows) for an R×R image, ray-major. */
export function pixelCentres(resolution: number): { u: Float32Array; v: Float32Array } {
  if (!Number.isInteger(resolution) || resolution < 1) throw new RayError(`resolution must be a positive integer (got ${resolution})`);
  const m = resolution * resolution;
  const u = new Float32Array(m);
  const v = new Float32Array(m);
  const step = Math.fround(1 / resolution);
  const half = Math.fround(0.5 / resolution);
  for (let i = 0; i < resolution; i++) {
    for (let j = 0; j < resolution; j++) {
      u[i * resolution + j] = j * step + half;
      v[i * resolution + j] = i * step + half;
    }
  }
  return { u, v };
}

/** Rays for a batch of 25-float cameras `[N, 25]` at resolution R. Differentiable in nothing (constants). */
export function generateRays(cameras: tf.Tensor2D, resolution: number): Rays {
  if (cameras.rank !== 2 || cameras.shape[1] !== 25) throw new RayError(`cameras must be [N, 25] (got [${cameras.shape}])`);
  const n = cameras.shape[0];
  const m = resolution * resolution;
  const { u, v } = pixelCentres(resolution);
  return tf.tidy(() => {
    const cam2world = tf.reshape(tf.slice(cameras, [0, 0], [n, 16]), [n, 4, 4]);
    const k = tf.slice(cameras, [0, 16], [n, 9]);
    const col = (i: number) => tf.slice(k, [0, i], [n, 1]); // [N,1]
    const fx = col(0);
    const sk = col(1);
    const cx = col(2);
    const fy = col(4);
    const cy = col(5);
    const x = tf.tensor2d(u, [1, m]);
    const y = tf.tensor2d(v, [1, m]);
    // x_lift = (x − cx + cy·sk/fy − sk·y/fy) / fx ; y_lift = (y − cy)/fy ; z = 1
    const xLift = tf.div(tf.sub(tf.add(tf.sub(x, cx), tf.div(tf.mul(cy, sk), fy)), tf.div(tf.mul(sk, y), fy)), fx);
    const yLift = tf.div(tf.sub(y, cy), fy);
    const ones = tf.ones([n, m]);
    const camPoints = tf.stack([xLift, yLift, ones, ones], 2); // [N, M, 4]
    const world = tf.slice(tf.matMul(camPoints, cam2world, false, true), [0, 0, 0], [n, m, 3]);
    const originRow = tf.reshape(tf.stack([tf.slice(cam2world, [0, 0, 3], [n, 1, 1]), tf.slice(cam2world, [0, 1, 3], [n, 1, 1]), tf.slice(cam2world, [0, 2, 3], [n, 1, 1])], 2), [n, 1, 3]);
    const d = tf.sub(world, originRow);
    const norm = tf.maximum(tf.norm(d, 'euclidean', 2, true), 1e-12);
    const directions = tf.div(d, norm) as tf.Tensor3D;
    const origins = tf.tile(originRow, [1, m, 1]) as tf.Tensor3D;
    return { origins, directions };
  });
}

/**
 * Entry/exit distances of rays through the axis-aligned box [−s/2, s/2]³ (slab method, as EG3D's
 * `get_ray_limits_box`). Rays that miss get start −1, end −2. Inputs `[..., 3]`, outputs `[..., 1]`.
 */
export function rayBoxLimits(origins: tf.Tensor, directions: tf.Tensor, boxSideLength: number): { start: tf.Tensor; end: tf.Tensor } {
  return tf.tidy(() => {
    const half = boxSideLength / 2;
    const lastAxis = origins.rank - 1;
    const [ox, oy, oz] = tf.split(origins, 3, lastAxis);
    const [dx, dy, dz] = tf.split(directions, 3, lastAxis);
    const slab = (o: tf.Tensor, d: tf.Tensor) => {
      const inv = tf.div(1, d);
      const negative = tf.less(inv, 0);
      const near = tf.where(negative, tf.fill(inv.shape, half), tf.fill(inv.shape, -half));
      const far = tf.where(negative, tf.fill(inv.shape, -half), tf.fill(inv.shape, half));
      return { tmin: tf.mul(tf.sub(near, o), inv), tmax: tf.mul(tf.sub(far, o), inv) };
    };
    const sx = slab(ox, dx);
    const sy = slab(oy, dy);
    const sz = slab(oz, dz);
    let valid = tf.logicalNot(tf.logicalOr(tf.greater(sx.tmin, sy.tmax), tf.greater(sy.tmin, sx.tmax)));
    let tmin = tf.maximum(sx.tmin, sy.tmin);
    let tmax = tf.minimum(sx.tmax, sy.tmax);
    valid = tf.logicalAnd(valid, tf.logicalNot(tf.logicalOr(tf.greater(tmin, sz.tmax), tf.greater(sz.tmin, tmax))));
    tmin = tf.maximum(tmin, sz.tmin);
    tmax = tf.minimum(tmax, sz.tmax);
    return { start: tf.where(valid, tmin, tf.fill(tmin.shape, -1)), end: tf.where(valid, tmax, tf.fill(tmax.shape, -2)) };
  });
}

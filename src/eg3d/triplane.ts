/**
 * Tri-plane feature sampling (spec A.6). Points are scaled by 2/box_warp, projected onto the three
 * planes with EG3D's released axes — plane 0 (x, y), plane 1 (x, z), plane 2 (z, x) — and sampled
 * bilinearly like `grid_sample(align_corners=False, padding_mode='zeros')`: u indexes columns,
 * v rows, `col = ((u + 1)·W − 1)/2`. The result is the mean over the three planes.
 *
 * Planes are constants for training (only the decoder and SR are fine-tuned), so the sampler is
 * not differentiable: its output is a fresh constant tensor. On the webgpu backend a WGSL kernel
 * does the work on the device; elsewhere (wasm, cpu) plain index arithmetic over the plane data
 * read once per sampler: measured on wasm for 196k ray samples on 256² planes, 0.09–0.2 s CPU
 * against 2.4–3.0 s for the same sampling composed of tf ops (12 row gathers + weights).
 */
import * as tf from '@tensorflow/tfjs';
import { isWebGPUBackend, runTriplaneKernel } from './triplane-webgpu.ts';
import { InternalError } from '../core/errors.ts';

export class TriplaneError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Samples one batch element's tri-planes at many points. */
export interface TriplaneSampler {
  readonly batch: number;
  readonly channels: number;
  /** `xyz` `[P, 3]` world points for batch element `n` → `[P, C]` features (mean over planes). */
  sample(n: number, xyz: tf.Tensor2D): tf.Tensor2D;
  dispose(): void;
}

export interface PlaneGeometry {
  batch: number;
  height: number;
  width: number;
  channels: number;
}

export function planeGeometry(planes: tf.Tensor): PlaneGeometry {
  if (planes.rank !== 5 || planes.shape[1] !== 3) throw new TriplaneError(`planes must be [N, 3, H, W, C] (got [${planes.shape}])`);
  const [batch, , height, width, channels] = planes.shape;
  return { batch, height, width, channels };
}

export function checkBoxWarp(boxWarp: number): void {
  if (!(boxWarp > 0) || !Number.isFinite(boxWarp)) throw new TriplaneError(`box_warp must be a positive number (got ${boxWarp})`);
}

/**
 * Plain-TS bilinear tri-plane sampling into `out` (`[P, C]`), for points `xyz` (`[P, 3]`) of batch
 * element `n` of `planes` (`[N, 3, H, W, C]` flattened).
 */
export function sampleTriplanesInto(
  out: Float32Array,
  planes: Float32Array,
  geom: PlaneGeometry,
  n: number,
  xyz: Float32Array,
  boxWarp: number,
): void {
  const { height: H, width: W, channels: C } = geom;
  const points = xyz.length / 3;
  if (out.length !== points * C) throw new TriplaneError(`output buffer has ${out.length} floats, expected ${points * C}`);
  const scale = 2 / boxWarp;
  const planeSize = H * W * C;
  const base = n * 3 * planeSize;
  const third = 1 / 3;
  // The 12 taps (3 planes × 4 corners) of the current point. Taps outside the plane get weight 0
  // and a valid dummy offset, so the channel loop below is branch-free (≈3× faster than
  // accumulating tap by tap, measured on 196k points).
  const off = new Int32Array(12);
  const wt = new Float64Array(12);
  for (let p = 0; p < points; p++) {
    const x = xyz[3 * p] * scale;
    const y = xyz[3 * p + 1] * scale;
    const z = xyz[3 * p + 2] * scale;
    for (let pl = 0; pl < 3; pl++) {
      const u = pl === 2 ? z : x;
      const v = pl === 0 ? y : pl === 1 ? z : x;
      const ix = ((u + 1) * W - 1) / 2;
      const iy = ((v + 1) * H - 1) / 2;
      const x0 = Math.floor(ix);
      const y0 = Math.floor(iy);
      const fx = ix - x0;
      const fy = iy - y0;
      for (let k = 0; k < 4; k++) {
        const cx = x0 + (k & 1);
        const cy = y0 + (k >> 1);
        const inside = cx >= 0 && cx < W && cy >= 0 && cy < H; // false for NaN/±∞ too
        off[pl * 4 + k] = inside ? base + pl * planeSize + (cy * W + cx) * C : base;
        wt[pl * 4 + k] = inside ? ((k & 1) ? fx : 1 - fx) * ((k >> 1) ? fy : 1 - fy) * third : 0;
      }
    }
    const [o0, o1, o2, o3, o4, o5, o6, o7, o8, o9, o10, o11] = off;
    const [w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11] = wt;
    const o = p * C;
    for (let c = 0; c < C; c++) {
      out[o + c] =
        w0 * planes[o0 + c] + w1 * planes[o1 + c] + w2 * planes[o2 + c] + w3 * planes[o3 + c] +
        w4 * planes[o4 + c] + w5 * planes[o5 + c] + w6 * planes[o6 + c] + w7 * planes[o7 + c] +
        w8 * planes[o8 + c] + w9 * planes[o9 + c] + w10 * planes[o10 + c] + w11 * planes[o11 + c];
    }
  }
}

class CpuTriplaneSampler implements TriplaneSampler {
  readonly batch: number;
  readonly channels: number;
  private constructor(
    private readonly data: Float32Array,
    private readonly geom: PlaneGeometry,
    private readonly boxWarp: number,
  ) {
    this.batch = geom.batch;
    this.channels = geom.channels;
  }

  static create(planes: tf.Tensor, boxWarp: number): CpuTriplaneSampler {
    const geom = planeGeometry(planes);
    return new CpuTriplaneSampler(planes.dataSync() as Float32Array, geom, boxWarp);
  }

  sample(n: number, xyz: tf.Tensor2D): tf.Tensor2D {
    checkSampleArgs(this.batch, n, xyz);
    const p = xyz.shape[0];
    const out = new Float32Array(p * this.channels);
    sampleTriplanesInto(out, this.data, this.geom, n, xyz.dataSync() as Float32Array, this.boxWarp);
    return tf.tensor2d(out, [p, this.channels]);
  }

  dispose(): void {
    // Holds no tensors.
  }
}

class WebGPUTriplaneSampler implements TriplaneSampler {
  readonly batch: number;
  readonly channels: number;
  private readonly flat: tf.Tensor1D;
  constructor(
    planes: tf.Tensor,
    private readonly geom: PlaneGeometry,
    private readonly boxWarp: number,
  ) {
    this.batch = geom.batch;
    this.channels = geom.channels;
    this.flat = tf.reshape(planes, [planes.size]); // shares the device buffer
  }

  sample(n: number, xyz: tf.Tensor2D): tf.Tensor2D {
    checkSampleArgs(this.batch, n, xyz);
    return runTriplaneKernel(this.flat, this.geom, n, xyz, this.boxWarp);
  }

  dispose(): void {
    this.flat.dispose();
  }
}

export function checkSampleArgs(batch: number, n: number, xyz: tf.Tensor): void {
  if (!Number.isInteger(n) || n < 0 || n >= batch) throw new TriplaneError(`batch index ${n} out of range [0, ${batch})`);
  if (xyz.rank !== 2 || xyz.shape[1] !== 3) throw new TriplaneError(`points must be [P, 3] (got [${xyz.shape}])`);
}

export type TriplaneImplementation = 'auto' | 'cpu' | 'webgpu';

/**
 * A sampler for `planes` (`[N, 3, H, W, C]`). `auto` uses the WGSL kernel on the webgpu backend and
 * the plain-TS path otherwise. Dispose it when done (the webgpu one holds a flattened view).
 */
export function createTriplaneSampler(planes: tf.Tensor, boxWarp: number, impl: TriplaneImplementation = 'auto'): TriplaneSampler {
  checkBoxWarp(boxWarp);
  planeGeometry(planes);
  const useGpu = impl === 'webgpu' || (impl === 'auto' && isWebGPUBackend());
  if (useGpu) return new WebGPUTriplaneSampler(planes, planeGeometry(planes), boxWarp);
  return CpuTriplaneSampler.create(planes, boxWarp);
}

/** `[N, 3, H, W, C]` planes sampled at `[N, M, 3]` points → `[N, M, C]` (mean over the three planes). */
export function sampleTriplanes(planes: tf.Tensor, xyz: tf.Tensor3D, boxWarp: number, impl: TriplaneImplementation = 'auto'): tf.Tensor3D {
  const geom = planeGeometry(planes);
  if (xyz.rank !== 3 || xyz.shape[0] !== geom.batch || xyz.shape[2] !== 3) {
    throw new TriplaneError(`points must be [${geom.batch}, M, 3] (got [${xyz.shape}])`);
  }
  const sampler = createTriplaneSampler(planes, boxWarp, impl);
  try {
    return tf.tidy(() => {
      const m = xyz.shape[1];
      const rows: tf.Tensor2D[] = [];
      for (let n = 0; n < geom.batch; n++) rows.push(sampler.sample(n, tf.reshape(tf.slice(xyz, [n, 0, 0], [1, m, 3]), [m, 3])));
      return tf.stack(rows) as tf.Tensor3D;
    });
  } finally {
    sampler.dispose();
  }
}

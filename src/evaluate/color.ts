/**
 * Colour-palette distance of the evaluation report: CIE L*a*b* (D65) pixel distributions compared by
 * the sliced Wasserstein distance with seeded projection directions. Plain JS, no tfjs.
 */
import { Random } from '../core/random.ts';
import { SettingsError } from '../core/errors.ts';

/** D65 reference white (CIE 1931 2°), XYZ scaled so that Y = 1. */
const XN = 0.95047;
const YN = 1.0;
const ZN = 1.08883;

function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
}

function labF(t: number): number {
  const d = 6 / 29;
  return t > d * d * d ? Math.cbrt(t) : t / (3 * d * d) + 4 / 29;
}

/** sRGB components in [0, 1] → [L*, a*, b*] (L* in 0..100). */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const rl = srgbToLinear(r);
  const gl = srgbToLinear(g);
  const bl = srgbToLinear(b);
  const x = 0.4124564 * rl + 0.3575761 * gl + 0.1804375 * bl;
  const y = 0.2126729 * rl + 0.7151522 * gl + 0.072175 * bl;
  const z = 0.0193339 * rl + 0.119192 * gl + 0.9503041 * bl;
  const fx = labF(x / XN);
  const fy = labF(y / YN);
  const fz = labF(z / ZN);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/**
 * Lab values `[n·3]` of the pixels of an interleaved RGB(A) 8-bit image where `mask` (one flag per
 * pixel, optional) is set.
 */
export function labPixels(data: ArrayLike<number>, channels: 3 | 4, mask?: ArrayLike<number>): Float32Array {
  const n = Math.floor(data.length / channels);
  let count = 0;
  for (let i = 0; i < n; i++) if (!mask || mask[i]) count++;
  const out = new Float32Array(count * 3);
  let k = 0;
  for (let i = 0; i < n; i++) {
    if (mask && !mask[i]) continue;
    const lab = srgbToLab(data[i * channels] / 255, data[i * channels + 1] / 255, data[i * channels + 2] / 255);
    out[k++] = lab[0];
    out[k++] = lab[1];
    out[k++] = lab[2];
  }
  return out;
}

export interface SlicedWassersteinOptions {
  /** Number of random unit directions (default 64). */
  projections?: number;
  /** Quantile levels compared per direction (default 128). */
  quantiles?: number;
  /** Seed of the directions (default 0): the same seed gives the same directions for every pair. */
  seed?: number;
}

/** Seeded unit directions in R^dim (normalised Gaussian draws), `[p·dim]`. */
export function unitDirections(count: number, dim: number, seed: number): Float64Array {
  const rng = new Random(seed);
  const out = new Float64Array(count * dim);
  for (let p = 0; p < count; p++) {
    let norm = 0;
    do {
      norm = 0;
      for (let d = 0; d < dim; d++) {
        const v = rng.normal();
        out[p * dim + d] = v;
        norm += v * v;
      }
    } while (norm < 1e-12);
    norm = Math.sqrt(norm);
    for (let d = 0; d < dim; d++) out[p * dim + d] /= norm;
  }
  return out;
}

/** Quantile τ ∈ (0, 1) of sorted values by linear interpolation between order statistics. */
function quantile(sorted: Float64Array, tau: number): number {
  const pos = tau * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/**
 * Sliced 2-Wasserstein distance between two point sets `a` `[n·dim]` and `b` `[m·dim]` (any n, m ≥ 1):
 * sqrt of the mean, over seeded unit directions θ and quantile levels τ_q = (q + ½)/Q, of
 * (F⁻¹_{θ·a}(τ_q) − F⁻¹_{θ·b}(τ_q))². In the units of the points (here Lab, i.e. ≈ ΔE*ab).
 * A pure translation by δ gives ≈ |δ|/√dim on average over directions.
 */
export function slicedWasserstein(a: Float32Array, b: Float32Array, dim = 3, opts: SlicedWassersteinOptions = {}): number {
  const projections = opts.projections ?? 64;
  const levels = opts.quantiles ?? 128;
  if (a.length < dim || b.length < dim) throw new SettingsError('sliced Wasserstein needs at least one point in each set');
  if (a.length % dim || b.length % dim) throw new SettingsError(`point sets must have a multiple of ${dim} values`);
  const dirs = unitDirections(projections, dim, opts.seed ?? 0);
  const n = a.length / dim;
  const m = b.length / dim;
  const pa = new Float64Array(n);
  const pb = new Float64Array(m);
  let total = 0;
  for (let p = 0; p < projections; p++) {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += a[i * dim + d] * dirs[p * dim + d];
      pa[i] = s;
    }
    for (let i = 0; i < m; i++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += b[i * dim + d] * dirs[p * dim + d];
      pb[i] = s;
    }
    pa.sort();
    pb.sort();
    let sum = 0;
    for (let q = 0; q < levels; q++) {
      const tau = (q + 0.5) / levels;
      const diff = quantile(pa, tau) - quantile(pb, tau);
      sum += diff * diff;
    }
    total += sum / levels;
  }
  return Math.sqrt(total / projections);
}

/** The Lab points of several views (or any flat arrays) as one array, in order. */
export function concatFloat32(xs: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(xs.reduce((s, x) => s + x.length, 0));
  let at = 0;
  for (const x of xs) {
    out.set(x, at);
    at += x.length;
  }
  return out;
}

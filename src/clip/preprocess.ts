/**
 * Image preprocessing for the CLIP encoders, matching PyTorch / torchvision / PIL exactly:
 * - `bicubicMatrix`: the 1-D interpolation matrix of `F.interpolate(mode='bicubic', align_corners=False)`
 *   (Keys cubic a = −0.75, clamped border taps) or, with `antialias`, of PyTorch's antialiased bicubic
 *   (PIL's filter: a = −0.5, support widened by the down-scale factor, weights renormalised).
 *   A 2-D resize is two matmuls with these matrices, hence differentiable on every backend.
 * - `preprocessGenerated`: the generated-image path (x·0.5+0.5, bicubic resize of the whole image,
 *   mean/std normalisation).
 * - `clipReferencePixels`: CLIP's reference transform on an RGBA8 image (PIL bicubic resize of the
 *   short side incl. PIL's 8-bit fixed-point rounding, centre crop, ToTensor, Normalize).
 */
import * as tf from '@tensorflow/tfjs';
import type { RgbaImage } from '../core/image.ts';
import { InternalError } from '../core/errors.ts';

export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

export class PreprocessError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Keys' cubic convolution kernel with parameter a (PyTorch uses −0.75 for plain bicubic, PIL −0.5). */
function cubicKernel(x: number, a: number): number {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/**
 * Row-major [outSize, inSize] matrix M with out = M · in along one axis.
 * Plain: PyTorch `upsample_bicubic2d` (align_corners=False): source = (i+0.5)·in/out − 0.5, four taps
 * around floor(source), taps outside [0, in−1] clamped onto the border pixel.
 * Antialias: PyTorch `_upsample_bicubic2d_aa` / PIL `ImagingResample`: support 2·max(scale,1) around
 * the centre (i+0.5)·scale, kernel argument divided by max(scale,1), weights normalised to sum 1.
 */
export function bicubicMatrix(inSize: number, outSize: number, antialias: boolean): Float32Array {
  return Float32Array.from(bicubicMatrix64(inSize, outSize, antialias));
}

/** `bicubicMatrix` in double precision (PIL derives its fixed-point coefficients from doubles). */
function bicubicMatrix64(inSize: number, outSize: number, antialias: boolean): Float64Array {
  if (!(inSize >= 1 && outSize >= 1 && Number.isInteger(inSize) && Number.isInteger(outSize))) {
    throw new PreprocessError(`bicubic resize: sizes must be positive integers (got ${inSize} → ${outSize})`);
  }
  const m = new Float64Array(outSize * inSize);
  const scale = inSize / outSize;
  if (!antialias) {
    // PyTorch computes the source position and the coefficients in float32 (opmath of float); doing
    // the same (Math.fround at every step) reproduces its weights to the last bit, where the source
    // position's rounding (ulp ≈ 1.5e-5 near 255) would otherwise show up as ~1e-5 output differences.
    const f = Math.fround;
    const a = -0.75;
    const conv1 = (x: number) => f(f(f(f(f(f(a + 2) * x) - f(a + 3)) * x) * x) + 1);
    const conv2 = (x: number) => f(f(f(f(f(f(a * x) - f(5 * a)) * x) + f(8 * a)) * x) - f(4 * a));
    const scale32 = f(inSize / outSize);
    for (let i = 0; i < outSize; i++) {
      const src = f(f(scale32 * f(i + 0.5)) - 0.5);
      const i0 = Math.floor(src);
      const t = f(src - i0);
      const w = [conv2(f(t + 1)), conv1(t), conv1(f(1 - t)), conv2(f(f(1 - t) + 1))];
      for (let k = 0; k < 4; k++) {
        const idx = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
        m[i * inSize + idx] += w[k];
      }
    }
    return m;
  }
  const a = -0.5;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
    const w: number[] = [];
    let total = 0;
    for (let j = xmin; j < xmax; j++) {
      const v = cubicKernel((j - center + 0.5) * invScale, a);
      w.push(v);
      total += v;
    }
    for (let j = xmin; j < xmax; j++) m[i * inSize + j] = total !== 0 ? w[j - xmin] / total : w[j - xmin];
  }
  return m;
}

/** Keeps the interpolation matrices as tensors, keyed by (in, out, antialias); owned by an encoder. */
export class ResizeMatrixCache {
  private readonly cache = new Map<string, tf.Tensor2D>();

  get(inSize: number, outSize: number, antialias: boolean): tf.Tensor2D {
    const key = `${inSize}:${outSize}:${antialias ? 1 : 0}`;
    let t = this.cache.get(key);
    if (!t) {
      t = tf.keep(tf.tensor2d(bicubicMatrix(inSize, outSize, antialias), [outSize, inSize]));
      this.cache.set(key, t);
    }
    return t;
  }

  dispose(): void {
    for (const t of this.cache.values()) t.dispose();
    this.cache.clear();
  }
}

/**
 * Bicubic resize of NHWC images as two matmuls (height, then width); differentiable w.r.t. `x`.
 * Call inside `tf.tidy` (intermediates are not disposed here).
 */
export function resizeBicubic(
  x: tf.Tensor4D,
  outH: number,
  outW: number,
  opts: { antialias: boolean; cache: ResizeMatrixCache },
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (h === outH && w === outW) return x;
  let y: tf.Tensor = x;
  let curH = h;
  if (h !== outH) {
    const mh = opts.cache.get(h, outH, opts.antialias);
    const cols = tf.reshape(tf.transpose(y, [1, 0, 2, 3]), [h, n * w * c]);
    y = tf.transpose(tf.reshape(tf.matMul(mh, cols), [outH, n, w, c]), [1, 0, 2, 3]);
    curH = outH;
  }
  if (w !== outW) {
    const mw = opts.cache.get(w, outW, opts.antialias);
    const cols = tf.reshape(tf.transpose(y, [2, 0, 1, 3]), [w, n * curH * c]);
    y = tf.transpose(tf.reshape(tf.matMul(mw, cols), [outW, n, curH, c]), [1, 2, 0, 3]);
  }
  return y as tf.Tensor4D;
}

/** (x − mean) / std per channel (NHWC). */
export function normalizeChannels(x: tf.Tensor4D, mean: readonly number[], std: readonly number[]): tf.Tensor4D {
  return tf.div(tf.sub(x, tf.tensor1d([...mean])), tf.tensor1d([...std])) as tf.Tensor4D;
}

/**
 * Generated-image path of DiFa / 3D-Adapter: images NHWC in [−1, 1] → x·0.5+0.5 → bicubic resize (no
 * antialias, whole image) to `res`×`res` → CLIP mean/std normalisation. Differentiable.
 */
export function preprocessGenerated(
  images: tf.Tensor4D,
  res: number,
  cache: ResizeMatrixCache,
  mean: readonly number[] = CLIP_MEAN,
  std: readonly number[] = CLIP_STD,
): tf.Tensor4D {
  return tf.tidy(() => {
    const unit = tf.add(tf.mul(images, 0.5), 0.5) as tf.Tensor4D;
    return normalizeChannels(resizeBicubic(unit, res, res, { antialias: false, cache }), mean, std);
  });
}

/** torchvision `Resize(size)` with an int: the short side becomes `size`, the long side int(size·long/short). */
export function shortSideResizeSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/** Python 3 `round` (half to even), used by torchvision's CenterCrop offsets. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision `CenterCrop` offsets: top = int(round((h − ch)/2)), left likewise. */
export function centerCropOffsets(width: number, height: number, cropW: number, cropH: number): { left: number; top: number } {
  return { left: roundHalfEven((width - cropW) / 2), top: roundHalfEven((height - cropH) / 2) };
}

const PIL_PRECISION_BITS = 32 - 8 - 2;

/** PIL's per-output-pixel coefficients (the antialias matrix rows) as 8-bit-path fixed-point integers. */
function pilFixedPointRows(inSize: number, outSize: number): { start: number; coeffs: Int32Array }[] {
  const m = bicubicMatrix64(inSize, outSize, true);
  const rows: { start: number; coeffs: Int32Array }[] = [];
  const one = 1 << PIL_PRECISION_BITS;
  for (let i = 0; i < outSize; i++) {
    let start = -1;
    let end = -1;
    for (let j = 0; j < inSize; j++) {
      if (m[i * inSize + j] !== 0) {
        if (start < 0) start = j;
        end = j;
      }
    }
    if (start < 0) start = end = 0;
    const coeffs = new Int32Array(end - start + 1);
    for (let j = start; j <= end; j++) {
      const k = m[i * inSize + j];
      coeffs[j - start] = k < 0 ? Math.trunc(-0.5 + k * one) : Math.trunc(0.5 + k * one);
    }
    rows.push({ start, coeffs });
  }
  return rows;
}

function clip8(ss: number): number {
  const v = Math.floor(ss / (1 << PIL_PRECISION_BITS));
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * PIL `Image.resize((outW, outH), BICUBIC)` on an RGB8 image (interleaved, 3 channels): horizontal pass
 * then vertical pass, each rounded to 8 bits, with PIL's fixed-point coefficients.
 */
export function pilResizeBicubicRgb(rgb: Uint8Array, width: number, height: number, outW: number, outH: number): Uint8Array {
  let src = rgb;
  let curW = width;
  if (outW !== width) {
    const rows = pilFixedPointRows(width, outW);
    const tmp = new Uint8Array(outW * height * 3);
    const half = 1 << (PIL_PRECISION_BITS - 1);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < outW; x++) {
        const { start, coeffs } = rows[x];
        for (let c = 0; c < 3; c++) {
          let ss = half;
          for (let k = 0; k < coeffs.length; k++) ss += src[(y * width + start + k) * 3 + c] * coeffs[k];
          tmp[(y * outW + x) * 3 + c] = clip8(ss);
        }
      }
    }
    src = tmp;
    curW = outW;
  }
  if (outH !== height) {
    const rows = pilFixedPointRows(height, outH);
    const out = new Uint8Array(curW * outH * 3);
    const half = 1 << (PIL_PRECISION_BITS - 1);
    for (let y = 0; y < outH; y++) {
      const { start, coeffs } = rows[y];
      for (let x = 0; x < curW; x++) {
        for (let c = 0; c < 3; c++) {
          let ss = half;
          for (let k = 0; k < coeffs.length; k++) ss += src[((start + k) * curW + x) * 3 + c] * coeffs[k];
          out[(y * curW + x) * 3 + c] = clip8(ss);
        }
      }
    }
    src = out;
  }
  return src === rgb ? rgb.slice() : src;
}

/** Drops alpha (PIL `convert('RGB')` on RGBA keeps the colour channels as they are). */
export function rgbaToRgb(image: RgbaImage): Uint8Array {
  const { width, height, data } = image;
  if (width < 1 || height < 1 || data.length !== width * height * 4) {
    throw new PreprocessError(`image must be RGBA8 of ${width}×${height} (got ${data.length} bytes)`);
  }
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgb[j] = data[i * 4];
    rgb[j + 1] = data[i * 4 + 1];
    rgb[j + 2] = data[i * 4 + 2];
  }
  return rgb;
}

/**
 * CLIP's reference transform (`Resize(res, BICUBIC)`, `CenterCrop(res)`, RGB, `ToTensor`, `Normalize`)
 * of an RGBA8 image → [res·res·3] float32 NHWC pixels, normalised with `mean`/`std`
 * (pass mean 0 / std 1 for plain [0, 1] values).
 */
export function clipReferencePixels(
  image: RgbaImage,
  res: number,
  mean: readonly number[] = CLIP_MEAN,
  std: readonly number[] = CLIP_STD,
): Float32Array {
  const rgb = rgbaToRgb(image);
  const size = shortSideResizeSize(image.width, image.height, res);
  const resized = pilResizeBicubicRgb(rgb, image.width, image.height, size.width, size.height);
  const { left, top } = centerCropOffsets(size.width, size.height, res, res);
  const out = new Float32Array(res * res * 3);
  for (let y = 0; y < res; y++) {
    for (let x = 0; x < res; x++) {
      const sy = y + top;
      const sx = x + left;
      for (let c = 0; c < 3; c++) {
        // Crop windows larger than the image are zero-padded, as torchvision's CenterCrop does.
        const inside = sy >= 0 && sy < size.height && sx >= 0 && sx < size.width;
        const v = inside ? resized[(sy * size.width + sx) * 3 + c] / 255 : 0;
        out[(y * res + x) * 3 + c] = (v - mean[c]) / std[c];
      }
    }
  }
  return out;
}

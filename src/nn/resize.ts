/**
 * PyTorch `F.interpolate(x, size, mode='bilinear', align_corners=False, antialias=…)` as two
 * separable resampling matrices applied with matMuls (differentiable on every backend).
 * With antialias the triangle filter is widened by the down-scaling factor (PyTorch's
 * `_upsample_bilinear2d_aa`); when up-sampling both variants equal plain bilinear.
 */
import * as tf from '@tensorflow/tfjs';

/** Row-major [outSize, inSize] matrix M with out = M · in along one axis. */
export function bilinearResizeMatrix(inSize: number, outSize: number, antialias: boolean): Float32Array {
  const m = new Float32Array(outSize * inSize);
  const scale = inSize / outSize;
  if (antialias) {
    const support = scale >= 1 ? scale : 1;
    const invScale = scale >= 1 ? 1 / scale : 1;
    for (let i = 0; i < outSize; i++) {
      const center = scale * (i + 0.5);
      const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
      const xmax = Math.min(Math.trunc(center + support + 0.5), inSize);
      let total = 0;
      const w: number[] = [];
      for (let j = xmin; j < xmax; j++) {
        const t = Math.abs((j - center + 0.5) * invScale);
        const v = t < 1 ? 1 - t : 0;
        w.push(v);
        total += v;
      }
      for (let j = xmin; j < xmax; j++) m[i * inSize + j] = total > 0 ? w[j - xmin] / total : 0;
    }
  } else {
    for (let i = 0; i < outSize; i++) {
      const src = Math.max(scale * (i + 0.5) - 0.5, 0);
      const j0 = Math.min(Math.floor(src), inSize - 1);
      const j1 = Math.min(j0 + 1, inSize - 1);
      const l1 = src - j0;
      m[i * inSize + j0] += 1 - l1;
      m[i * inSize + j1] += l1;
    }
  }
  return m;
}

/** Resizes NHWC `x` to outH × outW. */
export function resizeBilinear(x: tf.Tensor4D, outH: number, outW: number, antialias: boolean): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (h === outH && w === outW) return tf.clone(x);
  return tf.tidy(() => {
    const mh = tf.tensor2d(bilinearResizeMatrix(h, outH, antialias), [outH, h]);
    const mw = tf.tensor2d(bilinearResizeMatrix(w, outW, antialias), [outW, w]);
    // Rows: [outH, h] · [h, n·w·c]
    const xr = tf.transpose(x, [1, 0, 2, 3]).reshape([h, n * w * c]);
    const yr = tf.matMul(mh, xr).reshape([outH, n, w, c]);
    // Columns: [outW, w] · [w, outH·n·c]
    const xc = tf.transpose(yr, [2, 0, 1, 3]).reshape([w, outH * n * c]);
    const yc = tf.matMul(mw, xc).reshape([outW, outH, n, c]);
    return tf.transpose(yc, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}

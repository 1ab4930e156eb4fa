/**
 * 2-D convolution (cross-correlation, NHWC, filter `[kh, kw, in, out]`) that can be trained on every
 * backend. tfjs-backend-wasm has no `Conv2DBackpropFilter`, so the filter gradient is computed here as
 * one matMul per kernel tap over a shifted (strided) view of the input; the input gradient uses
 * `conv2dTranspose` (Conv2DBackpropInput exists everywhere). The forward pass is plain `tf.conv2d`.
 */
import * as tf from '@tensorflow/tfjs';

/** `[top, bottom, left, right]` zero padding, a single number for all four sides, or TF's 'valid' / 'same'. */
export type ConvPadding = 'valid' | 'same' | number | [number, number, number, number];

export class ConvShapeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConvShapeError';
  }
}

function explicitPadding(pad: ConvPadding, inH: number, inW: number, kh: number, kw: number, sh: number, sw: number): [number, number, number, number] {
  if (pad === 'valid') return [0, 0, 0, 0];
  if (typeof pad === 'number') return [pad, pad, pad, pad];
  if (pad === 'same') {
    // TensorFlow's 'same': output = ceil(in / stride); the odd pixel of padding goes after.
    const totalH = Math.max((Math.ceil(inH / sh) - 1) * sh + kh - inH, 0);
    const totalW = Math.max((Math.ceil(inW / sw) - 1) * sw + kw - inW, 0);
    return [Math.floor(totalH / 2), totalH - Math.floor(totalH / 2), Math.floor(totalW / 2), totalW - Math.floor(totalW / 2)];
  }
  return pad;
}

/** Rows per partial product in the filter gradient: float32 sums over ~10⁵+ rows lose precision on wasm. */
const FILTER_GRAD_BLOCK_ROWS = 32768;

/** Σ over row blocks of aᵀ·b for a [R, Ci], b [R, Co] (blocked so no single float32 accumulation runs over all R rows). */
function blockedAtB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  const rows = a.shape[0];
  if (rows <= FILTER_GRAD_BLOCK_ROWS) return tf.matMul(a, b, true, false);
  const parts: tf.Tensor2D[] = [];
  for (let r = 0; r < rows; r += FILTER_GRAD_BLOCK_ROWS) {
    const n = Math.min(FILTER_GRAD_BLOCK_ROWS, rows - r);
    parts.push(tf.matMul(tf.slice(a, [r, 0], [n, -1]), tf.slice(b, [r, 0], [n, -1]), true, false));
  }
  return tf.addN(parts);
}

/** dW[ky,kx] = Σ_{n,y,x} x[n, y·s+ky, x·s+kx, :]ᵀ · dy[n, y, x, :], one (blocked) matMul per tap. */
function filterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, sh: number, sw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , cin] = x.shape;
    const [, ho, wo, cout] = dy.shape;
    const dy2 = dy.reshape([n * ho * wo, cout]) as tf.Tensor2D;
    const taps: tf.Tensor2D[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const view =
          sh === 1 && sw === 1
            ? tf.slice(x, [0, ky, kx, 0], [n, ho, wo, cin])
            : tf.stridedSlice(x, [0, ky, kx, 0], [n, ky + (ho - 1) * sh + 1, kx + (wo - 1) * sw + 1, cin], [1, sh, sw, 1]);
        taps.push(blockedAtB(view.reshape([n * ho * wo, cin]) as tf.Tensor2D, dy2));
      }
    }
    return tf.stack(taps).reshape([kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

/**
 * conv2d with a custom (wasm-safe) filter gradient. Zero padding happens inside the op (only the
 * unpadded input is kept for the backward pass; the padded copy is rebuilt there temporarily).
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, strides: number | [number, number] = 1, pad: ConvPadding = 'valid'): tf.Tensor4D {
  if (x.rank !== 4 || w.rank !== 4) throw new ConvShapeError(`conv2d expects a rank-4 input and filter (got ${x.shape} and ${w.shape})`);
  const [kh, kw, cin] = w.shape;
  if (x.shape[3] !== cin) throw new ConvShapeError(`conv2d: input has ${x.shape[3]} channels, filter expects ${cin}`);
  const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
  const [pt, pb, pl, pr] = explicitPadding(pad, x.shape[1], x.shape[2], kh, kw, sh, sw);
  if (x.shape[1] + pt + pb < kh || x.shape[2] + pl + pr < kw) throw new ConvShapeError(`conv2d: padded input is smaller than the ${kh}×${kw} kernel (input ${x.shape})`);
  const padded = pt || pb || pl || pr;
  const padSpec: Array<[number, number]> = [[0, 0], [pt, pb], [pl, pr], [0, 0]];
  const op = tf.customGrad((xin, win, save) => {
    const xi = xin as tf.Tensor4D;
    const wi = win as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xi, wi]);
    return {
      value: tf.conv2d(xi, wi, [sh, sw], padded ? (padSpec as tf.backend_util.ExplicitPadding) : 'valid'),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        return tf.tidy(() => {
          const xp = padded ? tf.pad(xs, padSpec) : xs;
          const dxp = tf.conv2dTranspose(dy, ws, xp.shape, [sh, sw], 'valid');
          const dx = padded ? tf.slice(dxp, [0, pt, pl, 0], xs.shape) : dxp;
          return [dx, filterGradient(xp, dy, kh, kw, sh, sw)];
        });
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

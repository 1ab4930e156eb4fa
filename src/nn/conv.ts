/**
 * 2-D convolution (cross-correlation, NHWC, filter `[kh, kw, in, out]`) that can be trained on every
 * backend. tfjs-backend-wasm has no `Conv2DBackpropFilter`, so the filter gradient is computed here as
 * one matMul per kernel tap over a shifted (strided) view of the input; the input gradient is a
 * forward conv with the rotated kernel (stride 1) or `conv2dTranspose` (strided). The forward pass
 * is plain `tf.conv2d`.
 */
import * as tf from '@tensorflow/tfjs';
import { pairwiseSum } from './fc.ts';
import { InternalError } from '../core/errors.ts';

/** `[top, bottom, left, right]` zero padding, a single number for all four sides, or TF's 'valid' / 'same'. */
export type ConvPadding = 'valid' | 'same' | number | [number, number, number, number];

export class ConvShapeError extends InternalError {
  constructor(message: string) {
    super(message);
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

/**
 * Rows per partial product in the filter gradient: float32 sums over ~10⁵+ rows lose precision on wasm
 * (a 512² × 8-channel 3×3 filter gradient against float64: 2.3e-6 of max |dW| in blocks of 16,384 rows,
 * 1.4e-5 in one block). tfjs-webgpu's tiled matMul keeps its sums short itself (2.3e-7 in blocks, 5.9e-7 in
 * one block), and there each block costs 21 dispatches (17 blocks per image at 512²): one block per image.
 */
const FILTER_GRAD_BLOCK_ROWS = 16384;
const FILTER_GRAD_BLOCK_ROWS_WEBGPU = 1 << 20;

/**
 * dW[ky,kx] = Σ_{n,y,x} xp[n, y+ky, x+kx, :]ᵀ · dy[n, y, x, :] for stride 1, without strided views:
 * with xp flattened to rows [(n·Hp + y)·Wp + x] and dy zero-padded to width Wp, tap (ky,kx) is the
 * contiguous row range starting at ky·Wp + kx (the extra columns meet zeros in dy). dyᵀ is formed
 * once per row block and each tap is one matMul [Cout, rows]·[rows, Cin] (wasm's matMul with
 * transposeA and its inner-axis slices are several times slower). Blocks of rows keep float32
 * accumulations short.
 */
export function filterGradientStride1(xp: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number): tf.Tensor4D {
  const [n, hp, wp, cin] = xp.shape;
  const [, ho, wo, cout] = dy.shape;
  const rowsPerImage = hp * wp;
  const partials: tf.Tensor2D[][] = Array.from({ length: kh * kw }, () => []);
  // Block = whole output rows of one image so block boundaries align with image boundaries.
  const blockRows = tf.getBackend() === 'webgpu' ? FILTER_GRAD_BLOCK_ROWS_WEBGPU : FILTER_GRAD_BLOCK_ROWS;
  const rowsPerBlock = Math.max(1, Math.floor(blockRows / wp));
  for (let b = 0; b < n; b++) {
    // [rows, Cin] with kw − 1 zero rows appended so the last tap's range stays in bounds.
    const xFlat = tf.tidy(() => tf.pad(tf.slice(xp, [b, 0, 0, 0], [1, -1, -1, -1]).reshape([rowsPerImage, cin]), [[0, kw - 1], [0, 0]])) as tf.Tensor2D;
    for (let y0 = 0; y0 < ho; y0 += rowsPerBlock) {
      const ny = Math.min(rowsPerBlock, ho - y0);
      const dyT = tf.tidy(() => {
        const blk = tf.slice(dy, [b, y0, 0, 0], [1, ny, wo, cout]);
        const widened = wp > wo ? tf.pad(blk, [[0, 0], [0, 0], [0, wp - wo], [0, 0]]) : blk;
        return tf.transpose(widened.reshape([ny * wp, cout])) as tf.Tensor2D;
      });
      for (let ky = 0; ky < kh; ky++) {
        for (let kx = 0; kx < kw; kx++) {
          partials[ky * kw + kx].push(tf.tidy(() => tf.matMul(dyT, tf.slice(xFlat, [(y0 + ky) * wp + kx, 0], [ny * wp, cin]))) as tf.Tensor2D);
        }
      }
      dyT.dispose();
    }
    xFlat.dispose();
  }
  // Partials are [Cout, Cin] (small); a balanced sum keeps the float32 error low.
  const acc = partials.map((p) => pairwiseSum(p) as tf.Tensor2D);
  const out = tf.tidy(() => tf.transpose(tf.stack(acc).reshape([kh, kw, cout, cin]), [0, 1, 3, 2]) as tf.Tensor4D);
  tf.dispose(acc);
  return out;
}

/**
 * Input gradient of a stride-1 correlation with zero padding [top, bottom, left, right]: a forward
 * correlation of dy with the rotated, in/out-swapped kernel (~10× faster on wasm than
 * Conv2DBackpropInput). Padding larger than k − 1 (rows that only saw zeros) is cropped away.
 */
export function inputGradientStride1(dy: tf.Tensor4D, w: tf.Tensor4D, xShape: number[], pads: [number, number, number, number]): tf.Tensor4D {
  const [kh, kw] = w.shape;
  const [pt, pb, pl, pr] = pads;
  const a = [kh - 1 - pt, kh - 1 - pb, kw - 1 - pl, kw - 1 - pr];
  return tf.tidy(() => {
    const wRot = tf.transpose(tf.reverse(w, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    const full = tf.conv2d(dy, wRot, 1, [[0, 0], [Math.max(0, a[0]), Math.max(0, a[1])], [Math.max(0, a[2]), Math.max(0, a[3])], [0, 0]]);
    const needsCrop = a.some((v) => v < 0);
    return needsCrop ? (tf.slice(full, [0, Math.max(0, -a[0]), Math.max(0, -a[2]), 0], xShape) as tf.Tensor4D) : full;
  });
}

/** Strided convolutions (not used by EG3D's layers): one transpose + matMul per tap over a strided view. */
function filterGradientStrided(x: tf.Tensor4D, dy: tf.Tensor4D, kh: number, kw: number, sh: number, sw: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, , , cin] = x.shape;
    const [, ho, wo, cout] = dy.shape;
    const dy2 = dy.reshape([n * ho * wo, cout]);
    const taps: tf.Tensor2D[] = [];
    for (let ky = 0; ky < kh; ky++) {
      for (let kx = 0; kx < kw; kx++) {
        const view = tf.stridedSlice(x, [0, ky, kx, 0], [n, ky + (ho - 1) * sh + 1, kx + (wo - 1) * sw + 1, cin], [1, sh, sw, 1]);
        taps.push(tf.matMul(tf.transpose(view.reshape([n * ho * wo, cin])), dy2));
      }
    }
    return tf.stack(taps).reshape([kh, kw, cin, cout]) as tf.Tensor4D;
  });
}

/**
 * conv2d with a custom (wasm-safe) filter gradient. Zero padding happens inside the op (only the
 * unpadded input is kept for the backward pass; the padded copy is rebuilt there temporarily).
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, strides: number | [number, number] = 1, pad: ConvPadding = 'valid', opts: { filterGrad?: boolean } = {}): tf.Tensor4D {
  const filterGrad = opts.filterGrad ?? true;
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
        // Temporaries are freed as soon as they are used: at 512² each is over 100 MB.
        const xp = padded ? tf.pad(xs, padSpec) : xs;
        let dx: tf.Tensor4D;
        if (sh === 1 && sw === 1) {
          dx = inputGradientStride1(dy, ws, xs.shape, [pt, pb, pl, pr]);
        } else {
          const dxp = tf.conv2dTranspose(dy, ws, xp.shape, [sh, sw], 'valid');
          dx = dxp;
          if (padded) {
            dx = tf.slice(dxp, [0, pt, pl, 0], xs.shape);
            dxp.dispose();
          }
        }
        // A frozen filter (`filterGrad` false) only passes the gradient on: zeros for it.
        const dw = !filterGrad ? tf.zerosLike(ws) : sh === 1 && sw === 1 ? filterGradientStride1(xp, dy, kh, kw) : filterGradientStrided(xp, dy, kh, kw, sh, sw);
        if (padded) xp.dispose();
        return [dx, dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

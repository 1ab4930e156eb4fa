/**
 * StyleGAN2's ×2 FIR up-sampling (upfirdn.ts `upsample2d`, f = [1,3,3,1]) and the up-sampling conv's
 * resampling (`upConvLowpass`, modconv.ts's phase kernels) as fused WGSL kernels for
 * tfjs's webgpu backend (the pattern of src/clip/vit-kernels-webgpu.ts: program objects structurally
 * matching tfjs-backend-webgpu's WebGPUProgram, run through `backend.runWebGPUProgram`); their plain-TS
 * twins are upfirdn-kernels.ts. NHWC, float32.
 *
 *  - upsample2d forward (1 dispatch): one invocation per output element (b, oy, ox, c) reads the 2×2 input pixels
 *    of its phases — per axis out[2q] = (x[q−1] + 3x[q])/4, out[2q+1] = (3x[q] + x[q+1])/4, zero outside —
 *    combining along H first, then W (the generic path's order).
 *  - upsample2d backward (1 dispatch): the adjoint, one invocation per input element gathering the 4×4 output
 *    gradients it contributed to with weights outer((1,3,3,1)/4, (1,3,3,1)/4).
 *  - the modulated up-sampling conv (modconv.ts): `upConvLowpass`'s tail — the four phases of the
 *    stride-2 transposed conv interleaved and low-passed (taps 2f, padding (1, 0)) — in one dispatch, its
 *    adjoint in four (one per phase gradient); the phase kernels of the 3×3 weight (one gather each) and
 *    the scatter of their gradients back to the 3×3 taps (one dispatch).
 *
 * Shapes come from the backend's uniforms (`outShape`, `xShape` / `dyShape`), so one shader serves
 * every size.
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { runFloatProgram, type WebGPUProgramLike } from './webgpu-program.ts';

export class UpfirdnKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

function run(program: WebGPUProgramLike, inputs: tf.Tensor[]): tf.Tensor {
  return runFloatProgram(program, inputs, undefined, (active) => new UpfirdnKernelError(`the fused up-sampling kernels need the webgpu backend (active: ${active})`));
}

/** One invocation per element of the rank-4 output (tfjs reshapes dispatches past 65 535 groups). */
function elementProgram(key: string, outputShape: number[], variableNames: string[], code: string): WebGPUProgramLike {
  const size = outputShape.reduce((a, b) => a * b, 1);
  return {
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: [0, 1, 2, 3] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames,
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => code,
  };
}

const FORWARD_CODE = `
  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let C = uniforms.outShape.w;
    let W = uniforms.outShape.z;
    let H = uniforms.outShape.y;
    let h = uniforms.xShape.y;
    let w = uniforms.xShape.z;
    let c = index % C;
    var t = index / C;
    let ox = t % W;
    t = t / W;
    let oy = t % H;
    let b = t / H;
    // Phase 0 reads (q − 1, q) with (1/4, 3/4), phase 1 reads (q, q + 1) with (3/4, 1/4).
    let py = oy % 2;
    let px = ox % 2;
    let y0 = oy / 2 - 1 + py;
    let x0 = ox / 2 - 1 + px;
    let wy0 = select(0.25, 0.75, py == 1);
    let wx0 = select(0.25, 0.75, px == 1);
    let wy = vec2<f32>(wy0, 1.0 - wy0);
    let wx = vec2<f32>(wx0, 1.0 - wx0);
    var acc = 0.0;
    for (var j = 0; j < 2; j++) {
      let ix = x0 + j;
      if (ix >= 0 && ix < w) {
        var col = 0.0;
        for (var i = 0; i < 2; i++) {
          let iy = y0 + i;
          if (iy >= 0 && iy < h) {
            col = col + wy[i] * x[((b * h + iy) * w + ix) * C + c];
          }
        }
        acc = acc + wx[j] * col;
      }
    }
    setOutputAtIndex(index, acc);
  }
`;

const BACKWARD_CODE = `
  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let C = uniforms.outShape.w;
    let w = uniforms.outShape.z;
    let h = uniforms.outShape.y;
    let H = uniforms.dyShape.y;
    let W = uniforms.dyShape.z;
    let c = index % C;
    var t = index / C;
    let ix = t % w;
    t = t / w;
    let iy = t % h;
    let b = t / h;
    // Input q was read by outputs 2q − 1 … 2q + 2 with weights (1, 3, 3, 1)/4.
    let taps = vec4<f32>(0.25, 0.75, 0.75, 0.25);
    var acc = 0.0;
    for (var j = 0; j < 4; j++) {
      let ox = 2 * ix - 1 + j;
      if (ox >= 0 && ox < W) {
        var col = 0.0;
        for (var i = 0; i < 4; i++) {
          let oy = 2 * iy - 1 + i;
          if (oy >= 0 && oy < H) {
            col = col + taps[i] * dy[((b * H + oy) * W + ox) * C + c];
          }
        }
        acc = acc + taps[j] * col;
      }
    }
    setOutputAtIndex(index, acc);
  }
`;

/** upsample2d forward `[n, h, w, c]` → `[n, 2h, 2w, c]` (one dispatch); a kernel, off the tape. */
export function upsample2dForwardKernel(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  return run(elementProgram('nnUpsample2dFwd', [n, 2 * h, 2 * w, c], ['x'], FORWARD_CODE), [x]) as tf.Tensor4D;
}

/** ∂L/∂x `[n, h, w, c]` of upsample2d from dy `[n, 2h, 2w, c]` (one dispatch); a kernel, off the tape. */
export function upsample2dBackwardKernel(dy: tf.Tensor4D): tf.Tensor4D {
  const [n, H, W, c] = dy.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new UpfirdnKernelError(`upsample2d backward: dy of odd size ${H}×${W}`);
  return run(elementProgram('nnUpsample2dBwd', [n, H / 2, W / 2, c], ['dy'], BACKWARD_CODE), [dy]) as tf.Tensor4D;
}

/** upsample2d as one customGrad op: one dispatch forward, one backward; the tape keeps nothing. */
export function upsample2dFused(x: tf.Tensor4D): tf.Tensor4D {
  if (x.dtype !== 'float32') throw new UpfirdnKernelError(`upsample2d: ${x.dtype} input (float32 only)`);
  const op = tf.customGrad((xi) => ({
    value: upsample2dForwardKernel(xi as tf.Tensor4D),
    gradFunc: (dy: tf.Tensor) => upsample2dBackwardKernel(dy as tf.Tensor4D),
  }));
  return op(x) as tf.Tensor4D;
}

// The up-sampling conv's low-pass (2·[1,3,3,1]/8 per axis) over the interleaved phases of its
// stride-2 transposed conv: y'[2a+py, 2e+px] = phase_{py,px}[a, e], 2H+2 × 2W+2 (upfirdn.ts upConvLowpass).
const UPCONV_TAPS_WGSL = 'vec4<f32>(0.25, 0.75, 0.75, 0.25)';

const UPCONV_FORWARD_CODE = `
  fn upPhase(py : i32, px : i32, idx : i32) -> f32 {
    if (py == 0) {
      if (px == 0) {
        return p00[idx];
      }
      return p01[idx];
    }
    if (px == 0) {
      return p10[idx];
    }
    return p11[idx];
  }

  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let C = uniforms.outShape.w;
    let W = uniforms.outShape.z;
    let H = uniforms.outShape.y;
    let ph = uniforms.p00Shape.y;
    let pw = uniforms.p00Shape.z;
    let c = index % C;
    var t = index / C;
    let ox = t % W;
    t = t / W;
    let oy = t % H;
    let b = t / H;
    let taps = ${UPCONV_TAPS_WGSL};
    // out[oy, ox] = Σ_j t_j Σ_i t_i y'[oy + i − 1, ox + j − 1] (rows first, as the generic path); y' is 0 at −1.
    var acc = 0.0;
    for (var j = 0; j < 4; j++) {
      let e = ox + j - 1;
      if (e >= 0) {
        var col = 0.0;
        for (var i = 0; i < 4; i++) {
          let a = oy + i - 1;
          if (a >= 0) {
            col = col + taps[i] * upPhase(a % 2, e % 2, ((b * ph + a / 2) * pw + e / 2) * C + c);
          }
        }
        acc = acc + taps[j] * col;
      }
    }
    setOutputAtIndex(index, acc);
  }
`;

function upConvBackwardCode(py: number, px: number): string {
  return `
  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let C = uniforms.outShape.w;
    let pw = uniforms.outShape.z;
    let ph = uniforms.outShape.y;
    let H = uniforms.dyShape.y;
    let W = uniforms.dyShape.z;
    let c = index % C;
    var t = index / C;
    let e = t % pw;
    t = t / pw;
    let a = t % ph;
    let b = t / ph;
    let taps = ${UPCONV_TAPS_WGSL};
    // ∂L/∂y'[2a + py, 2e + px] = Σ_i t_i Σ_j t_j dy[2a + py + 1 − i, 2e + px + 1 − j] (columns first, as the generic path).
    let ya = 2 * a + ${py} + 1;
    let xe = 2 * e + ${px} + 1;
    var acc = 0.0;
    for (var i = 0; i < 4; i++) {
      let oy = ya - i;
      if (oy >= 0 && oy < H) {
        var row = 0.0;
        for (var j = 0; j < 4; j++) {
          let ox = xe - j;
          if (ox >= 0 && ox < W) {
            row = row + taps[j] * dy[((b * H + oy) * W + ox) * C + c];
          }
        }
        acc = acc + taps[i] * row;
      }
    }
    setOutputAtIndex(index, acc);
  }
`;
}

/**
 * upConvLowpass (upfirdn.ts) in one dispatch: the four phases `[n, H+1, W+1, c]` (order 00, 01, 10, 11)
 * → `[n, 2H, 2W, c]`; a kernel, off the tape.
 */
export function upConvLowpassForwardKernel(phases: [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]): tf.Tensor4D {
  const [n, ph, pw, c] = phases[0].shape;
  for (const p of phases) {
    if (p.shape.some((d, i) => d !== phases[0].shape[i])) throw new UpfirdnKernelError(`upConvLowpass: phases of shapes ${phases.map((q) => q.shape).join(' / ')}`);
  }
  const outShape = [n, 2 * (ph - 1), 2 * (pw - 1), c];
  return run(elementProgram('nnUpConvLowpassFwd', outShape, ['p00', 'p01', 'p10', 'p11'], UPCONV_FORWARD_CODE), phases) as tf.Tensor4D;
}

/** The adjoint of upConvLowpassForwardKernel: the four phase gradients `[n, H+1, W+1, c]` from dy `[n, 2H, 2W, c]` (four dispatches). */
export function upConvLowpassBackwardKernels(dy: tf.Tensor4D): [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D] {
  const [n, H, W, c] = dy.shape;
  if (H % 2 !== 0 || W % 2 !== 0) throw new UpfirdnKernelError(`upConvLowpass backward: dy of odd size ${H}×${W}`);
  const shape = [n, H / 2 + 1, W / 2 + 1, c];
  return [0, 1, 2, 3].map((p) =>
    run(elementProgram(`nnUpConvLowpassBwd${p >> 1}${p & 1}`, shape, ['dy'], upConvBackwardCode(p >> 1, p & 1)), [dy]),
  ) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
}

// The up-sampling conv's phase kernels (modconv.ts): phase (py, px) of the stride-2 transposed 3×3 conv
// uses the taps rows × cols of the weight, per axis phase 0 → taps [2, 0], phase 1 → [1].
const PHASE_TAPS = [[2, 0], [1]];

function phaseKernelCode(py: number, px: number): string {
  const [r0, r1] = [PHASE_TAPS[py][0], PHASE_TAPS[py][PHASE_TAPS[py].length - 1]];
  const [c0, c1] = [PHASE_TAPS[px][0], PHASE_TAPS[px][PHASE_TAPS[px].length - 1]];
  return `
  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let CO = uniforms.outShape.w;
    let CI = uniforms.outShape.z;
    let NX = uniforms.outShape.y;
    let KW = uniforms.weightShape.y;
    let co = index % CO;
    var t = index / CO;
    let ci = t % CI;
    t = t / CI;
    let jx = t % NX;
    let jy = t / NX;
    let ky = select(${r0}, ${r1}, jy == 1);
    let kx = select(${c0}, ${c1}, jx == 1);
    setOutputAtIndex(index, weight[((ky * KW + kx) * CI + ci) * CO + co]);
  }
`;
}

/** The phase (py, px) kernel `[|rows|, |cols|, in, out]` of a 3×3 weight (modconv.ts tapKernel) in one dispatch; off the tape. */
export function phaseKernelKernel(weight: tf.Tensor4D, py: number, px: number): tf.Tensor4D {
  const [kh, kw, cin, cout] = weight.shape;
  if (kh !== 3 || kw !== 3) throw new UpfirdnKernelError(`phase kernel: 3×3 weights only (got ${kh}×${kw})`);
  const shape = [PHASE_TAPS[py].length, PHASE_TAPS[px].length, cin, cout];
  return run(elementProgram(`nnUpConvPhaseKernel${py}${px}`, shape, ['weight'], phaseKernelCode(py, px)), [weight]) as tf.Tensor4D;
}

const PHASE_SCATTER_CODE = `
  fn main(index : i32) {
    if (index >= uniforms.size) {
      return;
    }
    let CO = uniforms.outShape.w;
    let CI = uniforms.outShape.z;
    let co = index % CO;
    var t = index / CO;
    let ci = t % CI;
    t = t / CI;
    let kx = t % 3;
    let ky = t / 3;
    // Per axis tap k sits in phase 1 (k = 1, position 0) or phase 0 (k = 2 → position 0, k = 0 → position 1).
    let py = select(0, 1, ky == 1);
    let px = select(0, 1, kx == 1);
    let jy = select(0, 1, ky == 0);
    let jx = select(0, 1, kx == 0);
    let nx = 2 - px;
    let idx = ((jy * nx + jx) * CI + ci) * CO + co;
    var v = 0.0;
    if (py == 0) {
      if (px == 0) {
        v = dk00[idx];
      } else {
        v = dk01[idx];
      }
    } else {
      if (px == 0) {
        v = dk10[idx];
      } else {
        v = dk11[idx];
      }
    }
    setOutputAtIndex(index, v);
  }
`;

/** The 3×3 weight gradient `[3, 3, in, out]` from the four phase kernels' gradients (order 00, 01, 10, 11) in one dispatch; off the tape. */
export function phaseKernelScatterKernel(dks: [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D]): tf.Tensor4D {
  const [, , cin, cout] = dks[0].shape;
  return run(elementProgram('nnUpConvPhaseScatter', [3, 3, cin, cout], ['dk00', 'dk01', 'dk10', 'dk11'], PHASE_SCATTER_CODE), dks) as tf.Tensor4D;
}

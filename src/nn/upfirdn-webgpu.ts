/**
 * StyleGAN2's ×2 FIR up-sampling (upfirdn.ts `upsample2d`, f = [1,3,3,1]) as fused WGSL kernels for
 * tfjs's webgpu backend (the pattern of src/clip/vit-kernels-webgpu.ts: program objects structurally
 * matching tfjs-backend-webgpu's WebGPUProgram, run through `backend.runWebGPUProgram`); their plain-TS
 * twins are upfirdn-kernels.ts. NHWC, float32.
 *
 *  - forward (1 dispatch): one invocation per output element (b, oy, ox, c) reads the 2×2 input pixels
 *    of its phases — per axis out[2q] = (x[q−1] + 3x[q])/4, out[2q+1] = (3x[q] + x[q+1])/4, zero outside —
 *    combining along H first, then W (the generic path's order).
 *  - backward (1 dispatch): the adjoint, one invocation per input element gathering the 4×4 output
 *    gradients it contributed to with weights outer((1,3,3,1)/4, (1,3,3,1)/4).
 *
 * Shapes come from the backend's uniforms (`outShape`, `xShape` / `dyShape`), so one shader serves
 * every size.
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { isWebGPUBackend, type WebGPUBackendLike, type WebGPUProgramLike } from './webgpu-program.ts';

export class UpfirdnKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

function run(program: WebGPUProgramLike, inputs: tf.Tensor[]): tf.Tensor {
  if (!isWebGPUBackend()) throw new UpfirdnKernelError(`the fused up-sampling kernels need the webgpu backend (active: ${tf.getBackend()})`);
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return tf.engine().makeTensorFromTensorInfo(backend.runWebGPUProgram(program, inputs, 'float32'));
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

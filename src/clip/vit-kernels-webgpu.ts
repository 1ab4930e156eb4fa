/**
 * CLIP's LayerNorm and QuickGELU as fused WGSL kernels for tfjs's webgpu backend (the pattern of
 * src/eg3d/ray-kernels-webgpu.ts: program objects structurally matching tfjs-backend-webgpu's
 * WebGPUProgram, run through `backend.runWebGPUProgram`); their plain-TS twins are vit-kernels.ts.
 *
 *  - `layerNormFused` (1 dispatch forward, 1 backward): one workgroup of 64 invocations per row of the
 *    last dimension. Each invocation sums its ≤ width/64 strided values, the 64 partial sums are added
 *    in a tree in workgroup memory (short float32 sums for rows ≤ 1024 wide): the mean, then the biased
 *    variance as the mean of (x − μ)², rstd = 1/√(var + 1e−5). The backward kernel recomputes μ and
 *    rstd per row, then Σ g and Σ g·x̂ (g = dy·γ) in one more tree, and writes dx. γ and β are frozen
 *    constants (closure constants of the customGrad op, as `frozenMatMul`'s weight): no gradient to them.
 *  - `quickGeluFused` (1 dispatch forward, 1 backward): one invocation per element.
 *
 * The row width is baked into the layer-norm shaders as a constant (a shader per width).
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { isWebGPUBackend, type WebGPUBackendLike, type WebGPUProgramLike } from '../eg3d/triplane-webgpu.ts';
import { LAYER_NORM_EPS, QUICK_GELU_SCALE } from './vit-kernels.ts';

export class ClipKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

function run(program: WebGPUProgramLike, inputs: tf.Tensor[]): tf.Tensor {
  if (!isWebGPUBackend()) throw new ClipKernelError(`the fused CLIP kernels need the webgpu backend (active: ${tf.getBackend()})`);
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return tf.engine().makeTensorFromTensorInfo(backend.runWebGPUProgram(program, inputs, 'float32'));
}

/** One workgroup per row of `[rows, width]` (tfjs reshapes dispatches past 65 535 groups; extra groups write nothing). */
function rowProgram(key: string, rows: number, width: number, variableNames: string[], code: string): WebGPUProgramLike {
  return {
    outputShape: [rows, width],
    shaderKey: key,
    dispatchLayout: { x: [0, 1] },
    dispatch: [rows, 1, 1],
    variableNames,
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: false,
    getUserCode: () => code,
  };
}

/**
 * The WGSL shared by the layer-norm kernels: `vkSum2` adds two values over the workgroup (64 partial
 * sums in a tree), `vkStats` the row's mean and rstd. Barriers sit in uniform control flow only (no
 * early return: an extra group reads row 0 and writes nothing).
 */
function rowCode(width: number): string {
  return `
    const C : i32 = ${width};
    const WG : i32 = ${WORKGROUP};
    var<workgroup> vkA : array<f32, ${WORKGROUP}>;
    var<workgroup> vkB : array<f32, ${WORKGROUP}>;

    fn vkSum2(a : f32, b : f32) -> vec2<f32> {
      let lid = i32(localIndex);
      vkA[lid] = a;
      vkB[lid] = b;
      workgroupBarrier();
      for (var s = WG / 2; s > 0; s = s / 2) {
        if (lid < s) {
          vkA[lid] = vkA[lid] + vkA[lid + s];
          vkB[lid] = vkB[lid] + vkB[lid + s];
        }
        workgroupBarrier();
      }
      let total = vec2<f32>(vkA[0], vkB[0]);
      workgroupBarrier();
      return total;
    }

    // (mean, rstd) of the row starting at base: biased variance, eps ${LAYER_NORM_EPS}.
    fn vkStats(base : i32) -> vec2<f32> {
      let lid = i32(localIndex);
      var s = 0.0;
      for (var c = lid; c < C; c += WG) {
        s = s + x[base + c];
      }
      let mean = vkSum2(s, 0.0).x / f32(C);
      var q = 0.0;
      for (var c = lid; c < C; c += WG) {
        let d = x[base + c] - mean;
        q = q + d * d;
      }
      let variance = vkSum2(q, 0.0).x / f32(C);
      return vec2<f32>(mean, inverseSqrt(variance + ${LAYER_NORM_EPS}));
    }
  `;
}

function layerNormForwardCode(width: number): string {
  return `${rowCode(width)}
    fn main(index : i32) {
      let lid = i32(localIndex);
      let row = index / WG;
      let valid = row < uniforms.outShape.x;
      let base = select(0, row, valid) * C;
      let st = vkStats(base);
      if (valid) {
        for (var c = lid; c < C; c += WG) {
          setOutputAtIndex(base + c, (x[base + c] - st.x) * st.y * gamma[c] + beta[c]);
        }
      }
    }
  `;
}

function layerNormBackwardCode(width: number): string {
  return `${rowCode(width)}
    fn main(index : i32) {
      let lid = i32(localIndex);
      let row = index / WG;
      let valid = row < uniforms.outShape.x;
      let base = select(0, row, valid) * C;
      let st = vkStats(base);
      var sg = 0.0;
      var sgx = 0.0;
      for (var c = lid; c < C; c += WG) {
        let g = dy[base + c] * gamma[c];
        sg = sg + g;
        sgx = sgx + g * ((x[base + c] - st.x) * st.y);
      }
      let m = vkSum2(sg, sgx) / f32(C);
      if (valid) {
        for (var c = lid; c < C; c += WG) {
          let xhat = (x[base + c] - st.x) * st.y;
          setOutputAtIndex(base + c, st.y * (dy[base + c] * gamma[c] - m.x - xhat * m.y));
        }
      }
    }
  `;
}

/** LayerNorm forward `[rows, width]` (one dispatch); a kernel, off the tape. */
export function layerNormForwardKernel(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor2D {
  const [rows, width] = x.shape;
  if (gamma.size !== width || beta.size !== width) throw new ClipKernelError(`layerNorm: γ/β of ${gamma.size}/${beta.size} values for rows of ${width}`);
  return run(rowProgram(`clipLayerNormFwd_${width}`, rows, width, ['x', 'gamma', 'beta'], layerNormForwardCode(width)), [x, gamma, beta]) as tf.Tensor2D;
}

/** LayerNorm ∂L/∂x `[rows, width]` from x and dy (one dispatch); a kernel, off the tape. */
export function layerNormBackwardKernel(x: tf.Tensor2D, gamma: tf.Tensor1D, dy: tf.Tensor2D): tf.Tensor2D {
  const [rows, width] = x.shape;
  if (gamma.size !== width || dy.shape[0] !== rows || dy.shape[1] !== width) throw new ClipKernelError('layerNorm backward: shapes do not match');
  return run(rowProgram(`clipLayerNormBwd_${width}`, rows, width, ['x', 'gamma', 'dy'], layerNormBackwardCode(width)), [x, gamma, dy]) as tf.Tensor2D;
}

/**
 * LayerNorm over the last dimension of x (any rank, float32) with frozen γ, β: one dispatch forward,
 * one backward (to x only). The tape keeps x.
 */
export function layerNormFused(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D): tf.Tensor {
  const shape = x.shape;
  const width = shape[shape.length - 1];
  const rows = x.size / width;
  const op = tf.customGrad((xi, save) => {
    (save as tf.GradSaveFunc)([xi as tf.Tensor]);
    return {
      value: tf.tidy(() => tf.reshape(layerNormForwardKernel(tf.reshape(xi as tf.Tensor, [rows, width]) as tf.Tensor2D, gamma, beta), shape)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => tf.reshape(layerNormBackwardKernel(tf.reshape(saved[0], [rows, width]) as tf.Tensor2D, gamma, tf.reshape(dy, [rows, width]) as tf.Tensor2D), shape)),
    };
  });
  return op(x) as tf.Tensor;
}

function elementProgram(key: string, shape: number[], variableNames: string[], body: string): WebGPUProgramLike {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    outputShape: shape,
    shaderKey: key,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames,
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index >= uniforms.size) {
          return;
        }
        let v = x[index];
        // σ as tfjs-webgpu's sigmoid writes it, of the same f32 product.
        let s = 1.0 / (1.0 + exp(-1.0 * (v * ${QUICK_GELU_SCALE})));
        ${body}
      }
    `,
  };
}

/** QuickGELU forward (one dispatch), x's shape; a kernel, off the tape. */
export function quickGeluForwardKernel(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.reshape(run(elementProgram('clipQuickGeluFwd', [x.size], ['x'], 'setOutputAtIndex(index, v * s);'), [tf.reshape(x, [x.size])]), x.shape));
}

/** QuickGELU ∂L/∂x from x and dy (one dispatch); a kernel, off the tape. */
export function quickGeluBackwardKernel(x: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  if (dy.size !== x.size) throw new ClipKernelError('quickGelu backward: shapes do not match');
  const code = `setOutputAtIndex(index, dy[index] * (s + ${QUICK_GELU_SCALE} * v * s * (1.0 - s)));`;
  return tf.tidy(() => tf.reshape(run(elementProgram('clipQuickGeluBwd', [x.size], ['x', 'dy'], code), [tf.reshape(x, [x.size]), tf.reshape(dy, [dy.size])]), x.shape));
}

/** QuickGELU x·σ(1.702x) (float32, any shape): one dispatch forward, one backward. The tape keeps x. */
export function quickGeluFused(x: tf.Tensor): tf.Tensor {
  const op = tf.customGrad((xi, save) => {
    (save as tf.GradSaveFunc)([xi as tf.Tensor]);
    return {
      value: quickGeluForwardKernel(xi as tf.Tensor),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => quickGeluBackwardKernel(saved[0], dy),
    };
  });
  return op(x) as tf.Tensor;
}

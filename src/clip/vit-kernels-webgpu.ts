/**
 * CLIP's LayerNorm, QuickGELU and attention core as fused WGSL kernels for tfjs's webgpu backend (the pattern of
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
 *  - `attentionFused` (1 dispatch forward, 2 backward): the attention core from the packed qkv
 *    `[N, L, 3·width]` to the merged heads `[N, L, width]`. Forward: one invocation per (sample, head,
 *    query) takes the max of the L scores, then Σ exp(s − max) and Σ exp(s − max)·v_j in a second pass
 *    (scores recomputed), divided at the end. Backward: one invocation per (sample, head, query) writes
 *    dq and the row's stats (max, 1/Σ, D = Σ_j P·dP); one per (sample, head, key) writes the packed
 *    d(qkv) row: dq copied, dk and dv summed over the L queries with P recomputed. All sums are
 *    sequential float32 over ≤ L (or dh) terms. The mask is a closure constant, as the weights.
 *
 * The row width is baked into the layer-norm shaders as a constant (a shader per width); the attention
 * shaders bake in N, L, width and heads (a shader per shape and mask presence).
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { runFloatProgram, type WebGPUProgramLike } from '../eg3d/triplane-webgpu.ts';
import { LAYER_NORM_EPS, QUICK_GELU_SCALE } from './vit-kernels.ts';

export class ClipKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

function run(program: WebGPUProgramLike, inputs: tf.Tensor[]): tf.Tensor {
  return runFloatProgram(program, inputs, undefined, (active) => new ClipKernelError(`the fused CLIP kernels need the webgpu backend (active: ${active})`));
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

/** Largest head size the attention kernels take (their per-invocation arrays of dh values). */
export const ATTENTION_MAX_HEAD_DIM = 128;

interface AttentionDims {
  n: number;
  l: number;
  width: number;
  heads: number;
  dh: number;
}

function attentionDims(qkv: tf.Tensor, heads: number, mask?: tf.Tensor): AttentionDims {
  if (qkv.rank !== 3) throw new ClipKernelError(`attention: qkv must be [N, L, 3·width] (got [${qkv.shape}])`);
  const [n, l, w3] = qkv.shape;
  const width = w3 / 3;
  const dh = width / heads;
  if (!Number.isInteger(width) || !Number.isInteger(dh) || dh < 1) throw new ClipKernelError(`attention: ${w3} qkv columns do not split into 3 × ${heads} heads`);
  if (dh > ATTENTION_MAX_HEAD_DIM) throw new ClipKernelError(`attention: head size ${dh} > ${ATTENTION_MAX_HEAD_DIM}`);
  if (mask && (mask.rank !== 2 || mask.shape[0] !== l || mask.shape[1] !== l)) throw new ClipKernelError(`attention: mask [${mask.shape}] for ${l} tokens`);
  return { n, l, width, heads, dh };
}

function attentionKey(name: string, d: AttentionDims, mask?: tf.Tensor): string {
  return `${name}_${d.n}_${d.l}_${d.width}_${d.heads}_${mask ? 'm' : 'n'}`;
}

/**
 * One invocation per (sample, head, query) = index; the launch of `total` invocations. The guard reads
 * `uniforms.outShape` (a shader that reads no uniform loses the uniforms binding from its layout).
 */
function invocationProgram(key: string, outputShape: number[], total: number, variableNames: string[], code: string): WebGPUProgramLike {
  return {
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(total / WORKGROUP), 1, 1],
    variableNames,
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: false,
    getUserCode: () => code,
  };
}

/**
 * The WGSL shared by the attention kernels: sizes as constants, the decomposition of the invocation
 * index into (sample, head, query) and `akScore(qBase, kBase, i, j)` = (q_i/√dh)·k_j + mask_ij, the
 * product summed in the order of tfjs' matMul of the pre-scaled q.
 */
function attentionCode(d: AttentionDims, masked: boolean): string {
  const scale = (1 / Math.sqrt(d.dh)).toExponential(12);
  return `
    const AL : i32 = ${d.l};
    const AH : i32 = ${d.heads};
    const ADH : i32 = ${d.dh};
    const AW : i32 = ${d.width};
    const AW3 : i32 = ${3 * d.width};
    const ASCALE : f32 = f32(${scale});

    fn akScore(qBase : i32, kBase : i32, i : i32, j : i32) -> f32 {
      var s = 0.0;
      for (var c = 0; c < ADH; c++) {
        s = s + (qkv[qBase + c] * ASCALE) * qkv[kBase + c];
      }
      return s${masked ? ' + mask[i * AL + j]' : ''};
    }

    // qkv offsets of the (sample nb, head h) slice: q, k or v (part 0, 1, 2) of token t.
    fn akBase(nb : i32, h : i32, t : i32, part : i32) -> i32 {
      return (nb * AL + t) * AW3 + part * AW + h * ADH;
    }
  `;
}

function attentionForwardCode(d: AttentionDims, masked: boolean): string {
  return `${attentionCode(d, masked)}
    fn main(index : i32) {
      if (index >= uniforms.outShape.x * AL * AH) {
        return;
      }
      let i = index % AL;
      let h = (index / AL) % AH;
      let nb = index / (AL * AH);
      let qBase = akBase(nb, h, i, 0);
      var m = -3.402823e38;
      for (var j = 0; j < AL; j++) {
        m = max(m, akScore(qBase, akBase(nb, h, j, 1), i, j));
      }
      var acc : array<f32, ADH>;
      var sum = 0.0;
      for (var j = 0; j < AL; j++) {
        let p = exp(akScore(qBase, akBase(nb, h, j, 1), i, j) - m);
        sum = sum + p;
        let vBase = akBase(nb, h, j, 2);
        for (var c = 0; c < ADH; c++) {
          acc[c] = acc[c] + p * qkv[vBase + c];
        }
      }
      let outBase = (nb * AL + i) * AW + h * ADH;
      for (var c = 0; c < ADH; c++) {
        setOutputAtIndex(outBase + c, acc[c] / sum);
      }
    }
  `;
}

/**
 * Backward, kernel 1 of 2, one invocation per (sample, head, query i), output `[N·heads·L, dh + 3]`:
 * dq_i (dh values, 1/√dh applied), then the row's max m, 1/Σ exp(s − m) and D_i = Σ_j P_ij dP_ij.
 */
function attentionBackwardRowsCode(d: AttentionDims, masked: boolean): string {
  return `${attentionCode(d, masked)}
    fn main(index : i32) {
      if (index >= uniforms.outShape.x) {
        return;
      }
      let i = index % AL;
      let h = (index / AL) % AH;
      let nb = index / (AL * AH);
      let qBase = akBase(nb, h, i, 0);
      let dyBase = (nb * AL + i) * AW + h * ADH;
      var m = -3.402823e38;
      for (var j = 0; j < AL; j++) {
        m = max(m, akScore(qBase, akBase(nb, h, j, 1), i, j));
      }
      var sum = 0.0;
      var dsum = 0.0;
      for (var j = 0; j < AL; j++) {
        let p = exp(akScore(qBase, akBase(nb, h, j, 1), i, j) - m);
        let vBase = akBase(nb, h, j, 2);
        var dp = 0.0;
        for (var c = 0; c < ADH; c++) {
          dp = dp + dy[dyBase + c] * qkv[vBase + c];
        }
        sum = sum + p;
        dsum = dsum + p * dp;
      }
      let inv = 1.0 / sum;
      let dd = dsum * inv;
      var dq : array<f32, ADH>;
      for (var j = 0; j < AL; j++) {
        let kBase = akBase(nb, h, j, 1);
        let p = exp(akScore(qBase, kBase, i, j) - m) * inv;
        let vBase = akBase(nb, h, j, 2);
        var dp = 0.0;
        for (var c = 0; c < ADH; c++) {
          dp = dp + dy[dyBase + c] * qkv[vBase + c];
        }
        let ds = p * (dp - dd);
        for (var c = 0; c < ADH; c++) {
          dq[c] = dq[c] + ds * qkv[kBase + c];
        }
      }
      let o = index * (ADH + 3);
      for (var c = 0; c < ADH; c++) {
        setOutputAtIndex(o + c, dq[c] * ASCALE);
      }
      setOutputAtIndex(o + ADH, m);
      setOutputAtIndex(o + ADH + 1, inv);
      setOutputAtIndex(o + ADH + 2, dd);
    }
  `;
}

/**
 * Backward, kernel 2 of 2, one invocation per (sample, head, key j), output the packed d(qkv)
 * `[N, L, 3·width]`: the q part of token j copied from kernel 1, dk_j = Σ_i dS_ij (q_i/√dh) and
 * dv_j = Σ_i P_ij dy_i over the L queries with P recomputed from kernel 1's row stats.
 */
function attentionBackwardKeysCode(d: AttentionDims, masked: boolean): string {
  return `${attentionCode(d, masked)}
    fn main(index : i32) {
      if (index >= uniforms.outShape.x * AL * AH) {
        return;
      }
      let j = index % AL;
      let h = (index / AL) % AH;
      let nb = index / (AL * AH);
      let kBase = akBase(nb, h, j, 1);
      let vBase = akBase(nb, h, j, 2);
      var dk : array<f32, ADH>;
      var dv : array<f32, ADH>;
      for (var i = 0; i < AL; i++) {
        let qBase = akBase(nb, h, i, 0);
        let dyBase = (nb * AL + i) * AW + h * ADH;
        let r = ((nb * AH + h) * AL + i) * (ADH + 3);
        let p = exp(akScore(qBase, kBase, i, j) - st[r + ADH]) * st[r + ADH + 1];
        var dp = 0.0;
        for (var c = 0; c < ADH; c++) {
          dp = dp + dy[dyBase + c] * qkv[vBase + c];
        }
        let ds = p * (dp - st[r + ADH + 2]);
        for (var c = 0; c < ADH; c++) {
          dk[c] = dk[c] + ds * (qkv[qBase + c] * ASCALE);
          dv[c] = dv[c] + p * dy[dyBase + c];
        }
      }
      let rj = index * (ADH + 3);
      let o = akBase(nb, h, j, 0);
      for (var c = 0; c < ADH; c++) {
        setOutputAtIndex(o + c, st[rj + c]);
        setOutputAtIndex(o + AW + c, dk[c]);
        setOutputAtIndex(o + 2 * AW + c, dv[c]);
      }
    }
  `;
}

/** Attention core forward: qkv `[N, L, 3·width]` → `[N, L, width]` (one dispatch); a kernel, off the tape. */
export function attentionForwardKernel(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const d = attentionDims(qkv, heads, mask);
  const program = invocationProgram(attentionKey('clipAttnFwd', d, mask), [d.n, d.l, d.width], d.n * d.heads * d.l, mask ? ['qkv', 'mask'] : ['qkv'], attentionForwardCode(d, !!mask));
  return run(program, mask ? [qkv, mask] : [qkv]) as tf.Tensor3D;
}

/** Attention core ∂L/∂qkv `[N, L, 3·width]` from qkv and ∂L/∂out `[N, L, width]` (two dispatches); kernels, off the tape. */
export function attentionBackwardKernel(qkv: tf.Tensor3D, dy: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const d = attentionDims(qkv, heads, mask);
  if (dy.rank !== 3 || dy.shape[0] !== d.n || dy.shape[1] !== d.l || dy.shape[2] !== d.width) throw new ClipKernelError('attention backward: shapes do not match');
  const total = d.n * d.heads * d.l;
  const extra = mask ? [mask] : [];
  const extraNames = mask ? ['mask'] : [];
  return tf.tidy(() => {
    const st = run(invocationProgram(attentionKey('clipAttnBwdRows', d, mask), [total, d.dh + 3], total, ['qkv', 'dy', ...extraNames], attentionBackwardRowsCode(d, !!mask)), [qkv, dy, ...extra]);
    return run(invocationProgram(attentionKey('clipAttnBwdKeys', d, mask), [d.n, d.l, 3 * d.width], total, ['qkv', 'dy', 'st', ...extraNames], attentionBackwardKeysCode(d, !!mask)), [qkv, dy, st, ...extra]) as tf.Tensor3D;
  });
}

/**
 * The attention core (float32) on the packed qkv `[N, L, 3·width]` → merged heads `[N, L, width]`,
 * `mask` an additive `[L, L]` constant: one dispatch forward, two backward (to qkv). The tape keeps qkv.
 */
export function attentionFused(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const op = tf.customGrad((qi, save) => {
    (save as tf.GradSaveFunc)([qi as tf.Tensor]);
    return {
      value: attentionForwardKernel(qi as tf.Tensor3D, heads, mask),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => attentionBackwardKernel(saved[0] as tf.Tensor3D, dy as tf.Tensor3D, heads, mask),
    };
  });
  return op(qkv) as tf.Tensor3D;
}

/**
 * The transformer pieces shared by CLIP's image and text towers, written exactly as OpenAI's
 * `clip/model.py`: LayerNorm (eps 1e-5, biased variance), `nn.MultiheadAttention` with a packed
 * in-projection (q|k|v), QuickGELU MLP, pre-norm residual blocks. Weights are in tfjs layout
 * (FC `[in, out]`). Every function here is meant to run inside a `tf.tidy` owned by the caller.
 */
import * as tf from '@tensorflow/tfjs';
import { isWebGPUBackend } from '../eg3d/triplane-webgpu.ts';
import { ATTENTION_MAX_HEAD_DIM, attentionFused, layerNormFused, quickGeluFused } from './vit-kernels-webgpu.ts';

export interface LayerNormWeights {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
}

export interface ResidualBlockWeights {
  ln1: LayerNormWeights;
  /** `[width, 3·width]`: columns are q | k | v (PyTorch `in_proj_weight` transposed). */
  inProjW: tf.Tensor2D;
  inProjB: tf.Tensor1D;
  outProjW: tf.Tensor2D;
  outProjB: tf.Tensor1D;
  ln2: LayerNormWeights;
  fcW: tf.Tensor2D;
  fcB: tf.Tensor1D;
  projW: tf.Tensor2D;
  projB: tf.Tensor1D;
}

const LN_EPS = 1e-5;

/**
 * How `layerNorm`, `quickGelu`, `linear` and the attention core run: 'fused' = the WGSL kernels of
 * vit-kernels-webgpu.ts (webgpu only; LayerNorm and QuickGELU one dispatch forward, one backward each, no
 * gradient to γ/β; attention one forward, two backward) and, for `linear`, tfjs' fused matMul with the
 * bias inside a customGrad (one dispatch forward, one backward: dx = dy·Wᵀ); 'generic' = the tf ops below
 * (the oracle, and the path on cpu/wasm), 'auto' = fused on webgpu, generic elsewhere.
 */
export type ClipLayerImpl = 'auto' | 'fused' | 'generic';

/** The module-wide default of the `impl` argument of `layerNorm` / `quickGelu` / `linear` / `attentionCore` (tests force 'generic' to compare). */
export const clipLayerOptions: { impl: ClipLayerImpl } = { impl: 'auto' };

function useFused(impl: ClipLayerImpl, x: tf.Tensor): boolean {
  if (impl === 'generic') return false;
  if (impl === 'fused') return true;
  return isWebGPUBackend() && x.dtype === 'float32' && x.size > 0;
}

/** CLIP's LayerNorm over the last dimension (eps 1e-5, biased variance). */
export function layerNorm(x: tf.Tensor, w: LayerNormWeights, impl: ClipLayerImpl = clipLayerOptions.impl): tf.Tensor {
  if (useFused(impl, x)) return layerNormFused(x, w.gamma, w.beta);
  const { mean, variance } = tf.moments(x, -1, true);
  const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS)));
  return tf.add(tf.mul(xhat, w.gamma), w.beta);
}

/**
 * x2d `[M, in]` · W `[in, out]` with the input gradient computed as (W · dyᵀ)ᵀ. tfjs-wasm runs a
 * matmul with a transposed operand (the default gradient dy · Wᵀ) on a naive path about 10× slower
 * than XNNPACK; this form keeps both products on the fast path (other backends use the plain matmul).
 * The weights are frozen constants: no gradient flows to them.
 */
export function frozenMatMul(x2d: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D {
  if (tf.getBackend() !== 'wasm') return tf.matMul(x2d, w);
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.matMul(args[0] as tf.Tensor2D, w) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D) => tf.transpose(tf.matMul(w, tf.transpose(dy))) as tf.Tensor2D,
  }));
  return op(x2d) as tf.Tensor2D;
}

/**
 * x2d `[M, in]` · W `[in, out]` + b with frozen W and b as one op: tfjs' fused matMul (bias added in the
 * product's kernel: one dispatch on webgpu) inside a customGrad whose only input is x, the gradient
 * dx = dy·Wᵀ one matmul.
 */
export function frozenLinearFused(x2d: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.fused.matMul({ a: args[0] as tf.Tensor2D, b: w, bias: b }) as tf.Tensor2D,
    gradFunc: (dy: tf.Tensor2D) => tf.matMul(dy, w, false, true) as tf.Tensor2D,
  }));
  return op(x2d) as tf.Tensor2D;
}

/** x `[..., in]` · W `[in, out]` + b (W, b frozen), flattening the leading dimensions into one matmul. */
export function linear(x: tf.Tensor, w: tf.Tensor2D, b?: tf.Tensor1D, impl: ClipLayerImpl = clipLayerOptions.impl): tf.Tensor {
  const lead = x.shape.slice(0, -1);
  const inDim = x.shape[x.shape.length - 1];
  const x2d = tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  let y: tf.Tensor;
  if (useFused(impl, x)) {
    y = frozenLinearFused(x2d, w, b);
  } else {
    y = frozenMatMul(x2d, w);
    if (b) y = tf.add(y, b);
  }
  return tf.reshape(y, [...lead, w.shape[1]]);
}

/** QuickGELU x·σ(1.702x). */
export function quickGelu(x: tf.Tensor, impl: ClipLayerImpl = clipLayerOptions.impl): tf.Tensor {
  if (useFused(impl, x)) return quickGeluFused(x);
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/**
 * Multi-head self-attention on x `[N, L, width]`; `mask` (optional) is an additive `[L, L]` mask
 * (the text tower's causal mask).
 */
export function multiHeadAttention(x: tf.Tensor3D, w: ResidualBlockWeights, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const qkv = linear(x, w.inProjW, w.inProjB) as tf.Tensor3D; // [N, L, 3w]
  return linear(attentionCore(qkv, heads, mask), w.outProjW, w.outProjB) as tf.Tensor3D;
}

/**
 * The attention core on the packed in-projection output qkv `[N, L, 3·width]` (columns q | k | v):
 * per head, softmax((q/√dh)·kᵀ + mask)·v, merged back to `[N, L, width]` (before the out-projection).
 * 'fused' (webgpu): the WGSL kernels (one dispatch forward, two backward); 'auto' takes them on webgpu
 * for heads of at most 128 values.
 */
export function attentionCore(qkv: tf.Tensor3D, heads: number, mask?: tf.Tensor2D, impl: ClipLayerImpl = clipLayerOptions.impl): tf.Tensor3D {
  const [n, l, w3] = qkv.shape;
  const width = w3 / 3;
  const dh = width / heads;
  if (impl === 'fused' || (impl === 'auto' && useFused(impl, qkv) && Number.isInteger(dh) && dh <= ATTENTION_MAX_HEAD_DIM)) return attentionFused(qkv, heads, mask);
  const split = (i: number) =>
    tf.transpose(tf.reshape(tf.slice(qkv, [0, 0, i * width], [n, l, width]), [n, l, heads, dh]), [0, 2, 1, 3]);
  // PyTorch scales q by 1/sqrt(head_dim) before the product.
  const q = tf.mul(split(0), 1 / Math.sqrt(dh));
  const k = split(1);
  const v = split(2);
  let scores: tf.Tensor = tf.matMul(q, k, false, true); // [N, h, L, L]
  if (mask) scores = tf.add(scores, mask);
  const attn = tf.softmax(scores, -1);
  return tf.reshape(tf.transpose(tf.matMul(attn, v), [0, 2, 1, 3]), [n, l, width]) as tf.Tensor3D;
}

/** x + attn(ln_1(x)); then x + mlp(ln_2(x)). */
export function residualBlock(x: tf.Tensor3D, w: ResidualBlockWeights, heads: number, mask?: tf.Tensor2D): tf.Tensor3D {
  const h = tf.add(x, multiHeadAttention(layerNorm(x, w.ln1) as tf.Tensor3D, w, heads, mask)) as tf.Tensor3D;
  const m = linear(quickGelu(linear(layerNorm(h, w.ln2), w.fcW, w.fcB)), w.projW, w.projB);
  return tf.add(h, m) as tf.Tensor3D;
}

export function disposeBlock(w: ResidualBlockWeights): void {
  for (const t of [w.ln1.gamma, w.ln1.beta, w.inProjW, w.inProjB, w.outProjW, w.outProjB, w.ln2.gamma, w.ln2.beta, w.fcW, w.fcB, w.projW, w.projB]) {
    t.dispose();
  }
}

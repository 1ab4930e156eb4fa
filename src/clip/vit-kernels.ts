/**
 * Plain-TS twins (float64) of the fused CLIP kernels in vit-kernels-webgpu.ts: same inputs, outputs
 * and formulas, row-major `[rows, width]` data. They are tested against the generic tf-op path of
 * layers.ts on the cpu/wasm backends (vit-kernels.test.ts), and the WGSL kernels against them.
 *
 *  - LayerNorm over the last dimension, exactly CLIP's: eps 1e−5, biased variance (mean of (x − μ)²).
 *    Backward to x only (γ and β are frozen constants): with x̂ = (x − μ)·rstd and g = dy·γ,
 *    dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)).
 *  - QuickGELU y = x·σ(1.702x); dy/dx = σ + 1.702·x·σ·(1 − σ).
 *  - The frozen linear layer y = x·W + b and dx = dy·Wᵀ (the webgpu path is tfjs' fused matMul).
 *  - The attention core (scores, softmax, weighted sum of v) on the packed qkv, forward and ∂/∂qkv.
 */

export const LAYER_NORM_EPS = 1e-5;
export const QUICK_GELU_SCALE = 1.702;

function rowStats(x: ArrayLike<number>, base: number, width: number): { mean: number; rstd: number } {
  let s = 0;
  for (let c = 0; c < width; c++) s += x[base + c];
  const mean = s / width;
  let q = 0;
  for (let c = 0; c < width; c++) {
    const d = x[base + c] - mean;
    q += d * d;
  }
  return { mean, rstd: 1 / Math.sqrt(q / width + LAYER_NORM_EPS) };
}

/** LayerNorm of `rows` rows of `width` values: (x − μ)·rstd·γ + β. */
export function layerNormForward(x: ArrayLike<number>, rows: number, width: number, gamma: ArrayLike<number>, beta: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const { mean, rstd } = rowStats(x, base, width);
    for (let c = 0; c < width; c++) out[base + c] = (x[base + c] - mean) * rstd * gamma[c] + beta[c];
  }
  return out;
}

/** ∂L/∂x of LayerNorm given ∂L/∂y `dy` (γ constant; β does not enter). */
export function layerNormBackward(x: ArrayLike<number>, rows: number, width: number, gamma: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const base = r * width;
    const { mean, rstd } = rowStats(x, base, width);
    let sg = 0;
    let sgx = 0;
    for (let c = 0; c < width; c++) {
      const g = dy[base + c] * gamma[c];
      sg += g;
      sgx += g * (x[base + c] - mean) * rstd;
    }
    const mg = sg / width;
    const mgx = sgx / width;
    for (let c = 0; c < width; c++) {
      const xhat = (x[base + c] - mean) * rstd;
      out[base + c] = rstd * (dy[base + c] * gamma[c] - mg - xhat * mgx);
    }
  }
  return out;
}

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** QuickGELU x·σ(1.702x), elementwise. */
export function quickGeluForward(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v * sigmoid(QUICK_GELU_SCALE * v));
}

/** ∂L/∂x of QuickGELU given ∂L/∂y `dy`. */
export function quickGeluBackward(x: ArrayLike<number>, dy: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const s = sigmoid(QUICK_GELU_SCALE * x[i]);
    out[i] = dy[i] * (s + QUICK_GELU_SCALE * x[i] * s * (1 - s));
  }
  return out;
}

/**
 * Frozen linear layer on row-major x `[rows, inDim]`, W `[inDim, outDim]`, b `[outDim]` (optional):
 * y = x·W + b; its input gradient dx = dy·Wᵀ (W and b are frozen: no gradient to them).
 */
export function linearForward(x: ArrayLike<number>, rows: number, inDim: number, w: ArrayLike<number>, outDim: number, b?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inDim; i++) s += x[r * inDim + i] * w[i * outDim + o];
      out[r * outDim + o] = s;
    }
  }
  return out;
}

/** ∂L/∂x `[rows, inDim]` of `linearForward` given ∂L/∂y `[rows, outDim]`. */
export function linearBackward(dy: ArrayLike<number>, rows: number, inDim: number, w: ArrayLike<number>, outDim: number): Float64Array {
  const out = new Float64Array(rows * inDim);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inDim; i++) {
      let s = 0;
      for (let o = 0; o < outDim; o++) s += dy[r * outDim + o] * w[i * outDim + o];
      out[r * inDim + i] = s;
    }
  }
  return out;
}

/** Sizes of the attention core: n samples of l tokens, width = heads · dh. */
export interface AttentionShape {
  n: number;
  l: number;
  width: number;
  heads: number;
}

/*
 * The attention core of CLIP's `nn.MultiheadAttention` on the packed in-projection output
 * qkv `[n, l, 3·width]` (columns q | k | v; head h uses columns h·dh … h·dh + dh − 1 of each part,
 * dh = width / heads): per (sample, head, query i), s_ij = (q_i/√dh)·k_j + mask_ij, P_i = softmax(s_i)
 * (max subtracted), out_i = Σ_j P_ij v_j, written to the merged-heads `[n, l, width]` (before the
 * out-projection). `mask` (optional) is the additive `[l, l]` mask.
 */

function attentionRow(qkv: ArrayLike<number>, s: AttentionShape, nb: number, h: number, i: number, mask?: ArrayLike<number>) {
  const { l, width, heads } = s;
  const dh = width / heads;
  const w3 = 3 * width;
  const scale = 1 / Math.sqrt(dh);
  const qs = new Float64Array(dh);
  for (let d = 0; d < dh; d++) qs[d] = qkv[(nb * l + i) * w3 + h * dh + d] * scale;
  const p = new Float64Array(l);
  let m = -Infinity;
  for (let j = 0; j < l; j++) {
    const kb = (nb * l + j) * w3 + width + h * dh;
    let dot = 0;
    for (let d = 0; d < dh; d++) dot += qs[d] * qkv[kb + d];
    p[j] = dot + (mask ? mask[i * l + j] : 0);
    m = Math.max(m, p[j]);
  }
  let sum = 0;
  for (let j = 0; j < l; j++) {
    p[j] = Math.exp(p[j] - m);
    sum += p[j];
  }
  for (let j = 0; j < l; j++) p[j] /= sum;
  return { qs, p, dh, w3, scale };
}

/** Attention forward: qkv `[n, l, 3·width]` → `[n, l, width]`. */
export function attentionForward(qkv: ArrayLike<number>, s: AttentionShape, mask?: ArrayLike<number>): Float64Array {
  const { n, l, width, heads } = s;
  const out = new Float64Array(n * l * width);
  for (let nb = 0; nb < n; nb++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < l; i++) {
        const { p, dh, w3 } = attentionRow(qkv, s, nb, h, i, mask);
        for (let d = 0; d < dh; d++) {
          let acc = 0;
          for (let j = 0; j < l; j++) acc += p[j] * qkv[(nb * l + j) * w3 + 2 * width + h * dh + d];
          out[(nb * l + i) * width + h * dh + d] = acc;
        }
      }
    }
  }
  return out;
}

/**
 * ∂L/∂qkv `[n, l, 3·width]` of `attentionForward` given ∂L/∂out `dy` `[n, l, width]` (the mask is a
 * constant): with dP_ij = dy_i·v_j and D_i = Σ_j P_ij·dP_ij, dS_ij = P_ij·(dP_ij − D_i);
 * dq_i = (Σ_j dS_ij k_j)/√dh, dk_j = Σ_i dS_ij (q_i/√dh), dv_j = Σ_i P_ij dy_i.
 */
export function attentionBackward(qkv: ArrayLike<number>, s: AttentionShape, dy: ArrayLike<number>, mask?: ArrayLike<number>): Float64Array {
  const { n, l, width, heads } = s;
  const out = new Float64Array(n * l * 3 * width);
  for (let nb = 0; nb < n; nb++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < l; i++) {
        const { qs, p, dh, w3, scale } = attentionRow(qkv, s, nb, h, i, mask);
        const dyb = (nb * l + i) * width + h * dh;
        const dp = new Float64Array(l);
        let dsum = 0;
        for (let j = 0; j < l; j++) {
          const vb = (nb * l + j) * w3 + 2 * width + h * dh;
          let dot = 0;
          for (let d = 0; d < dh; d++) dot += dy[dyb + d] * qkv[vb + d];
          dp[j] = dot;
          dsum += p[j] * dot;
        }
        for (let j = 0; j < l; j++) {
          const ds = p[j] * (dp[j] - dsum);
          const kb = (nb * l + j) * w3 + width + h * dh;
          for (let d = 0; d < dh; d++) {
            out[(nb * l + i) * w3 + h * dh + d] += ds * qkv[kb + d] * scale;
            out[kb + d] += ds * qs[d];
            out[kb + width + d] += p[j] * dy[dyb + d];
          }
        }
      }
    }
  }
  return out;
}

/**
 * Plain-TS twins (float64) of the fused CLIP kernels in vit-kernels-webgpu.ts: same inputs, outputs
 * and formulas, row-major `[rows, width]` data. They are tested against the generic tf-op path of
 * layers.ts on the cpu/wasm backends (vit-kernels.test.ts), and the WGSL kernels against them.
 *
 *  - LayerNorm over the last dimension, exactly CLIP's: eps 1e−5, biased variance (mean of (x − μ)²).
 *    Backward to x only (γ and β are frozen constants): with x̂ = (x − μ)·rstd and g = dy·γ,
 *    dx = rstd · (g − mean(g) − x̂ · mean(g·x̂)).
 *  - QuickGELU y = x·σ(1.702x); dy/dx = σ + 1.702·x·σ·(1 − σ).
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

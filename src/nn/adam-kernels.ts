/**
 * The plain-TS twin (float64) of one fused Adam update (adam-kernels-webgpu.ts): the same inputs and
 * formulas as NamedAdam's generic tf-op path (adam.ts), element by element. It is tested against that
 * path on the cpu/wasm backends (adam-kernels.test.ts), and the WGSL kernels against it
 * (adam-kernels-webgpu.test.ts).
 *
 *   m' = m·β1 + g·(1 − β1)
 *   v' = v·β2 + g²·(1 − β2)
 *   p' = p − ((m'/c1) / (√(v'/c2) + ε)) · lr        c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ, lr = learning rate · lrScale · paramScale
 */

/** The scalars of one Adam update at step t (1-based), as NamedAdam derives them in float64. */
export interface AdamStepScalars {
  beta1: number;
  beta2: number;
  oneMinusBeta1: number;
  oneMinusBeta2: number;
  /** Bias corrections 1 − β1ᵗ, 1 − β2ᵗ. */
  c1: number;
  c2: number;
  epsilon: number;
  /** learning rate × lrScale × the parameter's scale. */
  lr: number;
}

/** The scalars at step `t` (1-based) for a parameter with `lrScale` and `paramScale`, in NamedAdam's float64 order. */
export function adamStepScalars(config: { learningRate: number; beta1: number; beta2: number; epsilon: number }, t: number, lrScale = 1, paramScale = 1): AdamStepScalars {
  const { beta1, beta2, epsilon } = config;
  return {
    beta1,
    beta2,
    oneMinusBeta1: 1 - beta1,
    oneMinusBeta2: 1 - beta2,
    c1: 1 - Math.pow(beta1, t),
    c2: 1 - Math.pow(beta2, t),
    epsilon,
    lr: config.learningRate * lrScale * paramScale,
  };
}

/** One Adam update of a parameter tensor's values (float64): new m, v and p. */
export function adamUpdate(
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  p: ArrayLike<number>,
  s: AdamStepScalars,
): { m: Float64Array; v: Float64Array; p: Float64Array } {
  const n = p.length;
  const mo = new Float64Array(n);
  const vo = new Float64Array(n);
  const po = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const mi = m[i] * s.beta1 + g[i] * s.oneMinusBeta1;
    const vi = v[i] * s.beta2 + g[i] * g[i] * s.oneMinusBeta2;
    mo[i] = mi;
    vo[i] = vi;
    po[i] = p[i] - (mi / s.c1 / (Math.sqrt(vi / s.c2) + s.epsilon)) * s.lr;
  }
  return { m: mo, v: vo, p: po };
}

/**
 * The renderer's per-ray work as fused WGSL kernels for tfjs's webgpu backend, one invocation per
 * ray; their plain-TS twins (same inputs, outputs and formulas) are ray-kernels.ts:
 *
 *  - `stratifiedDepthsKernel` (1 dispatch, one invocation per sample): jitter `[B, D]` → coarse depths.
 *  - `importancePlanKernel` (1 dispatch): coarse decoder outputs `[B, D, cols]` (σ = column 0) +
 *    coarse depths + draws u → fine depths `[B, Di]` (MipRayMarcher2 weights, EG3D's max-pool /
 *    avg-pool smoothing + 0.01, PDF over the inner weights + 1e−5, searchsorted-right inversion).
 *  - `compositeFused` (1 dispatch forward, 2 backward): the coarse and fine decoder outputs merged
 *    into depth order inside the kernel (a stable insertion sort of the ray's depths: `mergeOrder`'s
 *    order, coarse first on ties) and composited → `[B, C + 5]` (features, Σw, depth, valid, min and
 *    max sample depth; `fusedColumns`). One customGrad op: the tape keeps the two decoder outputs and
 *    the two depth tensors, nothing merged. The backward kernel runs once per input (coarse, fine) and
 *    writes each sample's gradient straight into its input's row (the merge's scatter folded in).
 *
 * Sample counts are baked into each shader as constants (private per-ray arrays need them), so a
 * shader is compiled per (D, Di, cols).
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import { runFloatProgram, type ProgramUniform, type WebGPUProgramLike } from './triplane-webgpu.ts';

export class RayKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

/** Columns of the fused compositing output after the C features: Σw, depth, valid, min depth, max depth. */
export const FUSED_EXTRA_COLUMNS = 5;

/** Column offsets of the fused compositing output for decoder outputs with `cols` columns (σ + C features). */
export function fusedColumns(cols: number): { features: number; total: number; depth: number; valid: number; minDepth: number; maxDepth: number; width: number } {
  const c = cols - 1;
  return { features: c, total: c, depth: c + 1, valid: c + 2, minDepth: c + 3, maxDepth: c + 4, width: c + FUSED_EXTRA_COLUMNS };
}

function rayProgram(key: string, outputShape: number[], rays: number, variableNames: string[], code: string): WebGPUProgramLike {
  return {
    outputShape,
    shaderKey: key,
    dispatchLayout: { x: outputShape.map((_, i) => i) },
    dispatch: [Math.ceil(rays / WORKGROUP), 1, 1],
    variableNames,
    uniforms: '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: false,
    getUserCode: () => code,
  };
}

function run(program: WebGPUProgramLike, inputs: tf.Tensor[], uniforms?: ProgramUniform): tf.Tensor {
  return runFloatProgram(program, inputs, uniforms, (active) => new RayKernelError(`the fused ray kernels need the webgpu backend (active: ${active})`));
}

/** Where the coarse samples lie: the settings' fixed range (in t or in disparity), or per-ray limits `[B, 1]` ('auto'). */
export type StratifiedRange =
  | { kind: 'fixed'; start: number; end: number; disparity: boolean }
  | { kind: 'per-ray'; start: tf.Tensor2D; end: tf.Tensor2D };

/**
 * Coarse depths `[B, D]` from jitter `[B, D]` (EG3D's `sample_stratified`, the same f32 operations as
 * `stratifiedDepths` in ray-sampler.ts), one invocation per sample; a constant (runs off the tape).
 */
export function stratifiedDepthsKernel(jitter: tf.Tensor2D, range: StratifiedRange): tf.Tensor2D {
  const [b, d] = jitter.shape;
  if (d < 2) throw new RayKernelError(`stratified sampling needs at least 2 samples (got ${d})`);
  const mode = range.kind === 'per-ray' ? 'perRay' : range.disparity ? 'disparity' : 'fixed';
  let uniforms: ProgramUniform = [];
  let inputs: tf.Tensor[] = [jitter];
  let body: string;
  if (range.kind === 'per-ray') {
    if (range.start.shape[0] !== b || range.end.shape[0] !== b) throw new RayKernelError('stratifiedDepthsKernel: per-ray limits must be [B, 1]');
    inputs = [jitter, range.start, range.end];
    body = `let s = rayStart[r];
        let e = rayEnd[r];
        let delta = (e - s) / ${d - 1}.0;
        t = (s + (step / ${d - 1}.0) * (e - s)) + j * delta;`;
  } else if (range.disparity) {
    uniforms = [{ type: 'float32', data: [1 / (d - 1)] }, { type: 'float32', data: [1 / range.start] }, { type: 'float32', data: [1 / range.end] }];
    body = `let lin = step / ${d - 1}.0 + j * uniforms.invSteps;
        t = 1.0 / (uniforms.invStart * (1.0 - lin) + uniforms.invEnd * lin);`;
  } else {
    uniforms = [{ type: 'float32', data: [(range.end - range.start) / (d - 1)] }, { type: 'float32', data: [range.start] }];
    body = `t = (step * uniforms.delta + uniforms.start) + j * uniforms.delta;`;
  }
  const program: WebGPUProgramLike = {
    outputShape: [b, d],
    shaderKey: `eg3dStratified_${mode}_${d}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil((b * d) / WORKGROUP), 1, 1],
    variableNames: range.kind === 'per-ray' ? ['jitter', 'rayStart', 'rayEnd'] : ['jitter'],
    uniforms: mode === 'fixed' ? 'delta : f32, start : f32,' : mode === 'disparity' ? 'invSteps : f32, invStart : f32, invEnd : f32,' : '',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index >= uniforms.size) {
          return;
        }
        let r = index / ${d};
        let step = f32(index - r * ${d});
        let j = jitter[index];
        var t = 0.0;
        ${body}
        setOutputAtIndex(index, t);
      }
    `,
  };
  return run(program, inputs, uniforms) as tf.Tensor2D;
}

/** softplus exactly as tfjs-webgpu's unary op writes it. */
const SOFTPLUS = `
  fn rkSoftplus(a : f32) -> f32 {
    let threshold = log(1.1920928955078125e-7) + 2.0;
    if (a > -threshold) {
      return a;
    } else if (a < threshold) {
      return exp(a);
    }
    return log(exp(a) + 1.0);
  }
`;

/** Fine depths `[B, Di]`; a constant (runs off the tape). */
export function importancePlanKernel(coarse: tf.Tensor3D, coarseDepths: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  const [b, d, cols] = coarse.shape;
  const di = u.shape[1];
  if (d < 4) throw new RayKernelError(`importance sampling needs at least 4 coarse samples (got ${d})`);
  if (coarseDepths.shape[0] !== b || coarseDepths.shape[1] !== d || u.shape[0] !== b) throw new RayKernelError('importancePlanKernel: shapes do not match');
  const w = d - 1;
  const nb = d - 3;
  const code = `
    const D : i32 = ${d};
    const DI : i32 = ${di};
    const COLS : i32 = ${cols};
    const W : i32 = ${w};
    const NB : i32 = ${nb};
    ${SOFTPLUS}
    fn main(index : i32) {
      let r = index;
      if (r >= uniforms.outShape.x) {
        return;
      }
      // MipRayMarcher2 weights of the coarse samples.
      var w : array<f32, ${w}>;
      var trans = 1.0;
      for (var j = 0; j < W; j++) {
        let delta = coarseT[r * D + j + 1] - coarseT[r * D + j];
        let arg = (coarse[(r * D + j) * COLS] + coarse[(r * D + j + 1) * COLS]) / 2.0 - 1.0;
        let alpha = 1.0 - exp(-(rkSoftplus(arg) * delta));
        w[j] = alpha * trans;
        trans = trans * (1.0 - alpha + 1e-10);
      }
      // Inner smoothed weights k = 1 … W − 2: max-pool (2, 1, pad 1) then avg-pool (2, 1), + 0.01, + 1e−5.
      var cdf : array<f32, ${nb + 1}>;
      var total = 0.0;
      for (var j = 0; j < NB; j++) {
        let k = j + 1;
        let pw = (max(w[k - 1], w[k]) + max(w[k], w[k + 1])) / 2.0 + 0.01 + 1e-5;
        cdf[j + 1] = pw;
        total = total + pw;
      }
      cdf[0] = 0.0;
      for (var j = 0; j < NB; j++) {
        cdf[j + 1] = cdf[j] + cdf[j + 1] / total;
      }
      for (var i = 0; i < DI; i++) {
        let uu = draws[r * DI + i];
        // searchsorted(right): the first index whose cdf exceeds u.
        var lo = 0;
        var hi = NB + 1;
        while (lo < hi) {
          let mid = (lo + hi) / 2;
          if (cdf[mid] <= uu) {
            lo = mid + 1;
          } else {
            hi = mid;
          }
        }
        let below = max(lo - 1, 0);
        let above = min(lo, NB);
        var denom = cdf[above] - cdf[below];
        if (denom < 1e-5) {
          denom = 1.0;
        }
        let binBelow = 0.5 * (coarseT[r * D + below] + coarseT[r * D + below + 1]);
        let binAbove = 0.5 * (coarseT[r * D + above] + coarseT[r * D + above + 1]);
        setOutputAtIndex(r * DI + i, binBelow + ((uu - cdf[below]) / denom) * (binAbove - binBelow));
      }
    }
  `;
  return run(rayProgram(`eg3dImportancePlan_${d}_${di}_${cols}`, [b, di], b, ['coarse', 'coarseT', 'draws'], code), [coarse, coarseDepths, u]) as tf.Tensor2D;
}

/**
 * The WGSL shared by the compositing kernels: per ray, the samples in depth order (`rkOrder`: index
 * into the ray's concatenation coarse 0…D−1, fine D…K−1; `rkT`: their depths) and the march terms.
 */
function marchCode(d: number, di: number, cols: number): string {
  const k = d + di;
  const fine = di > 0;
  const width = fusedColumns(cols).width;
  return `
    const D : i32 = ${d};
    const DI : i32 = ${di};
    const K : i32 = ${k};
    const COLS : i32 = ${cols};
    const F : i32 = ${width};
    const C : i32 = ${cols - 1};
    ${SOFTPLUS}
    var<private> rkOrder : array<i32, ${k}>;
    var<private> rkT : array<f32, ${k}>;
    var<private> rkDelta : array<f32, ${k - 1}>;
    var<private> rkArg : array<f32, ${k - 1}>;
    var<private> rkAlpha : array<f32, ${k - 1}>;
    var<private> rkTrans : array<f32, ${k - 1}>;
    var<private> rkW : array<f32, ${k - 1}>;
    var<private> rkMid : array<f32, ${k - 1}>;
    var<private> rkTotal : f32;
    var<private> rkValid : f32;
    var<private> rkSafeTotal : f32;
    var<private> rkDepth : f32;

    // Decoder output column c of sample j of ray r (j indexes the per-ray concatenation).
    fn rkValue(r : i32, j : i32, c : i32) -> f32 {
      ${fine ? `if (j >= D) {
        return fine[(r * DI + j - D) * COLS + c];
      }` : ''}
      return coarse[(r * D + j) * COLS + c];
    }

    fn rkSampleDepth(r : i32, j : i32) -> f32 {
      ${fine ? `if (j >= D) {
        return fineT[r * DI + j - D];
      }` : ''}
      return coarseT[r * D + j];
    }

    fn rkSort(r : i32) {
      for (var j = 0; j < K; j++) {
        let v = rkSampleDepth(r, j);
        var p = j;
        ${fine ? `// Stable insertion sort: the coarse run is usually ascending already.
        loop {
          if (p == 0) {
            break;
          }
          if (!(rkT[p - 1] > v)) {
            break;
          }
          rkT[p] = rkT[p - 1];
          rkOrder[p] = rkOrder[p - 1];
          p = p - 1;
        }` : '// One pass: the samples in their given order.'}
        rkT[p] = v;
        rkOrder[p] = j;
      }
    }

    fn rkMarch(r : i32) {
      var trans = 1.0;
      var total = 0.0;
      var depthSum = 0.0;
      for (var j = 0; j < K - 1; j++) {
        let t0 = rkT[j];
        let t1 = rkT[j + 1];
        rkDelta[j] = t1 - t0;
        rkArg[j] = (rkValue(r, rkOrder[j], 0) + rkValue(r, rkOrder[j + 1], 0)) / 2.0 - 1.0;
        rkAlpha[j] = 1.0 - exp(-(rkSoftplus(rkArg[j]) * rkDelta[j]));
        rkTrans[j] = trans;
        rkW[j] = rkAlpha[j] * trans;
        trans = trans * (1.0 - rkAlpha[j] + 1e-10);
        rkMid[j] = (t0 + t1) / 2.0;
        total = total + rkW[j];
        depthSum = depthSum + rkW[j] * rkMid[j];
      }
      rkTotal = total;
      rkValid = select(0.0, 1.0, total > 0.0);
      rkSafeTotal = total + (1.0 - rkValid);
      rkDepth = depthSum / rkSafeTotal;
    }

    // v_p = (w_{p−1} + w_p) / 2: the weight of sample p in the feature mix.
    fn rkMix(p : i32) -> f32 {
      var s = 0.0;
      if (p > 0) {
        s = s + rkW[p - 1];
      }
      if (p < K - 1) {
        s = s + rkW[p];
      }
      return s / 2.0;
    }
  `;
}

function forwardCode(d: number, di: number, cols: number): string {
  return `${marchCode(d, di, cols)}
    fn main(index : i32) {
      let r = index;
      if (r >= uniforms.outShape.x) {
        return;
      }
      rkSort(r);
      rkMarch(r);
      let o = r * F;
      for (var c = 1; c < COLS; c++) {
        var acc = 0.0;
        for (var p = 0; p < K; p++) {
          acc = acc + rkMix(p) * rkValue(r, rkOrder[p], c);
        }
        setOutputAtIndex(o + c - 1, acc);
      }
      var lo = rkT[0];
      var hi = rkT[0];
      for (var p = 1; p < K; p++) {
        lo = min(lo, rkT[p]);
        hi = max(hi, rkT[p]);
      }
      setOutputAtIndex(o + C, rkTotal);
      setOutputAtIndex(o + C + 1, rkDepth);
      setOutputAtIndex(o + C + 2, rkValid);
      setOutputAtIndex(o + C + 3, lo);
      setOutputAtIndex(o + C + 4, hi);
    }
  `;
}

/** `target` 'coarse': writes the gradient of the coarse outputs `[B, D, cols]`; 'fine': of the fine ones. */
function backwardCode(d: number, di: number, cols: number, target: 'coarse' | 'fine'): string {
  const k = d + di;
  const skip = target === 'coarse' ? 'j >= D' : 'j < D';
  const row = target === 'coarse' ? '(r * D + j) * COLS' : '(r * DI + j - D) * COLS';
  return `${marchCode(d, di, cols)}
    fn main(index : i32) {
      let r = index;
      if (r >= uniforms.outShape.x) {
        return;
      }
      rkSort(r);
      rkMarch(r);
      let o = r * F;
      let gTotal = dy[o + C];
      let gDepth = dy[o + C + 1];
      // ∂L/∂v_p through the feature mix.
      var dv : array<f32, ${k}>;
      for (var p = 0; p < K; p++) {
        var acc = 0.0;
        for (var c = 1; c < COLS; c++) {
          acc = acc + rkValue(r, rkOrder[p], c) * dy[o + c - 1];
        }
        dv[p] = acc;
      }
      let depthScale = (gDepth * rkValid) / rkSafeTotal;
      var dArg : array<f32, ${k - 1}>;
      var later = 0.0; // Σ_{m>j} ∂L/∂w_m · w_m
      for (var j = K - 2; j >= 0; j--) {
        let dw = (dv[j] + dv[j + 1]) / 2.0 + gTotal + depthScale * (rkMid[j] - rkDepth);
        let dAlpha = dw * rkTrans[j] - later / (1.0 - rkAlpha[j] + 1e-10);
        later = later + dw * rkW[j];
        let sig = 1.0 / (1.0 + exp(-rkArg[j]));
        dArg[j] = dAlpha * (rkDelta[j] * exp(-(rkSoftplus(rkArg[j]) * rkDelta[j]))) * sig;
      }
      for (var p = 0; p < K; p++) {
        let j = rkOrder[p];
        if (${skip}) {
          continue;
        }
        let row = ${row};
        var ds = 0.0;
        if (p > 0) {
          ds = ds + dArg[p - 1];
        }
        if (p < K - 1) {
          ds = ds + dArg[p];
        }
        setOutputAtIndex(row, ds / 2.0);
        let v = rkMix(p);
        for (var c = 1; c < COLS; c++) {
          setOutputAtIndex(row + c, v * dy[o + c - 1]);
        }
      }
    }
  `;
}

function checkSamples(coarse: tf.Tensor3D, coarseDepths: tf.Tensor2D, fine: tf.Tensor3D | null, fineDepths: tf.Tensor2D | null): void {
  const [b, d, cols] = coarse.shape;
  const ok =
    d >= 2 && cols >= 1 && coarseDepths.shape[0] === b && coarseDepths.shape[1] === d &&
    (fine === null) === (fineDepths === null) &&
    (fine === null || (fine.shape[0] === b && fine.shape[2] === cols && fineDepths!.shape[0] === b && fineDepths!.shape[1] === fine.shape[1]));
  if (!ok) throw new RayKernelError(`compositeFused: inconsistent shapes (coarse [${coarse.shape}], depths [${coarseDepths.shape}], fine [${fine?.shape}], fine depths [${fineDepths?.shape}])`);
}

/**
 * Coarse (and fine) decoder outputs with their constant depths → the composited ray values `[B, C + 5]`
 * (`fusedColumns`), differentiable w.r.t. the decoder outputs. Without `fine` the coarse samples are
 * composited in their given order (as `compositePacked`).
 */
export function compositeFused(coarse: tf.Tensor3D, coarseDepths: tf.Tensor2D, fine: tf.Tensor3D | null = null, fineDepths: tf.Tensor2D | null = null): tf.Tensor2D {
  checkSamples(coarse, coarseDepths, fine, fineDepths);
  const [b, d, cols] = coarse.shape;
  const di = fine ? fine.shape[1] : 0;
  const key = `${d}_${di}_${cols}`;
  const width = fusedColumns(cols).width;
  const names = fine ? ['coarse', 'coarseT', 'fine', 'fineT'] : ['coarse', 'coarseT'];
  const inputsOf = (saved: tf.Tensor[]) => (fine ? saved : saved.slice(0, 2));
  const forward = (saved: tf.Tensor[]) => run(rayProgram(`eg3dCompositeFwd_${key}`, [b, width], b, names, forwardCode(d, di, cols)), inputsOf(saved)) as tf.Tensor2D;
  const backward = (saved: tf.Tensor[], dy: tf.Tensor, target: 'coarse' | 'fine') =>
    run(rayProgram(`eg3dCompositeBwd_${target}_${key}`, [b, target === 'coarse' ? d : di, cols], b, [...names, 'dy'], backwardCode(d, di, cols, target)), [...inputsOf(saved), dy]);
  if (fine && fineDepths) {
    const op = tf.customGrad((co, fi, save) => {
      const saved = [co as tf.Tensor, coarseDepths, fi as tf.Tensor, fineDepths];
      (save as tf.GradSaveFunc)(saved);
      return { value: forward(saved), gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => [backward(s, dy, 'coarse'), backward(s, dy, 'fine')] };
    });
    return op(coarse, fine) as tf.Tensor2D;
  }
  const op = tf.customGrad((co, save) => {
    const saved = [co as tf.Tensor, coarseDepths];
    (save as tf.GradSaveFunc)(saved);
    return { value: forward(saved), gradFunc: (dy: tf.Tensor, s: tf.Tensor[]) => backward(s, dy, 'coarse') };
  });
  return op(coarse) as tf.Tensor2D;
}

/**
 * One Adam update of a float32 parameter tensor as fused WGSL kernels for tfjs's webgpu backend (the
 * pattern of src/clip/vit-kernels-webgpu.ts: program objects structurally matching tfjs-backend-webgpu's
 * WebGPUProgram, run through `backend.runWebGPUProgram`); the plain-TS twin is adam-kernels.ts.
 *
 * Three element-wise dispatches per tensor (one invocation per element, workgroups of 64), the
 * hyper-parameters as uniforms (no scalar tensors uploaded), the same float32 operations in the same
 * order as NamedAdam's generic tf-op path:
 *  - m' = m·β1 + g·(1 − β1)                                   (reads g, m)
 *  - v' = v·β2 + (g·g)·(1 − β2)                               (reads g, v)
 *  - p' = p − ((m'/c1) / (√(v'/c2) + ε)) · lr                  (reads p and the m', v' just written, so
 *    the step uses exactly the stored moments, as the generic path does)
 * The caller assigns the three outputs to its variables; nothing is read back.
 */
import * as tf from '@tensorflow/tfjs';
import { InternalError } from '../core/errors.ts';
import type { AdamStepScalars } from './adam-kernels.ts';
import { runFloatProgram, type ProgramUniform, type WebGPUProgramLike } from './webgpu-program.ts';

export class AdamKernelError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;

function run(program: WebGPUProgramLike, inputs: tf.Tensor[], uniforms: ProgramUniform): tf.Tensor {
  return runFloatProgram(program, inputs, uniforms, (active) => new AdamKernelError(`the fused Adam kernels need the webgpu backend (active: ${active})`));
}

/** One invocation per element of a flat `[size]` output; `expr` is the value at `index`. */
function elementProgram(key: string, size: number, variableNames: string[], uniformNames: string[], expr: string): WebGPUProgramLike {
  return {
    outputShape: [size],
    shaderKey: key,
    dispatchLayout: { x: [0] },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames,
    uniforms: uniformNames.map((u) => `${u} : f32,`).join(' '),
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          setOutputAtIndex(index, ${expr});
        }
      }
    `,
  };
}

/** One entry per scalar field (the backend aligns an entry by its length). */
function f32Uniforms(values: number[]): ProgramUniform {
  return values.map((x) => ({ type: 'float32' as const, data: [x] }));
}

export interface AdamKernelOutputs {
  m: tf.Tensor;
  v: tf.Tensor;
  p: tf.Tensor;
}

/**
 * New first and second moments and parameter values (shaped like `p`) for gradient `g`: three
 * dispatches. All four inputs float32 of the same size.
 */
export function adamUpdateKernels(g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, p: tf.Tensor, s: AdamStepScalars): AdamKernelOutputs {
  const n = p.size;
  for (const [name, t] of [['g', g], ['m', m], ['v', v], ['p', p]] as const) {
    if (t.dtype !== 'float32') throw new AdamKernelError(`adam kernels: ${name} is ${t.dtype}, not float32`);
    if (t.size !== n) throw new AdamKernelError(`adam kernels: ${name} has ${t.size} values, the parameter ${n}`);
  }
  return tf.tidy(() => {
    const flat = (t: tf.Tensor) => tf.reshape(t, [n]);
    const [gf, mf, vf, pf] = [g, m, v, p].map(flat);
    const mNew = run(
      elementProgram('nnAdamMoment1', n, ['grad', 'moment1'], ['beta1', 'oneMinusBeta1'], 'moment1[index] * uniforms.beta1 + grad[index] * uniforms.oneMinusBeta1'),
      [gf, mf],
      f32Uniforms([s.beta1, s.oneMinusBeta1]),
    );
    const vNew = run(
      elementProgram('nnAdamMoment2', n, ['grad', 'moment2'], ['beta2', 'oneMinusBeta2'], 'moment2[index] * uniforms.beta2 + (grad[index] * grad[index]) * uniforms.oneMinusBeta2'),
      [gf, vf],
      f32Uniforms([s.beta2, s.oneMinusBeta2]),
    );
    const pNew = run(
      elementProgram(
        'nnAdamParam',
        n,
        ['param', 'moment1New', 'moment2New'],
        ['c1', 'c2', 'epsilon', 'lr'],
        'param[index] - ((moment1New[index] / uniforms.c1) / (sqrt(moment2New[index] / uniforms.c2) + uniforms.epsilon)) * uniforms.lr',
      ),
      [pf, mNew, vNew],
      f32Uniforms([s.c1, s.c2, s.epsilon, s.lr]),
    );
    return { m: tf.reshape(mNew, p.shape), v: tf.reshape(vNew, p.shape), p: tf.reshape(pNew, p.shape) };
  });
}

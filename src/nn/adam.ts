/**
 * Adam over a named set of tf.Variables with explicit, serialisable state (step count, first and
 * second moments per parameter name), so a checkpoint can resume a run exactly. Same update as
 * PyTorch / tfjs Adam (bias-corrected moments, eps added to sqrt(v̂)). The adaptation's settings
 * (DiFa's lr 0.0016, betas (0, 0.992)) are in src/engine/defaults.ts.
 *
 * On webgpu a float32 parameter's update runs as three fused WGSL kernels (adam-kernels-webgpu.ts: new
 * m, new v, new p, the hyper-parameters as uniforms) instead of 14 tf ops; the tf-op code below is the
 * generic path (cpu/wasm) and the oracle the kernels are tested against (`impl: 'generic'` forces it).
 */
import * as tf from '@tensorflow/tfjs';
import { adamStepScalars } from './adam-kernels.ts';
import { AdamKernelError, adamUpdateKernels } from './adam-kernels-webgpu.ts';
import { isWebGPUBackend } from './webgpu-program.ts';

export interface AdamConfig {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/**
 * How `apply` runs: 'fused' = the WGSL kernels (webgpu only), 'generic' = tf ops (the oracle, and the
 * path on cpu/wasm), 'auto' = fused on webgpu for float32 parameters, generic elsewhere.
 */
export type AdamImpl = 'auto' | 'fused' | 'generic';

export interface NamedAdamOptions {
  impl?: AdamImpl;
}

export interface AdamState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class NamedAdam {
  private step = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    readonly config: AdamConfig,
    private readonly params: Map<string, tf.Variable>,
    private readonly options: NamedAdamOptions = {},
  ) {
    // tidy releases the zeros the variables were made from (a variable shares their data but not the handle).
    for (const [name, p] of params) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    }
  }

  get steps(): number {
    return this.step;
  }

  /**
   * Applies one update; `grads` is keyed like the parameters (missing key = no gradient); `lrScale`
   * multiplies the learning rate (schedules), `paramScale(name)` it per parameter.
   */
  apply(grads: Map<string, tf.Tensor>, lrScale = 1, paramScale?: (name: string) => number): void {
    const impl = this.options.impl ?? 'auto';
    if (impl === 'fused' && !isWebGPUBackend()) throw new AdamKernelError(`NamedAdam impl 'fused' needs the webgpu backend (active: ${tf.getBackend()})`);
    const fused = impl !== 'generic' && isWebGPUBackend();
    const { beta1, beta2, epsilon } = this.config;
    const learningRate = this.config.learningRate * lrScale;
    const t = this.step + 1;
    const c1 = 1 - Math.pow(beta1, t);
    const c2 = 1 - Math.pow(beta2, t);
    tf.tidy(() => {
      for (const [name, p] of this.params) {
        const g = grads.get(name);
        if (!g) continue;
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        if (fused && p.size > 0 && p.dtype === 'float32' && g.dtype === 'float32' && tf.util.arraysEqual(g.shape, p.shape)) {
          // Three dispatches; the same scalars (float64, rounded to float32 as uniforms) as below.
          const out = adamUpdateKernels(g, m, v, p, adamStepScalars(this.config, t, lrScale, paramScale ? paramScale(name) : 1));
          m.assign(out.m);
          v.assign(out.v);
          p.assign(out.p);
          continue;
        }
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(mNew);
        v.assign(vNew);
        const update = tf.div(tf.div(mNew, c1), tf.add(tf.sqrt(tf.div(vNew, c2)), epsilon));
        p.assign(tf.sub(p, tf.mul(update, learningRate * (paramScale ? paramScale(name) : 1))));
      }
    });
    this.step = t;
  }

  async getState(): Promise<AdamState> {
    const m = new Map<string, Float32Array>();
    const v = new Map<string, Float32Array>();
    for (const name of this.params.keys()) {
      m.set(name, (await this.m.get(name)!.data()) as Float32Array);
      v.set(name, (await this.v.get(name)!.data()) as Float32Array);
    }
    return { step: this.step, m, v };
  }

  setState(state: AdamState): void {
    for (const name of this.params.keys()) {
      const mv = state.m.get(name);
      const vv = state.v.get(name);
      if (!mv || !vv) throw new Error(`optimizer state lacks parameter ${name}`);
      const p = this.params.get(name)!;
      tf.tidy(() => {
        this.m.get(name)!.assign(tf.tensor(mv, p.shape));
        this.v.get(name)!.assign(tf.tensor(vv, p.shape));
      });
    }
    this.step = state.step;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

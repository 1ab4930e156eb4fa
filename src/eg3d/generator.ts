/**
 * EG3DGenerator (contract 4): the TriPlaneGenerator forward in tfjs, built from an EG3DConfig and a
 * WeightMap. mapping → backbone planes → tri-plane volume rendering (src/eg3d/renderer.ts) →
 * super-resolution. All images NHWC. Gradients of outputs w.r.t. `decoder.*` and `superresolution.*`
 * work on every backend (the backbone is inference-only).
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import type { ByteSource } from '../io/byte-source.ts';
import { readEG3DPickle, type ReadEG3DOptions } from './checkpoint.ts';
import { parseEG3DConfig, type EG3DConfig } from './config.ts';
import { runMapping, type TruncationOptions } from './mapping.ts';
import { runBackbone, splitPlanes, type NoiseOptions } from './synthesis.ts';
import { runSuperresolution } from './superresolution.ts';
import { loadWeights, type WeightMap } from './weights.ts';

export interface PlanesOptions {
  noiseMode: NoiseOptions['noiseMode'];
  rng?: Random;
}

export interface SuperresolveCallOptions {
  /** For an SR noise mode of 'random' (the released networks use 'none'). */
  rng?: Random;
}

export class EG3DGenerator {
  private constructor(
    readonly config: EG3DConfig,
    readonly weights: WeightMap,
    /** Tensors this instance disposes in dispose() (not shared ones). */
    private readonly owned: tf.Tensor[],
  ) {}

  /** Takes ownership of `weights` (dispose() frees them). */
  static create(config: EG3DConfig, weights: WeightMap): EG3DGenerator {
    return new EG3DGenerator(config, weights, [...weights.values()]);
  }

  /** Reads an official network pickle (G_ema) and converts its weights. */
  static async fromPickle(source: ByteSource, opts: ReadEG3DOptions & { onWeightProgress?: (done: number, total: number) => void } = {}): Promise<EG3DGenerator> {
    const ckpt = await readEG3DPickle(source, opts);
    const config = parseEG3DConfig({ initKwargs: ckpt.initKwargs, renderingKwargs: ckpt.renderingKwargs, neuralRenderingResolution: ckpt.neuralRenderingResolution });
    const weights = await loadWeights(config, ckpt, { onProgress: opts.onWeightProgress });
    return EG3DGenerator.create(config, weights);
  }

  get numWs(): number {
    return this.config.backbone.numWs;
  }

  /** z [N, z_dim], cCond [N, 25] → ws [N, num_ws, w_dim]. */
  mapping(z: tf.Tensor2D, cCond: tf.Tensor2D, opts: TruncationOptions = {}): tf.Tensor3D {
    return runMapping(this.config, this.weights, z, cCond, opts);
  }

  /** Backbone output NHWC [N, 256, 256, 96] (before the plane split). */
  backbone(ws: tf.Tensor3D, opts: PlanesOptions): tf.Tensor4D {
    return runBackbone(this.config, this.weights, ws, opts);
  }

  /** ws → tri-planes [N, 3, 256, 256, 32]. */
  planes(ws: tf.Tensor3D, opts: PlanesOptions): tf.Tensor5D {
    return tf.tidy(() => splitPlanes(this.backbone(ws, opts)));
  }

  /** imageRaw [N,R,R,3], features [N,R,R,32], ws → image [N,S,S,3]. */
  superresolve(imageRaw: tf.Tensor4D, features: tf.Tensor4D, ws: tf.Tensor3D, opts: SuperresolveCallOptions = {}): tf.Tensor4D {
    return runSuperresolution(this.config, this.weights, imageRaw, features, ws, opts);
  }

  /**
   * A generator sharing every tensor except the overridden ones (e.g. `decoder.*` / `superresolution.*`
   * replaced by tf.Variables). The derived generator owns nothing: disposing it frees no tensor.
   */
  withWeights(overrides: WeightMap): EG3DGenerator {
    const merged: WeightMap = new Map(this.weights);
    for (const [k, v] of overrides) {
      const old = this.weights.get(k);
      if (!old) throw new Error(`withWeights: '${k}' is not a weight of this generator`);
      if (old.shape.join('x') !== v.shape.join('x')) throw new Error(`withWeights: '${k}' has shape [${v.shape}], expected [${old.shape}]`);
      merged.set(k, v);
    }
    return new EG3DGenerator(this.config, merged, []);
  }

  dispose(): void {
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned.length = 0;
  }
}

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
import { DEFAULT_CHUNK_RAYS, renderTriplanes, type RenderOutput, type RenderSettings, type RendererDraws } from './renderer.ts';
import type { TriplaneImplementation } from './triplane.ts';
import { loadWeights, type WeightMap } from './weights.ts';

export interface PlanesOptions {
  noiseMode: NoiseOptions['noiseMode'];
  rng?: Random;
}

export interface SuperresolveCallOptions {
  /** For an SR noise mode of 'random' (the released networks use 'none'). */
  rng?: Random;
  /** false: G2 frozen, no weight gradients in its backward pass (SuperresolveOptions.weightGrad). */
  weightGrad?: boolean;
}

export interface RenderCallOptions {
  draws: RendererDraws;
  /** Neural rendering resolution; default: the checkpoint's. */
  neuralRenderingResolution?: number;
  /** Rays per renderer chunk (memory bound, does not change results). */
  chunkRays?: number;
  triplaneImpl?: TriplaneImplementation;
}

export interface SynthesisOptions extends RenderCallOptions {
  /** Backbone noise ('const' for reproducible renders; the official default is 'random'). */
  noiseMode: NoiseOptions['noiseMode'];
  /** Draws for random backbone/SR noise. */
  rng?: Random;
}

export interface SynthesisOutput {
  /** [N, S, S, 3], ≈ [−1, 1]. */
  image: tf.Tensor4D;
  /** [N, R, R, 3]: the untouched raw render (features[..., 0:3]). */
  imageRaw: tf.Tensor4D;
  /** [N, R, R, 1]: expected depth along each ray. */
  imageDepth: tf.Tensor4D;
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

  /** The renderer settings of this network (rendering_kwargs) at a resolution / chunk size. */
  renderSettings(opts: { neuralRenderingResolution?: number; chunkRays?: number; triplaneImpl?: TriplaneImplementation } = {}): RenderSettings {
    const r = this.config.rendering;
    return {
      resolution: opts.neuralRenderingResolution ?? this.config.neuralRenderingResolution,
      depthResolution: r.depthResolution,
      depthResolutionImportance: r.depthResolutionImportance,
      rayStart: r.rayStart,
      rayEnd: r.rayEnd,
      boxWarp: r.boxWarp,
      disparitySpaceSampling: r.disparitySpaceSampling,
      clampMode: r.clampMode,
      whiteBack: r.whiteBack,
      decoderLrMul: r.decoderLrMul,
      chunkRays: opts.chunkRays ?? DEFAULT_CHUNK_RAYS,
      triplaneImpl: opts.triplaneImpl,
    };
  }

  /** Volume-renders tri-planes from cameras cView [N, 25] → composited features [N,R,R,32] and depth [N,R,R,1]. */
  render(planes: tf.Tensor5D, cView: tf.Tensor2D, opts: RenderCallOptions): RenderOutput {
    return renderTriplanes(planes, this.weights, cView, this.renderSettings(opts), opts.draws);
  }

  /** TriPlaneGenerator.synthesis: ws [N, num_ws, w_dim], cView [N, 25] → image, image_raw, image_depth. */
  synthesis(ws: tf.Tensor3D, cView: tf.Tensor2D, opts: SynthesisOptions): SynthesisOutput {
    return tf.tidy(() => {
      const planes = this.planes(ws, { noiseMode: opts.noiseMode, rng: opts.rng });
      const { features, depth } = this.render(planes, cView, opts);
      const [n, h, w] = features.shape;
      const imageRaw = tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]);
      const image = this.superresolve(imageRaw, features, ws, { rng: opts.rng });
      return { image, imageRaw, imageDepth: depth };
    });
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

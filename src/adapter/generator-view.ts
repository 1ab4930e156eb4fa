/**
 * Adapts an EG3DGenerator (contract 4) + the tri-plane renderer (contract 3) to the trainer's
 * AdaptableGenerator: mapping → planes → render with this generator's Tri-D → G2.
 */
import * as tf from '@tensorflow/tfjs';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { renderTriplanes, type RenderSettings } from '../eg3d/renderer.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import type { AdaptableGenerator, TrainerDraws } from './trainer.ts';

export function renderSettingsOf(g: EG3DGenerator, chunkRays: number): RenderSettings {
  const r = g.config.rendering;
  return {
    resolution: g.config.neuralRenderingResolution,
    depthResolution: r.depthResolution,
    depthResolutionImportance: r.depthResolutionImportance,
    rayStart: r.rayStart,
    rayEnd: r.rayEnd,
    boxWarp: r.boxWarp,
    disparitySpaceSampling: r.disparitySpaceSampling,
    clampMode: r.clampMode,
    whiteBack: r.whiteBack,
    decoderLrMul: r.decoderLrMul,
    chunkRays,
  };
}

/**
 * Cheaper rendering for tests and benchmarks (and slow devices): fewer samples per ray or a lower
 * neural rendering resolution (G2 then resizes its input, as the official code does).
 */
export interface RenderOverrides {
  resolution?: number;
  depthResolution?: number;
  depthResolutionImportance?: number;
}

export class GeneratorView implements AdaptableGenerator {
  readonly settings: RenderSettings;

  constructor(
    readonly generator: EG3DGenerator,
    chunkRays: number,
    readonly overrides: RenderOverrides = {},
  ) {
    this.settings = { ...renderSettingsOf(generator, chunkRays), ...overrides };
  }

  get renderShape(): { resolution: number; coarse: number; fine: number } {
    return { resolution: this.settings.resolution, coarse: this.settings.depthResolution, fine: this.settings.depthResolutionImportance };
  }

  get config() {
    return this.generator.config;
  }

  get weights(): WeightMap {
    return this.generator.weights;
  }

  mapping(z: tf.Tensor2D, cCond: tf.Tensor2D, psi: number, cutoff: number | null): tf.Tensor3D {
    return this.generator.mapping(z, cCond, { psi, cutoff });
  }

  planes(ws: tf.Tensor3D): tf.Tensor {
    // 'const' noise: the released generators' deterministic noise buffers.
    return this.generator.planes(ws, { noiseMode: 'const' });
  }

  render(planes: tf.Tensor, cameras: tf.Tensor2D, draws: TrainerDraws): { features: tf.Tensor4D; depth: tf.Tensor4D } {
    return renderTriplanes(planes, this.generator.weights, cameras, this.settings, draws);
  }

  superresolve(imageRaw: tf.Tensor4D, features: tf.Tensor4D, ws: tf.Tensor3D, opts: { weightGrad?: boolean } = {}): tf.Tensor4D {
    return this.generator.superresolve(imageRaw, features, ws, { weightGrad: opts.weightGrad });
  }

  withWeights(overrides: WeightMap): GeneratorView {
    return new GeneratorView(this.generator.withWeights(overrides), this.settings.chunkRays, this.overrides);
  }

  /** Full synthesis: image [N,S,S,3], image_raw [N,R,R,3], depth [N,R,R,1]. */
  synthesize(ws: tf.Tensor3D, cameras: tf.Tensor2D, draws: TrainerDraws): { image: tf.Tensor4D; imageRaw: tf.Tensor4D; depth: tf.Tensor4D } {
    return tf.tidy(() => {
      const planes = this.planes(ws);
      const { features, depth } = this.render(planes, cameras, draws);
      const [n, h, w] = features.shape;
      const imageRaw = tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]) as tf.Tensor4D;
      return { image: this.superresolve(imageRaw, features, ws), imageRaw, depth };
    });
  }
}

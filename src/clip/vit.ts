/**
 * OpenAI CLIP `VisionTransformer` in tfjs. The stride-`patch` patch convolution is a reshape plus one
 * matmul (no conv kernels, so input gradients work on wasm too); then class token + positional
 * embedding, ln_pre, the residual attention blocks, ln_post on the class token and the projection.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeBlock, frozenMatMul, layerNorm, linear, residualBlock, type LayerNormWeights, type ResidualBlockWeights } from './layers.ts';
import { IncompatibleFileError } from '../core/errors.ts';

export interface ClipVisionConfig {
  width: number;
  layers: number;
  heads: number;
  patchSize: number;
  inputResolution: number;
  /** Output dimension: the projection's width, or `width` when the file has no projection. */
  embedDim: number;
}

export interface ClipVisionWeights {
  /** `[patch·patch·3, width]`, rows ordered (py, px, channel) to match NHWC patches. */
  patchW: tf.Tensor2D;
  classEmbedding: tf.Tensor1D;
  /** `[1 + grid², width]`, class position first. */
  positionalEmbedding: tf.Tensor2D;
  lnPre: LayerNormWeights;
  blocks: ResidualBlockWeights[];
  lnPost: LayerNormWeights;
  /** `[width, embedDim]`, or null (HF `CLIPVisionModel` without projection). */
  proj: tf.Tensor2D | null;
}

export interface VisionForward {
  /** `[N, embedDim]`, not normalised (OpenAI `encode_image`). */
  embeds: tf.Tensor2D;
  /** Residual stream after each requested block, `[N, 1 + grid², width]`, class token first. */
  blocks: Map<number, tf.Tensor3D>;
}

export class ClipShapeError extends IncompatibleFileError {
  constructor(message: string) {
    super(message);
  }
}

export class ClipVisionTransformer {
  readonly grid: number;

  constructor(
    readonly config: ClipVisionConfig,
    readonly weights: ClipVisionWeights,
  ) {
    this.grid = config.inputResolution / config.patchSize;
  }

  /** Patch tokens per image (without the class token). */
  get numPatches(): number {
    return this.grid * this.grid;
  }

  /**
   * pixels: normalised NHWC `[N, R, R, 3]` (R = input resolution). `collectBlocks`: 0-based block
   * indices whose output to return. Call inside `tf.tidy`; differentiable w.r.t. `pixels`.
   */
  forward(pixels: tf.Tensor4D, collectBlocks: readonly number[] = []): VisionForward {
    const { inputResolution: r, patchSize: p, width, heads } = this.config;
    const [n, h, w, c] = pixels.shape;
    if (h !== r || w !== r || c !== 3) {
      throw new ClipShapeError(`CLIP image encoder expects [N, ${r}, ${r}, 3] pixels, got [${pixels.shape.join(', ')}]`);
    }
    for (const b of collectBlocks) {
      if (!Number.isInteger(b) || b < 0 || b >= this.config.layers) {
        throw new ClipShapeError(`block index ${b} out of range 0..${this.config.layers - 1}`);
      }
    }
    const g = this.grid;
    const wts = this.weights;
    // [N, R, R, 3] → [N·g, p, g, p·3] → [N·g, g, p, p·3] → [N, g², p·p·3]: one row per patch, (py, px, c) order.
    const patches = tf.reshape(tf.transpose(tf.reshape(pixels, [n * g, p, g, p * 3]), [0, 2, 1, 3]), [n, g * g, p * p * 3]);
    const patchTokens = linear(patches, wts.patchW);
    const cls = tf.tile(tf.reshape(wts.classEmbedding, [1, 1, width]), [n, 1, 1]);
    let x = tf.add(tf.concat([cls, patchTokens], 1), wts.positionalEmbedding) as tf.Tensor3D;
    x = layerNorm(x, wts.lnPre) as tf.Tensor3D;
    const blocks = new Map<number, tf.Tensor3D>();
    for (let i = 0; i < wts.blocks.length; i++) {
      x = residualBlock(x, wts.blocks[i], heads);
      if (collectBlocks.includes(i)) blocks.set(i, x);
    }
    const pooled = layerNorm(tf.reshape(tf.slice(x, [0, 0, 0], [n, 1, width]), [n, width]), wts.lnPost);
    const embeds = (wts.proj ? frozenMatMul(pooled as tf.Tensor2D, wts.proj) : pooled) as tf.Tensor2D;
    return { embeds, blocks };
  }

  parameterCount(): number {
    const w = this.weights;
    let total = w.patchW.size + w.classEmbedding.size + w.positionalEmbedding.size + 2 * (w.lnPre.gamma.size + w.lnPost.gamma.size);
    for (const b of w.blocks) total += blockParameters(b);
    return total + (w.proj?.size ?? 0);
  }

  dispose(): void {
    const w = this.weights;
    for (const t of [w.patchW, w.classEmbedding, w.positionalEmbedding, w.lnPre.gamma, w.lnPre.beta, w.lnPost.gamma, w.lnPost.beta]) t.dispose();
    w.proj?.dispose();
    for (const b of w.blocks) disposeBlock(b);
  }
}

export function blockParameters(b: ResidualBlockWeights): number {
  return [b.ln1.gamma, b.ln1.beta, b.inProjW, b.inProjB, b.outProjW, b.outProjB, b.ln2.gamma, b.ln2.beta, b.fcW, b.fcB, b.projW, b.projB]
    .reduce((s, t) => s + t.size, 0);
}

/** OpenAI CLIP image-tower shapes (for benchmarks and tests with random weights). */
export const OPENAI_VIT_CONFIGS = {
  'ViT-B/32': { width: 768, layers: 12, heads: 12, patchSize: 32, inputResolution: 224, embedDim: 512 },
  'ViT-B/16': { width: 768, layers: 12, heads: 12, patchSize: 16, inputResolution: 224, embedDim: 512 },
  'ViT-L/14': { width: 1024, layers: 24, heads: 16, patchSize: 14, inputResolution: 224, embedDim: 768 },
} as const satisfies Record<string, ClipVisionConfig>;

/** A tower with random weights (N(0, 0.02²) matrices, unit LayerNorms); `seed` makes it reproducible. */
export function randomVisionTransformer(config: ClipVisionConfig, seed: number): ClipVisionTransformer {
  const { width: w, patchSize: p, inputResolution: r, embedDim, layers } = config;
  let s = seed;
  const normal = (shape: number[]) => tf.randomNormal(shape, 0, 0.02, 'float32', s++);
  const ln = (): LayerNormWeights => ({ gamma: tf.ones([w]) as tf.Tensor1D, beta: tf.zeros([w]) as tf.Tensor1D });
  const g = r / p;
  const blocks: ResidualBlockWeights[] = [...Array(layers).keys()].map(() => ({
    ln1: ln(),
    inProjW: normal([w, 3 * w]) as tf.Tensor2D,
    inProjB: tf.zeros([3 * w]) as tf.Tensor1D,
    outProjW: normal([w, w]) as tf.Tensor2D,
    outProjB: tf.zeros([w]) as tf.Tensor1D,
    ln2: ln(),
    fcW: normal([w, 4 * w]) as tf.Tensor2D,
    fcB: tf.zeros([4 * w]) as tf.Tensor1D,
    projW: normal([4 * w, w]) as tf.Tensor2D,
    projB: tf.zeros([w]) as tf.Tensor1D,
  }));
  return new ClipVisionTransformer(config, {
    patchW: normal([p * p * 3, w]) as tf.Tensor2D,
    classEmbedding: normal([w]) as tf.Tensor1D,
    positionalEmbedding: normal([g * g + 1, w]) as tf.Tensor2D,
    lnPre: ln(),
    blocks,
    lnPost: ln(),
    proj: normal([w, embedDim]) as tf.Tensor2D,
  });
}

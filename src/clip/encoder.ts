/**
 * The encoder interface the 3D-Adapter losses use (contract 5), and its CLIP implementation.
 * A `FeatureEncoder` gives an L2-normalised global embedding and a token map (the residual stream
 * after one block, CLS dropped) for generated images (differentiable) and for the reference image.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteSource } from '../io/byte-source.ts';
import type { RgbaImage } from '../core/image.ts';
import { loadClipModel, vitName, FORMAT_LABEL, type ClipArchitecture, type ClipLoadOptions } from './load.ts';
import { clipReferencePixels, preprocessGenerated, ResizeMatrixCache } from './preprocess.ts';
import type { ClipTextTransformer } from './text.ts';
import type { ClipTokenizer } from './tokenizer.ts';
import { ClipShapeError, type ClipVisionTransformer } from './vit.ts';

export interface EncoderFeatures {
  /** `[N, D]`, L2-normalised. */
  embedding: tf.Tensor2D;
  /** `[N, n, d]`: residual stream after block `tokenBlock` (0-based), CLS dropped, not normalised. */
  tokens: tf.Tensor3D;
  /**
   * Spatial feature maps `[N, h, w, c]` of the blocks asked for in `mapBlocks`, in that order (empty
   * when none were asked for): the inputs of the hypercolumn L_dis (adapter/losses.ts). MobileNetV2:
   * block outputs at their own resolution (56² … 7² at 224² input); CLIP: a block's patch tokens as
   * its g×g grid.
   */
  maps: tf.Tensor4D[];
}

export interface FeatureEncoder {
  readonly id: string;
  readonly name: string;
  readonly embedDim: number;
  readonly numBlocks: number;
  readonly defaultTokenBlock: number;
  /** Blocks whose maps feed the hypercolumn L_dis by default (early → late; method option `hypercolumnBlocks` overrides). */
  readonly defaultMapBlocks: readonly number[];
  /**
   * Multiplier of λ_dir for this encoder unless the method option `encoderDirectionWeight` overrides it:
   * CLIP 1 (its embedding space is where DiFa's direction lives); the embedded MobileNetV2 0 (its
   * pooled classifier embedding gives a direction that moves colours away from the reference — measured
   * in docs/method.md, "Experiments"). Absent = 1.
   */
  readonly defaultDirectionWeight?: number;
  /** Differentiable w.r.t. images. images NHWC in [−1,1] of any size (generator outputs): x·0.5+0.5, bicubic resize (no antialias) to the input size, mean/std normalisation. */
  encodeImages(images: tf.Tensor4D, tokenBlock: number, mapBlocks?: readonly number[]): EncoderFeatures;
  /** Reference image (RGBA8, any size): the encoder's own reference preprocessing (CLIP: short-side bicubic resize, centre crop, normalise). */
  encodeReference(image: RgbaImage, tokenBlock: number, mapBlocks?: readonly number[]): EncoderFeatures;
  /** Number of parameters loaded (ModelInfo.parameters). */
  parameterCount(): number;
  /** SHA-256 (hex) of the weights, for encoders that do not come from a user file (the embedded one). */
  readonly weightsSha256?: string;
  dispose(): void;
}

/** Total size of every tensor in a (nested) weight structure. */
export function countParameters(weights: unknown): number {
  if (weights instanceof tf.Tensor) return weights.size;
  if (!weights || typeof weights !== 'object') return 0;
  let n = 0;
  for (const v of Array.isArray(weights) ? weights : Object.values(weights)) n += countParameters(v);
  return n;
}

export function l2Normalize(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.norm(x, 'euclidean', -1, true));
}

/** `tf.tidy` for a function returning `EncoderFeatures` (tidy only accepts plain tensor containers). */
export function tidyFeatures(fn: () => EncoderFeatures): EncoderFeatures {
  const [embedding, tokens, ...maps] = tf.tidy(() => {
    const f = fn();
    return [f.embedding, f.tokens, ...f.maps];
  });
  return { embedding: embedding as tf.Tensor2D, tokens: tokens as tf.Tensor3D, maps: maps as tf.Tensor4D[] };
}

/** Disposes every tensor of a features object. */
export function disposeFeatures(f: EncoderFeatures): void {
  tf.dispose([f.embedding, f.tokens, ...f.maps]);
}

/** DiFa taps block 3 (0-based), DoRM block 4; the default follows DiFa, clamped to the model depth. */
const DEFAULT_TOKEN_BLOCK = 3;

/**
 * CLIP's hypercolumn blocks: every third block from the first (ViT-B: 0, 3, 6, 9). A ViT's blocks
 * all share one patch grid, so unlike a CNN there are no higher-resolution early maps; early blocks
 * still carry colour and local texture, late ones content.
 */
function clipMapBlocks(layers: number): number[] {
  const out: number[] = [];
  for (let b = 0; b < layers; b += 3) out.push(b);
  return out.slice(0, 4);
}

export class ClipImageEncoder implements FeatureEncoder {
  readonly id: string;
  readonly name: string;
  readonly embedDim: number;
  readonly numBlocks: number;
  readonly defaultTokenBlock: number;
  readonly defaultMapBlocks: readonly number[];
  readonly defaultDirectionWeight = 1;
  readonly inputResolution: number;
  /** Shapes and where the head counts came from (`headsFrom`), when loaded from a file. */
  readonly architecture: ClipArchitecture | null;
  private readonly resize = new ResizeMatrixCache();
  private disposed = false;

  constructor(
    readonly vision: ClipVisionTransformer,
    readonly text: ClipTextTransformer | null = null,
    info: { id?: string; name?: string; architecture?: ClipArchitecture } = {},
  ) {
    this.architecture = info.architecture ?? null;
    const c = vision.config;
    const arch = vitName(c);
    this.id = info.id ?? `clip-${arch.toLowerCase().replace(/[^a-z0-9]+/g, '')}`;
    this.name = info.name ?? `CLIP ${arch}`;
    this.embedDim = c.embedDim;
    this.numBlocks = c.layers;
    this.inputResolution = c.inputResolution;
    this.defaultTokenBlock = Math.min(DEFAULT_TOKEN_BLOCK, c.layers - 1);
    this.defaultMapBlocks = clipMapBlocks(c.layers);
  }

  private checkBlock(tokenBlock: number): void {
    if (this.disposed) throw new Error(`${this.name}: encoder has been disposed`);
    if (!Number.isInteger(tokenBlock) || tokenBlock < 0 || tokenBlock >= this.numBlocks) {
      throw new ClipShapeError(`${this.name}: token block ${tokenBlock} out of range 0..${this.numBlocks - 1}`);
    }
  }

  /** Encodes already-normalised `[N, R, R, 3]` model inputs. */
  encodePixels(pixels: tf.Tensor4D, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.checkBlock(tokenBlock);
    for (const b of mapBlocks) this.checkBlock(b);
    return tidyFeatures(() => {
      const { embeds, blocks } = this.vision.forward(pixels, [tokenBlock, ...mapBlocks]);
      const patchTokens = (b: number) => {
        const full = blocks.get(b)!;
        const [n, l, d] = full.shape;
        return tf.slice(full, [0, 1, 0], [n, l - 1, d]) as tf.Tensor3D;
      };
      const g = this.vision.grid;
      const maps = mapBlocks.map((b) => {
        const t = patchTokens(b);
        return tf.reshape(t, [t.shape[0], g, g, t.shape[2]]) as tf.Tensor4D;
      });
      return { embedding: l2Normalize(embeds), tokens: patchTokens(tokenBlock), maps };
    });
  }

  encodeImages(images: tf.Tensor4D, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.checkBlock(tokenBlock);
    if (images.rank !== 4 || images.shape[3] !== 3) throw new ClipShapeError(`${this.name}: images must be NHWC with 3 channels, got [${images.shape.join(', ')}]`);
    return tidyFeatures(() => this.encodePixels(preprocessGenerated(images, this.inputResolution, this.resize), tokenBlock, mapBlocks));
  }

  encodeReference(image: RgbaImage, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.checkBlock(tokenBlock);
    const r = this.inputResolution;
    const pixels = clipReferencePixels(image, r);
    return tidyFeatures(() => this.encodePixels(tf.tensor4d(pixels, [1, r, r, 3]), tokenBlock, mapBlocks));
  }

  parameterCount(): number {
    return countParameters(this.vision.weights) + (this.text ? countParameters(this.text.weights) : 0);
  }

  /** OpenAI `encode_image` (unnormalised) plus every block's residual stream (CLS first), for conformance. */
  forwardAllBlocks(pixels: tf.Tensor4D): { embeds: tf.Tensor2D; blocks: tf.Tensor3D[] } {
    return tf.tidy(() => {
      const all = [...Array(this.numBlocks).keys()];
      const { embeds, blocks } = this.vision.forward(pixels, all);
      return { embeds, blocks: all.map((i) => blocks.get(i)!) };
    });
  }

  /** L2-normalised text embeddings of `[N, L]` token ids (needs a file with a text tower, loaded with `text: true`). */
  encodeText(ids: Int32Array | number[], n: number): tf.Tensor2D {
    if (!this.text) throw new ClipShapeError(`${this.name}: no text tower loaded`);
    return tf.tidy(() => l2Normalize(this.text!.encode(ids, n)));
  }

  /** L2-normalised embeddings of text prompts (tokenizer built from the caller's BPE vocabulary). */
  encodePrompts(prompts: string[], tokenizer: ClipTokenizer): tf.Tensor2D {
    if (!this.text) throw new ClipShapeError(`${this.name}: no text tower loaded`);
    return this.encodeText(tokenizer.tokenize(prompts, this.text.config.contextLength), prompts.length);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.resize.dispose();
    this.vision.dispose();
    this.text?.dispose();
  }
}

export interface LoadClipEncoderOptions extends ClipLoadOptions {
  id?: string;
  name?: string;
}

/** Loads an OpenAI .pt / HF safetensors / open_clip safetensors CLIP file as a `FeatureEncoder`. */
export async function loadClipEncoder(source: ByteSource, opts: LoadClipEncoderOptions = {}): Promise<ClipImageEncoder> {
  const model = await loadClipModel(source, opts);
  return new ClipImageEncoder(model.vision, model.text, {
    id: opts.id,
    name: opts.name ?? `CLIP ${vitName(model.vision.config)} (${FORMAT_LABEL[model.format]})`,
    architecture: model.architecture,
  });
}

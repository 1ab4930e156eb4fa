/**
 * The encoder interface the 3D-Adapter losses use (contract 5), and its CLIP implementation.
 * A `FeatureEncoder` gives an L2-normalised global embedding and a token map (the residual stream
 * after one block, CLS dropped) for generated images (differentiable) and for the reference image.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteSource } from '../io/byte-source.ts';
import type { RgbaImage } from '../core/image.ts';
import { loadClipModel, vitName, FORMAT_LABEL, type ClipLoadOptions } from './load.ts';
import { clipReferencePixels, preprocessGenerated, ResizeMatrixCache } from './preprocess.ts';
import type { ClipTextTransformer } from './text.ts';
import type { ClipTokenizer } from './tokenizer.ts';
import { ClipShapeError, type ClipVisionTransformer } from './vit.ts';

export interface EncoderFeatures {
  /** `[N, D]`, L2-normalised. */
  embedding: tf.Tensor2D;
  /** `[N, n, d]`: residual stream after block `tokenBlock` (0-based), CLS dropped, not normalised. */
  tokens: tf.Tensor3D;
}

export interface FeatureEncoder {
  readonly id: string;
  readonly name: string;
  readonly embedDim: number;
  readonly numBlocks: number;
  readonly defaultTokenBlock: number;
  /** Differentiable w.r.t. images. images NHWC in [−1,1] of any size (generator outputs): x·0.5+0.5, bicubic resize (no antialias) to the input size, mean/std normalisation. */
  encodeImages(images: tf.Tensor4D, tokenBlock: number): EncoderFeatures;
  /** Reference image (RGBA8, any size): the encoder's own reference preprocessing (CLIP: short-side bicubic resize, centre crop, normalise). */
  encodeReference(image: RgbaImage, tokenBlock: number): EncoderFeatures;
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
  const [embedding, tokens] = tf.tidy(() => {
    const f = fn();
    return [f.embedding, f.tokens];
  });
  return { embedding: embedding as tf.Tensor2D, tokens: tokens as tf.Tensor3D };
}

/** DiFa taps block 3 (0-based), DoRM block 4; the default follows DiFa, clamped to the model depth. */
const DEFAULT_TOKEN_BLOCK = 3;

export class ClipImageEncoder implements FeatureEncoder {
  readonly id: string;
  readonly name: string;
  readonly embedDim: number;
  readonly numBlocks: number;
  readonly defaultTokenBlock: number;
  readonly inputResolution: number;
  private readonly resize = new ResizeMatrixCache();
  private disposed = false;

  constructor(
    readonly vision: ClipVisionTransformer,
    readonly text: ClipTextTransformer | null = null,
    info: { id?: string; name?: string } = {},
  ) {
    const c = vision.config;
    const arch = vitName(c);
    this.id = info.id ?? `clip-${arch.toLowerCase().replace(/[^a-z0-9]+/g, '')}`;
    this.name = info.name ?? `CLIP ${arch}`;
    this.embedDim = c.embedDim;
    this.numBlocks = c.layers;
    this.inputResolution = c.inputResolution;
    this.defaultTokenBlock = Math.min(DEFAULT_TOKEN_BLOCK, c.layers - 1);
  }

  private checkBlock(tokenBlock: number): void {
    if (this.disposed) throw new Error(`${this.name}: encoder has been disposed`);
    if (!Number.isInteger(tokenBlock) || tokenBlock < 0 || tokenBlock >= this.numBlocks) {
      throw new ClipShapeError(`${this.name}: token block ${tokenBlock} out of range 0..${this.numBlocks - 1}`);
    }
  }

  /** Encodes already-normalised `[N, R, R, 3]` model inputs. */
  encodePixels(pixels: tf.Tensor4D, tokenBlock: number): EncoderFeatures {
    this.checkBlock(tokenBlock);
    return tidyFeatures(() => {
      const { embeds, blocks } = this.vision.forward(pixels, [tokenBlock]);
      const full = blocks.get(tokenBlock)!;
      const [n, l, d] = full.shape;
      return { embedding: l2Normalize(embeds), tokens: tf.slice(full, [0, 1, 0], [n, l - 1, d]) };
    });
  }

  encodeImages(images: tf.Tensor4D, tokenBlock: number): EncoderFeatures {
    this.checkBlock(tokenBlock);
    if (images.rank !== 4 || images.shape[3] !== 3) throw new ClipShapeError(`${this.name}: images must be NHWC with 3 channels, got [${images.shape.join(', ')}]`);
    return tidyFeatures(() => this.encodePixels(preprocessGenerated(images, this.inputResolution, this.resize), tokenBlock));
  }

  encodeReference(image: RgbaImage, tokenBlock: number): EncoderFeatures {
    this.checkBlock(tokenBlock);
    const r = this.inputResolution;
    const pixels = clipReferencePixels(image, r);
    return tidyFeatures(() => this.encodePixels(tf.tensor4d(pixels, [1, r, r, 3]), tokenBlock));
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
  });
}

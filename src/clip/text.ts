/**
 * OpenAI CLIP text tower (`encode_text`): token + positional embedding, causal transformer,
 * ln_final, the end-of-text token's feature (argmax of the ids: `<|endoftext|>` has the largest id)
 * times `text_projection`. Used for the zero-shot (text-driven) variant.
 */
import * as tf from '@tensorflow/tfjs';
import { disposeBlock, layerNorm, residualBlock, type LayerNormWeights, type ResidualBlockWeights } from './layers.ts';
import { blockParameters, ClipShapeError } from './vit.ts';

export interface ClipTextConfig {
  width: number;
  layers: number;
  heads: number;
  contextLength: number;
  vocabSize: number;
  embedDim: number;
}

export interface ClipTextWeights {
  /** `[vocab, width]`. */
  tokenEmbedding: tf.Tensor2D;
  /** `[contextLength, width]`. */
  positionalEmbedding: tf.Tensor2D;
  blocks: ResidualBlockWeights[];
  lnFinal: LayerNormWeights;
  /** `[width, embedDim]`, or null when the file has none. */
  projection: tf.Tensor2D | null;
}

export class ClipTextTransformer {
  /** Additive causal mask (PyTorch fills the upper triangle with −inf; a large finite value gives the same softmax and finite gradients). */
  private readonly mask: tf.Tensor2D;

  constructor(
    readonly config: ClipTextConfig,
    readonly weights: ClipTextWeights,
  ) {
    const l = config.contextLength;
    const m = new Float32Array(l * l);
    for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) m[i * l + j] = -1e9;
    this.mask = tf.tensor2d(m, [l, l]);
  }

  /**
   * ids: `[N, L]` token ids (L ≤ context length, as produced by `ClipTokenizer.tokenize`).
   * Returns `[N, embedDim]` text features, not normalised. Disposes its intermediates.
   */
  encode(ids: Int32Array | number[], n: number): tf.Tensor2D {
    const total = ids.length;
    const l = total / n;
    const { contextLength, width, vocabSize, heads } = this.config;
    if (!Number.isInteger(l) || l < 1 || l > contextLength) {
      throw new ClipShapeError(`text ids: ${total} values do not form ${n} rows of at most ${contextLength} tokens`);
    }
    const eot: number[] = [];
    for (let r = 0; r < n; r++) {
      let best = 0;
      for (let j = 1; j < l; j++) if (ids[r * l + j] > ids[r * l + best]) best = j;
      eot.push(r * l + best);
      for (let j = 0; j < l; j++) {
        const id = ids[r * l + j];
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) throw new ClipShapeError(`token id ${id} outside the vocabulary (0..${vocabSize - 1})`);
      }
    }
    return tf.tidy(() => {
      const w = this.weights;
      const tokens = tf.gather(w.tokenEmbedding, tf.tensor1d(Int32Array.from(ids), 'int32'));
      const pos = tf.slice(w.positionalEmbedding, [0, 0], [l, width]);
      let x = tf.add(tf.reshape(tokens, [n, l, width]), pos) as tf.Tensor3D;
      const mask = l === contextLength ? this.mask : tf.slice(this.mask, [0, 0], [l, l]);
      for (const b of w.blocks) x = residualBlock(x, b, heads, mask);
      x = layerNorm(x, w.lnFinal) as tf.Tensor3D;
      const pooled = tf.gather(tf.reshape(x, [n * l, width]), tf.tensor1d(eot, 'int32')) as tf.Tensor2D;
      return w.projection ? tf.matMul(pooled, w.projection) : pooled;
    });
  }

  parameterCount(): number {
    const w = this.weights;
    let total = w.tokenEmbedding.size + w.positionalEmbedding.size + w.lnFinal.gamma.size * 2 + (w.projection?.size ?? 0);
    for (const b of w.blocks) total += blockParameters(b);
    return total;
  }

  dispose(): void {
    const w = this.weights;
    for (const t of [w.tokenEmbedding, w.positionalEmbedding, w.lnFinal.gamma, w.lnFinal.beta, this.mask]) t.dispose();
    w.projection?.dispose();
    for (const b of w.blocks) disposeBlock(b);
  }
}

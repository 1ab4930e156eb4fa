/**
 * μ_s, the mean encoder embedding of source-domain images (spec C.4.1): N source renders at
 * training-distribution cameras (seeded, frontal conditioning), each embedding L2-normalised, their
 * mean re-normalised (DoRM). Computed in batches with progress; callers cache the result per
 * (generator SHA-256, encoder id, settings) because it does not depend on the reference.
 */
import * as tf from '@tensorflow/tfjs';
import { AppError } from '../core/errors.ts';
import { Random } from '../core/random.ts';
import { frontalCamera } from '../eg3d/camera.ts';
import type { FeatureEncoder } from '../clip/encoder.ts';
import { l2Normalize } from './losses.ts';
import type { MethodOptions } from './options.ts';
import { sampleBatch, type AdaptableGenerator } from './trainer.ts';

export interface MeanEmbeddingOptions {
  samples: number;
  batch: number;
  seed: number;
  psi: number;
  options: MethodOptions;
  onProgress?: (done: number, total: number) => void;
  /** Checked between batches; return true to abort (throws 'cancelled'). */
  shouldStop?: () => boolean;
}

export class MeanEmbeddingCancelled extends AppError {
  constructor() {
    super('cancelled', 'mean-embedding computation cancelled');
  }
}

/** Cache key: everything μ_s depends on. */
export function meanEmbeddingKey(generatorSha: string, encoderId: string, o: Pick<MeanEmbeddingOptions, 'samples' | 'seed' | 'psi'>): string {
  return `${generatorSha}|${encoderId}|n=${o.samples}|seed=${o.seed}|psi=${o.psi}`;
}

/** Returns μ_s as a plain array (kept off the GPU between runs). */
export async function computeMeanEmbedding(generator: AdaptableGenerator, encoders: FeatureEncoder[], opts: MeanEmbeddingOptions): Promise<Float32Array[]> {
  const sums = encoders.map((e) => new Float64Array(e.embedDim));
  // A stream of its own so μ_s does not consume the training draws.
  const rng = new Random((opts.seed ^ 0x5eed5eed) >>> 0);
  const cond = frontalCamera();
  let done = 0;
  opts.onProgress?.(0, opts.samples);
  while (done < opts.samples) {
    if (opts.shouldStop?.()) throw new MeanEmbeddingCancelled();
    const b = Math.min(opts.batch, opts.samples - done);
    const { z, cameras, draws } = sampleBatch(generator, b, rng, { ...opts.options, renderDraws: 'deterministic' });
    const embeddings = tf.tidy(() => {
      const cCond = tf.tensor2d(new Float32Array(b * 25).map((_, i) => cond[i % 25]), [b, 25]);
      const ws = generator.mapping(tf.tensor2d(z, [b, generator.config.zDim]), cCond, opts.psi, null);
      const planes = generator.planes(ws);
      const { features } = generator.render(planes, tf.tensor2d(cameras, [b, 25]), draws);
      const [n, h, w] = features.shape;
      const image = generator.superresolve(tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]), features, ws);
      return encoders.map((e) => l2Normalize(e.encodeImages(image, e.defaultTokenBlock).embedding));
    });
    for (let k = 0; k < encoders.length; k++) {
      const data = await embeddings[k].data();
      embeddings[k].dispose();
      const d = encoders[k].embedDim;
      for (let i = 0; i < b; i++) for (let j = 0; j < d; j++) sums[k][j] += data[i * d + j];
    }
    done += b;
    opts.onProgress?.(done, opts.samples);
    // Let queued messages (cancel, pause) through between batches.
    await new Promise((r) => setTimeout(r, 0));
  }
  return sums.map((s) => {
    const norm = Math.sqrt(s.reduce((a, x) => a + x * x, 0)) || 1;
    return Float32Array.from(s, (x) => x / norm);
  });
}

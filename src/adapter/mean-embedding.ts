/**
 * μ_s, the mean encoder embedding of source-domain images (spec C.4.1): N source renders at
 * training-distribution cameras (seeded, frontal conditioning), each embedding L2-normalised, their
 * mean re-normalised (DoRM). Computed in batches with progress and cancellation. With it comes its
 * stability: the cosine between the normalised means of two independent halves of the samples (the
 * even- and the odd-indexed renders) — close to 1 when N is enough for the direction not to depend on
 * which renders were drawn. Callers cache the result per (generator, encoder, ψ, sampling): it does
 * not depend on the reference.
 */
import * as tf from '@tensorflow/tfjs';
import { AppError, SettingsError } from '../core/errors.ts';
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

/** μ_s of one encoder and how settled it is. */
export interface MeanEmbeddingEstimate {
  /** Unit-length mean of the unit-length embeddings. */
  mean: Float32Array;
  samples: number;
  /** cos(normalised mean of the even-indexed samples, of the odd-indexed ones); NaN below 2 samples. */
  stability: number;
}

export class MeanEmbeddingCancelled extends AppError {
  constructor() {
    super('cancelled', 'mean-embedding computation cancelled');
  }
}

/** μ_s's own random stream (derived from its seed) so it does not consume the training draws. */
function meanEmbeddingRandom(seed: number): Random {
  return new Random((seed ^ 0x5eed5eed) >>> 0);
}

/**
 * Everything besides generator, encoder, ψ and N that the samples depend on: the camera spread, the
 * renderer's resolution and samples per ray, the seed and the batch (the stream is drawn per batch).
 * Two estimates with the same description draw the same renders.
 */
export function meanEmbeddingSampling(generator: AdaptableGenerator, o: Pick<MeanEmbeddingOptions, 'seed' | 'batch' | 'options'>): string {
  const r = generator.renderShape;
  return `seed=${o.seed};batch=${o.batch};yawStd=${o.options.yawStd};pitchStd=${o.options.pitchStd};render=${r.resolution}/${r.coarse}/${r.fine}`;
}

function normalised(sum: Float64Array): Float32Array {
  let sq = 0;
  for (const x of sum) sq += x * x;
  const norm = Math.sqrt(sq) || 1;
  return Float32Array.from(sum, (x) => x / norm);
}

/** Cosine of two vectors (NaN when either is zero). */
function cosine(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : NaN;
}

/** μ_s of every encoder (rendered once, embedded by each), with its half-sample stability. */
export async function estimateMeanEmbedding(generator: AdaptableGenerator, encoders: FeatureEncoder[], opts: MeanEmbeddingOptions): Promise<MeanEmbeddingEstimate[]> {
  if (!Number.isSafeInteger(opts.samples) || opts.samples < 1) throw new SettingsError(`μ_s needs at least 1 sample (got ${opts.samples})`);
  if (!Number.isSafeInteger(opts.batch) || opts.batch < 1) throw new SettingsError(`the μ_s batch must be a positive integer (got ${opts.batch})`);
  // Per encoder: the sum of all samples (accumulated in sample order, as μ_s always was) and the sums
  // of the even- and odd-indexed samples (the two halves).
  const sums = encoders.map((e) => new Float64Array(e.embedDim));
  const halves = encoders.map((e) => [new Float64Array(e.embedDim), new Float64Array(e.embedDim)] as const);
  const rng = meanEmbeddingRandom(opts.seed);
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
    try {
      for (let k = 0; k < encoders.length; k++) {
        const data = await embeddings[k].data();
        const d = encoders[k].embedDim;
        for (let i = 0; i < b; i++) {
          const half = halves[k][(done + i) % 2];
          for (let j = 0; j < d; j++) {
            const x = data[i * d + j];
            sums[k][j] += x;
            half[j] += x;
          }
        }
      }
    } finally {
      for (const t of embeddings) t.dispose();
    }
    done += b;
    opts.onProgress?.(done, opts.samples);
    // Let queued messages (cancel, pause) through between batches.
    await new Promise((r) => setTimeout(r, 0));
  }
  return sums.map((s, k) => ({ mean: normalised(s), samples: opts.samples, stability: opts.samples < 2 ? NaN : cosine(halves[k][0], halves[k][1]) }));
}

/** μ_s of every encoder, as plain arrays (kept off the GPU between runs). */
export async function computeMeanEmbedding(generator: AdaptableGenerator, encoders: FeatureEncoder[], opts: MeanEmbeddingOptions): Promise<Float32Array[]> {
  return (await estimateMeanEmbedding(generator, encoders, opts)).map((e) => e.mean);
}

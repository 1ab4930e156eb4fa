/**
 * μ_s with its half-sample stability: on a synthetic generator + encoder (cheap, so hundreds of
 * samples) the stability is exactly 1 for identical samples, low for few noisy samples and close to 1
 * for many; on the tiny EG3D fixture μ_s is the normalised mean of the normalised embeddings of the
 * renders drawn from its seeded stream, exactly as before the stability was added.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { frontalCamera } from '../eg3d/camera.ts';
import type { EG3DConfig } from '../eg3d/config.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import type { EncoderFeatures, FeatureEncoder } from '../clip/encoder.ts';
import { tinyClip, tinyGenerator, tinyView } from '../testing/fixtures.ts';
import type { GeneratorView } from './generator-view.ts';
import { computeMeanEmbedding, estimateMeanEmbedding, MeanEmbeddingCancelled, meanEmbeddingSampling } from './mean-embedding.ts';
import { DEFAULT_METHOD_OPTIONS } from './options.ts';
import { sampleBatch, type AdaptableGenerator } from './trainer.ts';

const Z_DIM = 6;
const SIDE = 2;

/** A generator whose "render" is a fixed linear map of z to a 2×2 RGB image (no EG3D involved). */
function syntheticGenerator(): AdaptableGenerator {
  const rng = new Random(99);
  const w = tf.tensor2d(rng.normalArray(Z_DIM * SIDE * SIDE * 3), [Z_DIM, SIDE * SIDE * 3]);
  const g: AdaptableGenerator = {
    config: { zDim: Z_DIM, rendering: { avgCameraPivot: [0, 0, 0.2], avgCameraRadius: 2.7 } } as unknown as EG3DConfig,
    weights: new Map([['w', w]]),
    renderShape: { resolution: SIDE, coarse: 1, fine: 1 },
    mapping: (z) => tf.expandDims(z, 1) as tf.Tensor3D,
    planes: (ws) => tf.squeeze(ws, [1]),
    render: (planes) => {
      const n = planes.shape[0];
      const features = tf.reshape(tf.matMul(planes as tf.Tensor2D, w), [n, SIDE, SIDE, 3]) as tf.Tensor4D;
      return { features, depth: tf.zeros([n, SIDE, SIDE, 1]) as tf.Tensor4D };
    },
    superresolve: (raw) => tf.clone(raw),
    withWeights: () => g,
  };
  return g;
}

/** An encoder embedding base + noise · (fixed projection of the image): noise 0 = every image the same embedding. */
function syntheticEncoder(noise: number, embedDim = 8): FeatureEncoder {
  const rng = new Random(7);
  const base = tf.tensor1d(rng.normalArray(embedDim));
  const proj = tf.tensor2d(rng.normalArray(SIDE * SIDE * 3 * embedDim), [SIDE * SIDE * 3, embedDim]);
  const features = (images: tf.Tensor4D): EncoderFeatures => {
    const n = images.shape[0];
    const embedding = tf.add(base, tf.mul(tf.matMul(tf.reshape(images, [n, -1]) as tf.Tensor2D, proj), noise / Math.sqrt(SIDE * SIDE * 3))) as tf.Tensor2D;
    return { embedding, tokens: tf.zeros([n, 1, embedDim]) as tf.Tensor3D, maps: [] };
  };
  return {
    id: `synthetic-${noise}`,
    name: 'synthetic',
    embedDim,
    numBlocks: 1,
    defaultTokenBlock: 0,
    defaultMapBlocks: [0],
    encodeImages: features,
    encodeReference: () => {
      throw new Error('not used');
    },
    parameterCount: () => base.size + proj.size,
    dispose: () => {
      base.dispose();
      proj.dispose();
    },
  };
}

const opts = (samples: number, batch = 8) => ({ samples, batch, seed: 3, psi: 1, options: DEFAULT_METHOD_OPTIONS });

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('μ_s stability on a synthetic generator', () => {
  let gen: AdaptableGenerator;
  let still: FeatureEncoder;
  let noisy: FeatureEncoder;
  beforeAll(() => {
    gen = syntheticGenerator();
    still = syntheticEncoder(0);
    noisy = syntheticEncoder(0.4);
  });
  afterAll(() => {
    still.dispose();
    noisy.dispose();
    for (const t of gen.weights.values()) t.dispose();
  });

  it('identical samples: stability 1 and μ_s the normalised embedding', async () => {
    const [m] = await estimateMeanEmbedding(gen, [still], opts(6));
    expect(m.samples).toBe(6);
    expect(m.stability).toBeCloseTo(1, 6);
    const one = tf.tidy(() => tf.div(still.encodeImages(tf.zeros([1, SIDE, SIDE, 3]), 0).embedding, tf.norm(still.encodeImages(tf.zeros([1, SIDE, SIDE, 3]), 0).embedding)).dataSync());
    expect(Array.from(m.mean).map((x, i) => x - one[i]).every((d) => Math.abs(d) < 1e-6)).toBe(true);
  });

  it('few noisy samples are unstable, many are stable, and stability grows with the sample count', async () => {
    const counts = [4, 32, 512];
    const stabilities: number[] = [];
    for (const n of counts) stabilities.push((await estimateMeanEmbedding(gen, [noisy], opts(n, 64)))[0].stability);
    expect(stabilities[0]).toBeLessThan(0.9);
    expect(stabilities[1]).toBeGreaterThan(stabilities[0]);
    expect(stabilities[2]).toBeGreaterThan(stabilities[1]);
    expect(stabilities[2]).toBeGreaterThan(0.99);
    expect(stabilities[2]).toBeLessThan(1);
  });

  it('both encoders from the same renders; one sample has no stability (NaN)', async () => {
    const [a, b] = await estimateMeanEmbedding(gen, [still, noisy], opts(1));
    expect(a.samples).toBe(1);
    expect(a.stability).toBeNaN();
    expect(b.stability).toBeNaN();
    const [b2] = await estimateMeanEmbedding(gen, [noisy], opts(1));
    expect(Array.from(b2.mean)).toEqual(Array.from(b.mean));
  });

  it('reports progress per batch and stops between batches when asked', async () => {
    const seen: [number, number][] = [];
    await estimateMeanEmbedding(gen, [noisy], { ...opts(10, 4), onProgress: (d, t) => seen.push([d, t]) });
    expect(seen).toEqual([[0, 10], [4, 10], [8, 10], [10, 10]]);
    let batches = 0;
    const before = tf.memory().numTensors;
    const run = estimateMeanEmbedding(gen, [noisy], { ...opts(10, 4), onProgress: () => batches++, shouldStop: () => batches >= 2 });
    await expect(run).rejects.toBeInstanceOf(MeanEmbeddingCancelled);
    expect(batches).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses a sample count or batch below 1', async () => {
    await expect(estimateMeanEmbedding(gen, [noisy], opts(0))).rejects.toMatchObject({ kind: 'bad-settings' });
    await expect(estimateMeanEmbedding(gen, [noisy], opts(4, 0))).rejects.toMatchObject({ kind: 'bad-settings' });
  });

  it('describes what the samples depend on besides generator, encoder, ψ and N', () => {
    const s = meanEmbeddingSampling(gen, { seed: 3, batch: 4, options: DEFAULT_METHOD_OPTIONS });
    expect(s).not.toBe(meanEmbeddingSampling(gen, { seed: 3, batch: 4, options: { ...DEFAULT_METHOD_OPTIONS, yawStd: 0.1 } }));
    expect(s).not.toBe(meanEmbeddingSampling(gen, { seed: 4, batch: 4, options: DEFAULT_METHOD_OPTIONS }));
    expect(s).toBe(meanEmbeddingSampling(gen, { seed: 3, batch: 4, options: { ...DEFAULT_METHOD_OPTIONS, previewLatents: 5 } }));
  });
});

describe('μ_s on the tiny EG3D fixture', () => {
  let eg3d: EG3DGenerator;
  let view: GeneratorView;
  let clip: FeatureEncoder;
  beforeAll(async () => {
    eg3d = await tinyGenerator();
    view = tinyView(eg3d);
    clip = await tinyClip();
  });
  afterAll(() => {
    clip?.dispose();
    eg3d?.dispose();
  });

  it('is the normalised mean of the normalised embeddings of its seeded renders (unchanged by the stability)', async () => {
    const o = opts(5, 2);
    const [est] = await estimateMeanEmbedding(view, [clip], o);
    // (measured on a second call: the first one creates the renderer's and encoder's cached constants)
    const before = tf.memory().numTensors;
    const [again] = await estimateMeanEmbedding(view, [clip], o);
    expect(tf.memory().numTensors).toBe(before);
    expect(Array.from(again.mean)).toEqual(Array.from(est.mean));
    // Reference: the same renders (μ_s's own stream: seed ^ 0x5eed5eed, batches of 2), one sample at a time.
    const rng = new Random((o.seed ^ 0x5eed5eed) >>> 0);
    const rows: Float32Array[] = [];
    for (let done = 0; done < o.samples; done += o.batch) {
      const b = Math.min(o.batch, o.samples - done);
      const { z, cameras } = sampleBatch(view, b, rng, { ...DEFAULT_METHOD_OPTIONS, renderDraws: 'deterministic' });
      const emb = tf.tidy(() => {
        const ws = view.mapping(tf.tensor2d(z, [b, view.config.zDim]), tf.tensor2d(Array.from({ length: b }, () => [...frontalCamera()]).flat(), [b, 25]), o.psi, null);
        const image = view.synthesize(ws, tf.tensor2d(cameras, [b, 25]), { kind: 'deterministic' }).image;
        return clip.encodeImages(image, clip.defaultTokenBlock).embedding;
      });
      const data = emb.dataSync();
      emb.dispose();
      for (let i = 0; i < b; i++) rows.push(data.slice(i * clip.embedDim, (i + 1) * clip.embedDim) as Float32Array);
    }
    const unit = (v: ArrayLike<number>) => {
      const n = Math.hypot(...Array.from(v));
      return Array.from(v, (x) => x / n);
    };
    const sum = new Array<number>(clip.embedDim).fill(0);
    const halves = [new Array<number>(clip.embedDim).fill(0), new Array<number>(clip.embedDim).fill(0)];
    rows.forEach((r, k) => unit(r).forEach((x, j) => ((sum[j] += x), (halves[k % 2][j] += x))));
    const expected = unit(sum);
    expect(est.mean.length).toBe(clip.embedDim);
    expected.forEach((x, j) => expect(est.mean[j]).toBeCloseTo(x, 5));
    const [a, b] = halves.map(unit);
    expect(est.stability).toBeCloseTo(a.reduce((s, x, j) => s + x * b[j], 0), 5);
    expect(est.stability).toBeLessThan(1);
    // The plain-array API gives the same μ_s.
    const [plain] = await computeMeanEmbedding(view, [clip], o);
    expect(Array.from(plain)).toEqual(Array.from(est.mean));
  });
});

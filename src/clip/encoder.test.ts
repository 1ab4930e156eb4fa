import { beforeAll, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { loadClipEncoder, type ClipImageEncoder } from './encoder.ts';
import { ResizeMatrixCache, preprocessGenerated } from './preprocess.ts';
import { ClipShapeError } from './vit.ts';
import { ClipTokenizer } from './tokenizer.ts';
import { readFileSync } from 'node:fs';
import { gunzipSync, strFromU8 } from 'fflate';

const PT = '../shared/fixtures/clip-tiny.pt';

function rgba(width: number, height: number): { width: number; height: number; data: Uint8ClampedArray } {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) data.set([(i * 7) % 256, (i * 13) % 256, (i * 29) % 256, 255], i * 4);
  return { width, height, data };
}

describeBackends('ClipImageEncoder (FeatureEncoder)', () => {
  let enc: ClipImageEncoder;
  beforeAll(async () => {
    enc = await loadClipEncoder(await NodeFileByteSource.open(PT), { text: true, textHeads: 4 });
  });

  it('describes itself', () => {
    expect(enc).toMatchObject({ id: 'clip-vitw6416', embedDim: 32, numBlocks: 3, defaultTokenBlock: 2, inputResolution: 64 });
    expect(enc.name).toBe('CLIP ViT-w64/16 (OpenAI TorchScript .pt)');
  });

  it('gives unit embeddings and the chosen block’s patch tokens (CLS dropped) for generated images', async () => {
    const images = tf.randomUniform([2, 50, 40, 3], -1, 1) as tf.Tensor4D;
    const f = enc.encodeImages(images, 1);
    expect(f.embedding.shape).toEqual([2, 32]);
    expect(f.tokens.shape).toEqual([2, 16, 64]);
    const norms = tf.tidy(() => tf.norm(f.embedding, 'euclidean', 1));
    for (const n of await norms.data()) expect(n).toBeCloseTo(1, 5);
    // Same as the full forward on the preprocessed pixels, block 1 without its first (CLS) row.
    const cache = new ResizeMatrixCache();
    const ref = tf.tidy(() => {
      const all = enc.forwardAllBlocks(preprocessGenerated(images, 64, cache));
      return tf.slice(all.blocks[1], [0, 1, 0], [2, 16, 64]);
    });
    expect(Array.from(await f.tokens.data())).toEqual(Array.from(await ref.data()));
    tf.dispose([images, f.embedding, f.tokens, norms, ref]);
    cache.dispose();
  });

  it('gives block maps as the patch-token grid (CLS dropped) of each asked block', async () => {
    expect(enc.defaultMapBlocks).toEqual([0]);
    const images = tf.randomUniform([2, 50, 40, 3], -1, 1) as tf.Tensor4D;
    const f = enc.encodeImages(images, 2, [0, 1]);
    expect(f.maps.map((m) => m.shape)).toEqual([[2, 4, 4, 64], [2, 4, 4, 64]]);
    const t1 = enc.encodeImages(images, 1);
    expect(Array.from(await f.maps[1].data())).toEqual(Array.from(await t1.tokens.data()));
    expect(t1.maps).toEqual([]);
    const r = enc.encodeReference(rgba(90, 70), 2, [2]);
    expect(Array.from(await r.maps[0].data())).toEqual(Array.from(await r.tokens.data()));
    expect(() => enc.encodeImages(images, 2, [3])).toThrow(ClipShapeError);
    tf.dispose([images, f.embedding, f.tokens, ...f.maps, t1.embedding, t1.tokens, r.embedding, r.tokens, ...r.maps]);
  });

  it('has non-zero, finite gradients w.r.t. the images', async () => {
    const images = tf.randomUniform([2, 48, 48, 3], -1, 1) as tf.Tensor4D;
    const target = tf.randomNormal([2, 32]);
    const g = tf.grad((x: tf.Tensor) => {
      const f = enc.encodeImages(x as tf.Tensor4D, enc.defaultTokenBlock);
      return tf.add(tf.sum(tf.mul(f.embedding, target)), tf.mean(tf.square(f.tokens)));
    })(images);
    const d = await g.data();
    expect(d.every(Number.isFinite)).toBe(true);
    expect(d.some((v) => Math.abs(v) > 1e-6)).toBe(true);
    tf.dispose([images, target, g]);
  });

  it('leaks no tensors across repeated encodes (forward and backward)', () => {
    const images = tf.randomUniform([1, 64, 64, 3], -1, 1) as tf.Tensor4D;
    const run = () => {
      const f = enc.encodeImages(images, 0);
      const g = tf.grad((x: tf.Tensor) => tf.sum(enc.encodeImages(x as tf.Tensor4D, 2).tokens))(images);
      const r = enc.encodeReference(rgba(90, 70), 1);
      tf.dispose([f.embedding, f.tokens, g, r.embedding, r.tokens]);
    };
    run();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) run();
    expect(tf.memory().numTensors).toBe(before);
    images.dispose();
  });

  it('encodes a reference image with CLIP’s own transform', async () => {
    const f = enc.encodeReference(rgba(90, 70), 2);
    expect(f.embedding.shape).toEqual([1, 32]);
    expect(f.tokens.shape).toEqual([1, 16, 64]);
    expect((await f.tokens.data()).every(Number.isFinite)).toBe(true);
    tf.dispose([f.embedding, f.tokens]);
  });

  it('encodes text to unit vectors', async () => {
    const ids = new Int32Array(2 * 77);
    ids.set([49406, 320, 1125, 49407], 0);
    ids.set([49406, 320, 5269, 539, 49407], 77);
    const e = enc.encodeText(ids, 2);
    expect(e.shape).toEqual([2, 32]);
    const n = tf.tidy(() => tf.norm(e, 'euclidean', 1));
    for (const v of await n.data()) expect(v).toBeCloseTo(1, 5);
    tf.dispose([e, n]);
  });

  it('encodes prompts through the BPE tokenizer like the fixture ids', async () => {
    const tok = new ClipTokenizer(strFromU8(gunzipSync(readFileSync('../shared/fixtures/clip-bpe-vocab.txt.gz'))));
    const prompts = ['a photo of a face.', 'a sketch of a person'];
    const a = enc.encodePrompts(prompts, tok);
    const b = enc.encodeText(tok.tokenize(prompts), 2);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([a, b]);
  });

  it('rejects bad token blocks and bad image shapes', () => {
    const images = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
    expect(() => enc.encodeImages(images, 3)).toThrow(ClipShapeError);
    expect(() => enc.encodeImages(images, -1)).toThrow(ClipShapeError);
    const fourChannels = tf.zeros([1, 32, 32, 4]) as tf.Tensor4D;
    expect(() => enc.encodeImages(fourChannels, 0)).toThrow(/3 channels/);
    expect(() => enc.forwardAllBlocks(images)).toThrow(/expects \[N, 64, 64, 3\]/);
    tf.dispose([images, fourChannels]);
  });

  it('frees every tensor on dispose', async () => {
    const before = tf.memory().numTensors;
    const other = await loadClipEncoder(await NodeFileByteSource.open(PT));
    const images = tf.zeros([1, 20, 20, 3]) as tf.Tensor4D;
    const f = other.encodeImages(images, 0);
    tf.dispose([f.embedding, f.tokens]);
    other.dispose();
    expect(() => other.encodeImages(images, 0)).toThrow(/disposed/);
    images.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

/**
 * Image-encoder timings on the context's backend: CLIP ViT-B/32 and ViT-B/16 (random weights in
 * memory, 224² inputs) and the embedded MobileNetV2 default encoder; forward, and forward + backward
 * to the input pixels (what the adaptation losses need), in ms per image.
 * Slow software backends (webgpu on SwiftShader) use batch 1 and skip what would take minutes.
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchContext } from '../bench.ts';
import { ClipImageEncoder, type FeatureEncoder } from '../../src/clip/encoder.ts';
import { loadDefaultEncoder } from '../../src/clip/default-encoder.ts';
import { OPENAI_VIT_CONFIGS, randomVisionTransformer } from '../../src/clip/vit.ts';

/** A first forward slower than this (ms) is reported alone and the rest skipped (webgpu on SwiftShader: minutes). */
const SLOW_FORWARD_MS = 60_000;

async function timed(fn: () => tf.Tensor[]): Promise<number> {
  const t0 = performance.now();
  const out = fn();
  await Promise.all(out.map((t) => t.data())); // waits for GPU backends too
  const ms = performance.now() - t0;
  tf.dispose(out);
  return ms;
}

interface Pixels {
  /** Model-input pixels (already preprocessed): what `encodePixels` takes. */
  run: (x: tf.Tensor4D, block: number) => { embedding: tf.Tensor2D; tokens: tf.Tensor3D };
  size: number;
}

async function benchEncoder(ctx: BenchContext, label: string, enc: FeatureEncoder, px: Pixels, batch: number): Promise<void> {
  const x = tf.randomUniform([batch, px.size, px.size, 3], -1, 1) as tf.Tensor4D;
  const target = tf.randomNormal([batch, enc.embedDim]);
  const block = enc.defaultTokenBlock;
  const forward = () => {
    const f = px.run(x, block);
    return [f.embedding, f.tokens];
  };
  const backward = () => [
    tf.grad((v: tf.Tensor) => {
      const f = px.run(v as tf.Tensor4D, block);
      return tf.add(tf.sum(tf.mul(f.embedding, target)), tf.mean(tf.square(f.tokens)));
    })(x),
  ];
  try {
    const warm = await timed(forward);
    const fwd = warm > SLOW_FORWARD_MS ? warm : Math.min(await timed(forward), await timed(forward));
    ctx.report(`${label} forward ${px.size}², batch ${batch}`, fwd / batch, 'ms/image', warm > SLOW_FORWARD_MS ? 'first run only (incl. shader compilation / packing); slow backend' : 'best of 2 after warm-up');
    if (warm > SLOW_FORWARD_MS) {
      console.log(`| clip | ${label} forward+backward | ${ctx.backend} | | | skipped: forward alone took ${(warm / 1000).toFixed(0)} s |`);
      return;
    }
    const warmB = await timed(backward);
    const fb = warmB > SLOW_FORWARD_MS ? warmB : await timed(backward);
    ctx.report(`${label} forward+backward ${px.size}², batch ${batch}`, fb / batch, 'ms/image', 'gradient w.r.t. input pixels');
  } finally {
    tf.dispose([x, target]);
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  // SwiftShader runs WebGPU on the CPU: one image at a time keeps it to minutes.
  const batch = ctx.backend === 'webgpu' ? 1 : 2;
  for (const name of ['ViT-B/32', 'ViT-B/16'] as const) {
    const enc = new ClipImageEncoder(randomVisionTransformer(OPENAI_VIT_CONFIGS[name], 1));
    try {
      await benchEncoder(ctx, `CLIP ${name} (random weights)`, enc, { run: (x, b) => enc.encodePixels(x, b), size: enc.inputResolution }, batch);
    } finally {
      enc.dispose();
    }
  }
  const mnv2 = await loadDefaultEncoder();
  try {
    await benchEncoder(ctx, 'MobileNetV2 default encoder', mnv2, { run: (x, b) => mnv2.encodePixels(x, b), size: 224 }, batch);
  } finally {
    mnv2.dispose();
  }
}

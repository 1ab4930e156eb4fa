/**
 * Rendering for the engine: single views for the viewer (source, adapted, or interpolated weights;
 * RGB, raw or depth) and the run's fixed preview grid, as RGBA8 images the caller owns.
 */
import * as tf from '@tensorflow/tfjs';
import { cameraFromYawPitch, frontalCamera } from '../eg3d/camera.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import type { GeneratorView } from '../adapter/generator-view.ts';
import type { MethodOptions } from '../adapter/options.ts';
import { latentFromSeed } from '../adapter/trainer.ts';
import type { LoadedGenerator } from './models.ts';
import type { RenderRequest, RgbaImage } from './types.ts';

export const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/** [N,H,W,3] in [−1,1] → RGBA8 images (EG3D's 8-bit conversion: x·127.5 + 128, clamped). */
async function toRgbaImages(images: tf.Tensor4D): Promise<RgbaImage[]> {
  const [n, h, w] = images.shape;
  const bytes = tf.tidy(() => tf.clipByValue(tf.add(tf.mul(images, 127.5), 128), 0, 255));
  const data = await bytes.data();
  bytes.dispose();
  const out: RgbaImage[] = [];
  for (let i = 0; i < n; i++) {
    const px = new Uint8ClampedArray(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      const s = (i * w * h + p) * 3;
      px[p * 4] = data[s];
      px[p * 4 + 1] = data[s + 1];
      px[p * 4 + 2] = data[s + 2];
      px[p * 4 + 3] = 255;
    }
    out.push({ width: w, height: h, data: px });
  }
  return out;
}

/**
 * One view of the base generator with the adapted weights blended in by `request.strength`
 * (0 = source, 1 = adapted; in between, base + s·(adapted − base) per tensor).
 */
export async function renderView(gen: LoadedGenerator, adapted: ReadonlyMap<string, tf.Tensor> | null, request: RenderRequest): Promise<RgbaImage> {
  const s = Math.min(1, Math.max(0, request.strength));
  const image = tf.tidy(() => {
    let view: GeneratorView = gen.view;
    if (adapted && s > 0) {
      const overrides: WeightMap = new Map();
      for (const [k, t] of adapted) {
        overrides.set(k, s === 1 ? t : tf.add(gen.generator.weights.get(k)!, tf.mul(tf.sub(t, gen.generator.weights.get(k)!), s)));
      }
      view = gen.view.withWeights(overrides);
    }
    const zDim = view.config.zDim;
    const ws = view.mapping(tf.tensor2d(latentFromSeed(request.seed, zDim), [1, zDim]), tf.tensor2d(frontalCamera(), [1, 25]), request.psi, null);
    const cams = tf.tensor2d(cameraFromYawPitch(request.yaw, request.pitch), [1, 25]);
    const out = view.synthesize(ws, cams, { kind: 'deterministic' });
    if (request.mode === 'rgb') return out.image;
    if (request.mode === 'raw') return out.imageRaw;
    // depth → grey, near = white, over the batch's depth range
    const d = out.depth;
    const lo = tf.min(d);
    const hi = tf.max(d);
    const norm = tf.div(tf.sub(hi, d), tf.maximum(tf.sub(hi, lo), 1e-6));
    return tf.tile(tf.sub(tf.mul(norm, 2), 1), [1, 1, 1, 3]) as tf.Tensor4D;
  });
  const [img] = await toRgbaImages(image);
  image.dispose();
  return img;
}

/** The preview grid's cameras: `previewViews` yaws over ±previewYaw for latents (seeds) 0…previewLatents−1. */
export function previewCameras(options: MethodOptions): { yaws: number[]; seeds: number[] } {
  const v = options.previewViews;
  const yaws = v === 1 ? [0] : Array.from({ length: v }, (_, i) => -options.previewYaw + (2 * options.previewYaw * i) / (v - 1));
  const seeds = Array.from({ length: options.previewLatents }, (_, i) => i);
  return { yaws, seeds };
}

/** Fixed preview latents × views, deterministic renderer draws; latent-major order. */
export async function previewImages(view: GeneratorView, options: MethodOptions): Promise<RgbaImage[]> {
  return (await previewRenders(view, options)).images;
}

/** The preview grid (as previewImages) with each view's depth map at the neural rendering resolution (for the live estimate). */
export async function previewRenders(view: GeneratorView, options: MethodOptions): Promise<{ images: RgbaImage[]; depth: Float32Array[]; resolution: number }> {
  const { yaws, seeds } = previewCameras(options);
  const images: RgbaImage[] = [];
  const depth: Float32Array[] = [];
  let resolution = 0;
  for (const seed of seeds) {
    const [image, d] = tf.tidy(() => {
      const zDim = view.config.zDim;
      const ws = view.mapping(tf.tensor2d(latentFromSeed(seed, zDim), [1, zDim]), tf.tensor2d(frontalCamera(), [1, 25]), 1, null);
      const wsAll = tf.tile(ws, [yaws.length, 1, 1]) as tf.Tensor3D;
      const cams = tf.stack(yaws.map((y) => tf.tensor1d(cameraFromYawPitch(y, 0)))) as tf.Tensor2D;
      const out = view.synthesize(wsAll, cams, { kind: 'deterministic' });
      return [out.image, out.depth];
    });
    images.push(...(await toRgbaImages(image)));
    const r = d.shape[1]!;
    const values = (await d.data()) as Float32Array;
    for (let k = 0; k < yaws.length; k++) depth.push(values.slice(k * r * r, (k + 1) * r * r));
    resolution = r;
    tf.dispose([image, d]);
    await tick();
  }
  return { images, depth, resolution };
}

/**
 * Evaluation of a generator against the procedural ground truth (issue 6 item 4): held-out latents
 * (drawn from HELD_OUT_SEED, which no training step uses), 5 views per latent —
 * (yaw, pitch) = (−0.5, +0.2), (−0.25, −0.2), (0, 0), (+0.25, +0.2), (+0.5, −0.2) — rendered through
 * the EG3D code path (mapping with the frontal conditioning camera, ψ = 1, const noise, deterministic
 * renderer draws) and compared with `renderGroundTruth` of each latent's head: PSNR with peak-to-peak
 * 2 ([−1, 1] images) of the final image and of image_raw, and the mean absolute depth error (world
 * units) over foreground pixels (ground-truth head opacity > 0.5).
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from '../eg3d/camera.ts';
import type { EG3DGenerator } from '../eg3d/generator.ts';
import { headParamsFromLatent, ProceduralHead } from './heads.ts';
import { renderGroundTruth, toRgb8 } from './gt-render.ts';

/** Seed of the held-out latents; training draws its latents from per-step seeds (see train.ts). */
export const HELD_OUT_SEED = 0x5eed_e7a1;

export const EVAL_VIEWS: ReadonlyArray<readonly [number, number]> = [
  [-0.5, 0.2],
  [-0.25, -0.2],
  [0, 0],
  [0.25, 0.2],
  [0.5, -0.2],
];

export function heldOutLatents(count: number, zDim = 512): Float32Array[] {
  const rng = new Random(HELD_OUT_SEED);
  return Array.from({ length: count }, () => rng.normalArray(zDim));
}

/** PSNR of two [−1, 1] images (peak-to-peak 2). */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`psnr: sizes differ (${a.length} vs ${b.length})`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return 10 * Math.log10(4 / Math.max(se / a.length, 1e-12));
}

export interface EvalResult {
  /** Mean over renders of the final-image PSNR (dB). */
  psnrImage: number;
  /** Mean over renders of the image_raw PSNR (dB). */
  psnrRaw: number;
  /** Mean |depth − ground truth| over foreground pixels (world units). */
  depthError: number;
  renders: number;
  foregroundPixels: number;
}

export interface EvalOptions {
  count: number;
  /** Called after each latent (progress). */
  onLatent?: (done: number, partial: EvalResult) => void;
  /** Receives each latent's 8-bit renders and ground truths per view (for grids). */
  onImages?: (latentIndex: number, generated: Uint8Array[], groundTruth: Uint8Array[]) => void;
}

export async function evaluateGenerator(gen: EG3DGenerator, opts: EvalOptions): Promise<EvalResult> {
  const latents = heldOutLatents(opts.count, gen.config.zDim);
  const views = EVAL_VIEWS.map(([y, p]) => cameraFromYawPitch(y, p));
  const S = gen.config.imgResolution;
  const R = gen.config.neuralRenderingResolution;
  const pImg: number[] = [];
  const pRaw: number[] = [];
  let depthAbs = 0;
  let depthCount = 0;
  const summary = (): EvalResult => ({
    psnrImage: pImg.reduce((s, x) => s + x, 0) / Math.max(pImg.length, 1),
    psnrRaw: pRaw.reduce((s, x) => s + x, 0) / Math.max(pRaw.length, 1),
    depthError: depthAbs / Math.max(depthCount, 1),
    renders: pImg.length,
    foregroundPixels: depthCount,
  });
  for (let k = 0; k < latents.length; k++) {
    const head = new ProceduralHead(headParamsFromLatent(latents[k]));
    const out = tf.tidy(() => {
      const z = tf.tensor2d(latents[k], [1, latents[k].length]);
      const ws = tf.tile(gen.mapping(z, camerasTensor([frontalCamera()])), [views.length, 1, 1]) as tf.Tensor3D;
      const o = gen.synthesis(ws, camerasTensor(views), { noiseMode: 'const', draws: { kind: 'deterministic' } });
      return { image: o.image, imageRaw: o.imageRaw, imageDepth: o.imageDepth };
    });
    const image = (await out.image.data()) as Float32Array;
    const raw = (await out.imageRaw.data()) as Float32Array;
    const depth = (await out.imageDepth.data()) as Float32Array;
    tf.dispose([out.image, out.imageRaw, out.imageDepth]);
    const gen8: Uint8Array[] = [];
    const gt8: Uint8Array[] = [];
    for (let v = 0; v < views.length; v++) {
      const gtHi = renderGroundTruth(head, views[v], { resolution: S });
      const gtLo = renderGroundTruth(head, views[v], { resolution: R });
      const img = image.subarray(v * S * S * 3, (v + 1) * S * S * 3);
      pImg.push(psnr(img, gtHi.rgb));
      pRaw.push(psnr(raw.subarray(v * R * R * 3, (v + 1) * R * R * 3), gtLo.rgb));
      const d = depth.subarray(v * R * R, (v + 1) * R * R);
      for (let i = 0; i < R * R; i++) {
        if (gtLo.foreground[i] > 0.5) {
          depthAbs += Math.abs(d[i] - gtLo.depth[i]);
          depthCount++;
        }
      }
      if (opts.onImages) {
        gen8.push(toRgb8(img));
        gt8.push(toRgb8(gtHi.rgb));
      }
    }
    opts.onImages?.(k, gen8, gt8);
    opts.onLatent?.(k + 1, summary());
  }
  return summary();
}

/**
 * Super-resolution "G2" (spec A.10): SuperresolutionHybrid2X / 4X / 8X / 8XDC. Every style input is
 * ws[:, -1] (three rows per block); the raw RGB and feature image are resized (bilinear, optional
 * antialias) to the module's input resolution when the official condition says so. All convolutions
 * go through the wasm-trainable conv2d, so gradients w.r.t. `superresolution.*` and the inputs work.
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import { resizeBilinear } from '../nn/resize.ts';
import type { EG3DConfig } from './config.ts';
import { synthesisBlock } from './synthesis.ts';
import type { WeightMap } from './weights.ts';

export interface SuperresolveOptions {
  /** Only used when the SR noise mode is 'random'. */
  rng?: Random;
  /**
   * false: G2 is frozen (step 1 back-propagates through it to the features only), so its backward pass
   * computes no weight gradients. Default true.
   */
  weightGrad?: boolean;
}

/** imageRaw [N,R,R,3], features [N,R,R,32], ws [N,num_ws,512] → image [N,S,S,3]. */
export function runSuperresolution(
  config: EG3DConfig,
  weights: WeightMap,
  imageRaw: tf.Tensor4D,
  features: tf.Tensor4D,
  ws: tf.Tensor3D,
  opts: SuperresolveOptions = {},
): tf.Tensor4D {
  const sr = config.superresolution;
  const [n, h, w, c] = features.shape;
  if (c !== sr.channels) throw new Error(`superresolution: features must have ${sr.channels} channels (got ${c})`);
  if (imageRaw.shape[0] !== n || imageRaw.shape[1] !== h || imageRaw.shape[2] !== w || imageRaw.shape[3] !== 3) {
    throw new Error(`superresolution: image_raw [${imageRaw.shape}] does not match features [${features.shape}]`);
  }
  if (sr.noiseMode === 'random' && !opts.rng) throw new Error("superresolution: noise mode 'random' needs an rng");
  return tf.tidy(() => {
    const size = sr.inputResolution;
    // The official test looks at the width only.
    const resize = sr.resizeWhen === 'different' ? w !== size : w < size;
    let x = features;
    let rgb = imageRaw;
    if (resize) {
      x = resizeBilinear(x, size, size, sr.antialias);
      rgb = resizeBilinear(rgb, size, size, sr.antialias);
    }
    if (x.shape[1] !== sr.blocks[0].resolution / (sr.blocks[0].kind === 'up' ? 2 : 1)) {
      throw new Error(`superresolution: ${sr.className} needs ${size}² inputs (got ${x.shape[1]}×${x.shape[2]})`);
    }
    const d = ws.shape[2];
    const last = tf.slice(ws, [0, ws.shape[1] - 1, 0], [n, 1, d]);
    const blockWs = tf.tile(last, [1, 3, 1]) as tf.Tensor3D;
    let img: tf.Tensor4D = rgb;
    sr.blocks.forEach((b, i) => {
      const r = synthesisBlock(weights, { prefix: `superresolution.block${i}`, kind: b.kind, convClamp: sr.convClamp }, x, img, blockWs, {
        noiseMode: sr.noiseMode,
        rng: opts.rng,
        weightGrad: opts.weightGrad,
      });
      x = r.x;
      img = r.img;
    });
    return img;
  });
}

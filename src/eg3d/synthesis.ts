/**
 * EG3D synthesis backbone "G1" (StyleGAN2 SynthesisNetwork, skip architecture, 256², 96 channels;
 * spec A.5) and the SynthesisBlock it shares with the super-resolution module. NHWC throughout.
 * The output is split into tri-planes `[N, 3, H, W, 32]` (contract 2).
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import { synthesisLayer, toRgb, type NoiseMode, type SynthesisLayerParams, type ToRgbParams } from '../nn/modconv.ts';
import { upsample2d } from '../nn/upfirdn.ts';
import type { EG3DConfig } from './config.ts';
import { getWeight, type WeightMap } from './weights.ts';

export interface NoiseOptions {
  noiseMode: NoiseMode;
  /** Source of the standard-normal draws for noiseMode 'random'. */
  rng?: Random;
  /** false: the block's weights are frozen, its backward pass computes no weight gradients (default true). */
  weightGrad?: boolean;
}

export function layerParams(weights: WeightMap, prefix: string): SynthesisLayerParams {
  return {
    affineWeight: getWeight(weights, `${prefix}.affine.weight`),
    affineBias: getWeight(weights, `${prefix}.affine.bias`),
    weight: getWeight(weights, `${prefix}.weight`),
    bias: getWeight(weights, `${prefix}.bias`),
    noiseStrength: getWeight(weights, `${prefix}.noise_strength`),
    noiseConst: getWeight(weights, `${prefix}.noise_const`),
  };
}

export function toRgbParams(weights: WeightMap, prefix: string): ToRgbParams {
  return {
    affineWeight: getWeight(weights, `${prefix}.affine.weight`),
    affineBias: getWeight(weights, `${prefix}.affine.bias`),
    weight: getWeight(weights, `${prefix}.weight`),
    bias: getWeight(weights, `${prefix}.bias`),
  };
}

/** Row i of ws [N, K, D] as [N, D]. */
export function wRow(ws: tf.Tensor3D, i: number): tf.Tensor2D {
  const [n, , d] = ws.shape;
  return tf.slice(ws, [0, i, 0], [n, 1, d]).reshape([n, d]);
}

export interface SynthesisBlockSpec {
  prefix: string;
  /** 'up': conv0 up-samples ×2 and the incoming image is up-sampled; 'noup': SynthesisBlockNoUp; 'const': the 4×4 first block. */
  kind: 'const' | 'up' | 'noup';
  convClamp: number | null;
}

/**
 * One skip-architecture SynthesisBlock. `ws` holds this block's rows: [conv0,] conv1, torgb.
 * Returns the new features and img = (up-sampled) img + torgb(x). `img` is never modified in place
 * (the official no-up block adds into its input image in place; the port returns a new tensor).
 */
export function synthesisBlock(
  weights: WeightMap,
  spec: SynthesisBlockSpec,
  x: tf.Tensor4D | null,
  img: tf.Tensor4D | null,
  ws: tf.Tensor3D,
  noise: NoiseOptions,
): { x: tf.Tensor4D; img: tf.Tensor4D } {
  return tf.tidy(() => {
    const n = ws.shape[0];
    let h: tf.Tensor4D;
    let wi = 0;
    if (spec.kind === 'const') {
      const c = getWeight<tf.Tensor3D>(weights, `${spec.prefix}.const`);
      const hwc = tf.transpose(c, [1, 2, 0]).expandDims(0) as tf.Tensor4D;
      h = tf.tile(hwc, [n, 1, 1, 1]);
    } else {
      if (!x) throw new Error(`${spec.prefix}: block needs input features`);
      h = x;
    }
    const layerNoise = (res: number) => ({
      noiseMode: noise.noiseMode,
      randomNoise: noise.rng ? () => noise.rng!.normalArray(n * res * res) : undefined,
      convClamp: spec.convClamp,
      weightGrad: noise.weightGrad,
    });
    if (spec.kind !== 'const') {
      const p = layerParams(weights, `${spec.prefix}.conv0`);
      const res = p.noiseConst.shape[0];
      h = synthesisLayer(h, wRow(ws, wi++), p, { up: spec.kind === 'up' ? 2 : 1, ...layerNoise(res) });
    }
    const p1 = layerParams(weights, `${spec.prefix}.conv1`);
    h = synthesisLayer(h, wRow(ws, wi++), p1, { up: 1, ...layerNoise(p1.noiseConst.shape[0]) });
    const y = toRgb(h, wRow(ws, wi), toRgbParams(weights, `${spec.prefix}.torgb`), spec.convClamp, noise.weightGrad ?? true);
    let out: tf.Tensor4D;
    if (!img) out = y;
    else out = tf.add(spec.kind === 'up' ? upsample2d(img) : img, y);
    return { x: h, img: out };
  });
}

/** ws [N, num_ws, w_dim] → backbone image NHWC [N, 256, 256, 96]. */
export function runBackbone(config: EG3DConfig, weights: WeightMap, ws: tf.Tensor3D, noise: NoiseOptions): tf.Tensor4D {
  const [n, k, d] = ws.shape;
  if (k !== config.backbone.numWs || d !== config.wDim) throw new Error(`backbone: ws must be [N, ${config.backbone.numWs}, ${config.wDim}] (got [${ws.shape}])`);
  if (noise.noiseMode === 'random' && !noise.rng) throw new Error("backbone: noiseMode 'random' needs an rng");
  return tf.tidy(() => {
    let x: tf.Tensor4D | null = null;
    let img: tf.Tensor4D | null = null;
    for (const b of config.backbone.blocks) {
      const rows = (b.inChannels === 0 ? 1 : 2) + 1;
      const blockWs = tf.slice(ws, [0, b.wOffset, 0], [n, rows, d]) as tf.Tensor3D;
      const r = synthesisBlock(
        weights,
        { prefix: `backbone.synthesis.b${b.resolution}`, kind: b.inChannels === 0 ? 'const' : 'up', convClamp: config.backbone.convClamp },
        x,
        img,
        blockWs,
        noise,
      );
      x = r.x;
      img = r.img;
    }
    return img!;
  });
}

/** Backbone NHWC [N, H, W, 96] → planes [N, 3, H, W, 32] (plane p = channels 32p…32p+31). */
export function splitPlanes(backboneOut: tf.Tensor4D): tf.Tensor5D {
  const [n, h, w, c] = backboneOut.shape;
  if (c % 3 !== 0) throw new Error(`splitPlanes: ${c} channels cannot form 3 planes`);
  return tf.tidy(() => tf.transpose(backboneOut.reshape([n, h, w, 3, c / 3]), [0, 3, 1, 2, 4]) as tf.Tensor5D);
}

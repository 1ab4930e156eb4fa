/**
 * EG3D mapping network (spec A.3): z and the conditioning camera → w, broadcast to num_ws rows,
 * optional truncation towards w_avg. Includes TriPlaneGenerator's camera handling (c[:, :25] · c_scale,
 * or zeros when c_gen_conditioning_zero).
 */
import * as tf from '@tensorflow/tfjs';
import { fullyConnected, normalize2ndMoment } from '../nn/fc.ts';
import type { EG3DConfig } from './config.ts';
import { getWeight, type WeightMap } from './weights.ts';

export interface TruncationOptions {
  /** ψ; 1 = no truncation. */
  psi?: number;
  /** Truncate only the first `cutoff` rows; null/undefined = all rows. */
  cutoff?: number | null;
}

/** z [N, z_dim], cCond [N, ≥25] → ws [N, num_ws, w_dim]. */
export function runMapping(config: EG3DConfig, weights: WeightMap, z: tf.Tensor2D, cCond: tf.Tensor2D, opts: TruncationOptions = {}): tf.Tensor3D {
  const [n, zd] = z.shape;
  if (zd !== config.zDim) throw new Error(`mapping: z has ${zd} dims, the network expects ${config.zDim}`);
  if (cCond.shape[0] !== n || cCond.shape[1] < 25) throw new Error(`mapping: conditioning camera must be [${n}, 25] (got [${cCond.shape}])`);
  const psi = opts.psi ?? 1;
  const numWs = config.backbone.numWs;
  const cutoff = opts.cutoff ?? null;
  if (cutoff !== null && (cutoff < 0 || !Number.isInteger(cutoff))) throw new Error(`mapping: truncation cutoff must be a non-negative integer (got ${cutoff})`);
  return tf.tidy(() => {
    const r = config.rendering;
    let c = tf.slice(cCond, [0, 0], [n, 25]) as tf.Tensor2D;
    c = r.cGenConditioningZero ? tf.zerosLike(c) : (tf.mul(c, r.cScale) as tf.Tensor2D);
    const W = (name: string) => getWeight<tf.Tensor2D>(weights, `backbone.mapping.${name}.weight`);
    const B = (name: string) => getWeight<tf.Tensor1D>(weights, `backbone.mapping.${name}.bias`);
    const xz = normalize2ndMoment(z);
    const xc = normalize2ndMoment(fullyConnected(c, W('embed'), B('embed')));
    let x = tf.concat([xz, xc], 1) as tf.Tensor2D;
    for (let i = 0; i < config.mapping.numLayers; i++) {
      x = fullyConnected(x, W(`fc${i}`), B(`fc${i}`), { lrMul: config.mapping.lrMul, act: 'lrelu' });
    }
    let ws = tf.tile(x.reshape([n, 1, config.wDim]), [1, numWs, 1]) as tf.Tensor3D;
    if (psi !== 1) {
      const wAvg = getWeight<tf.Tensor1D>(weights, 'backbone.mapping.w_avg').reshape([1, 1, config.wDim]);
      const truncated = tf.add(wAvg, tf.mul(tf.sub(ws, wAvg), psi)) as tf.Tensor3D;
      const k = cutoff === null ? numWs : Math.min(cutoff, numWs);
      if (k >= numWs) ws = truncated;
      else if (k > 0) ws = tf.concat([tf.slice(truncated, [0, 0, 0], [n, k, config.wDim]), tf.slice(ws, [0, k, 0], [n, numWs - k, config.wDim])], 1) as tf.Tensor3D;
    }
    return ws;
  });
}

/**
 * A small random case for the fused per-point kernels and their CPU twin (fused-decoder-twin.ts):
 * planes `[2, 3, 7, 9, 32]` (batch element 1 sampled), rays with some samples outside the box and
 * the last sample of the first ray far away (all taps outside), an EG3D-sized decoder 32 → 64 → 33
 * and an upstream gradient dy.
 */
import { Random } from '../core/random.ts';
import type { TwinDecoder, TwinSamples } from '../eg3d/fused-decoder-twin.ts';

export interface FusedDecoderCase {
  samples: TwinSamples;
  decoder: TwinDecoder;
  dy: Float32Array;
  rays: number;
}

export function fusedDecoderCase(seed: number, rays: number, perRay: number, lrMul = 1): FusedDecoderCase {
  const rng = new Random(seed);
  const geom = { batch: 2, height: 7, width: 9, channels: 32 };
  const planes = rng.normalArray(geom.batch * 3 * geom.height * geom.width * geom.channels);
  const origins = rng.uniformArray(rays * 3).map((v) => (v - 0.5) * 0.6);
  const directions = rng.normalArray(rays * 3).map((v) => v * 0.3);
  const depths = rng.uniformArray(rays * perRay).map((v) => v * 2.5);
  depths[perRay - 1] = 1e7;
  const decoder: TwinDecoder = {
    inF: 32, hidden: 64, outF: 33, lrMul,
    w0: rng.normalArray(32 * 64), b0: rng.normalArray(64), w1: rng.normalArray(64 * 33), b1: rng.normalArray(33),
  };
  const samples: TwinSamples = { planes, geom, n: 1, boxWarp: 1.2, origins, directions, depths, perRay };
  return { samples, decoder, dy: rng.normalArray(rays * perRay * 33), rays };
}

/**
 * EG3D forward timings (batch 1, noise const, deterministic renderer draws), split into
 * backbone (mapping + G1 + plane split) / rendering (rays, tri-plane sampling, Tri-D, compositing) /
 * super-resolution (G2), for the tiny and ffhqlike fixtures and the full ffhq512-128 architecture
 * with random weights. A configuration is skipped (with the reason printed) when its predicted time
 * per forward on this backend exceeds ~2 minutes; the prediction divides its estimated
 * multiply-accumulate count by the throughput measured on the previous configuration.
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import type { BenchContext } from '../bench.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';
import { Random } from '../../src/core/random.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { FFHQ512_128_CONFIG, type EG3DConfig } from '../../src/eg3d/config.ts';
import { initRandomWeights } from '../../src/eg3d/weights.ts';
import { camerasTensor, cameraFromYawPitch, frontalCamera } from '../../src/eg3d/camera.ts';

const MAX_FORWARD_S = 120;

/** Estimated multiply-accumulates of one forward (convolutions of G1 and G2, the decoder at every sample). */
export function forwardGmac(c: EG3DConfig): { backbone: number; rendering: number; superresolution: number; total: number } {
  let backbone = 0;
  for (const b of c.backbone.blocks) {
    if (b.inChannels) backbone += b.inChannels * b.outChannels * 9 * (b.resolution / 2) ** 2;
    backbone += b.outChannels * b.outChannels * 9 * b.resolution ** 2 + b.outChannels * c.backbone.channels * b.resolution ** 2;
  }
  let superresolution = 0;
  for (const b of c.superresolution.blocks) {
    const inRes = b.kind === 'up' ? b.resolution / 2 : b.resolution;
    superresolution += b.inChannels * b.outChannels * 9 * inRes ** 2 + b.outChannels * b.outChannels * 9 * b.resolution ** 2 + b.outChannels * 3 * b.resolution ** 2;
  }
  const r = c.neuralRenderingResolution;
  const d = c.decoder;
  const rendering = r * r * (c.rendering.depthResolution + c.rendering.depthResolutionImportance) * (d.inFeatures * d.hiddenDim + d.hiddenDim * (1 + d.outputDim));
  const g = (x: number) => x / 1e9;
  return { backbone: g(backbone), rendering: g(rendering), superresolution: g(superresolution), total: g(backbone + rendering + superresolution) };
}

interface Split {
  backbone: number;
  rendering: number;
  superresolution: number;
}

async function settle(t: tf.Tensor): Promise<void> {
  const s = tf.sum(t);
  await s.data();
  s.dispose();
}

async function timeForward(gen: EG3DGenerator): Promise<Split> {
  const rng = new Random(1);
  const z = tf.tensor2d(rng.normalArray(gen.config.zDim), [1, gen.config.zDim]);
  const cCond = camerasTensor([frontalCamera()]);
  const cView = camerasTensor([cameraFromYawPitch(0.3, -0.1)]);
  const t0 = performance.now();
  const ws = gen.mapping(z, cCond, { psi: 0.7 });
  const planes = gen.planes(ws, { noiseMode: 'const' });
  await settle(planes);
  const t1 = performance.now();
  const r = gen.render(planes, cView, { draws: { kind: 'deterministic' } });
  await settle(r.features);
  const t2 = performance.now();
  const [n, h, w] = r.features.shape;
  const raw = tf.slice(r.features, [0, 0, 0, 0], [n, h, w, 3]);
  const image = gen.superresolve(raw, r.features, ws);
  await settle(image);
  const t3 = performance.now();
  tf.dispose([z, cCond, cView, ws, planes, r.features, r.depth, raw, image]);
  return { backbone: t1 - t0, rendering: t2 - t1, superresolution: t3 - t2 };
}

export async function run(ctx: BenchContext): Promise<void> {
  const report = (name: string, s: Split, runs: number, note: string) => {
    ctx.report(`${name} backbone`, s.backbone, 'ms');
    ctx.report(`${name} rendering`, s.rendering, 'ms');
    ctx.report(`${name} super-resolution`, s.superresolution, 'ms');
    ctx.report(`${name} forward total`, s.backbone + s.rendering + s.superresolution, 'ms', note + (runs > 1 ? `, best of ${runs}` : ', single run'));
  };
  const best = (a: Split | null, b: Split): Split => (!a || b.backbone + b.rendering + b.superresolution < a.backbone + a.rendering + a.superresolution ? b : a);

  // Throughput (GMAC/s) of the last measured configuration, used to predict the next (larger) one.
  let gmacPerS = 0;
  const cases: Array<{ name: string; make: () => Promise<EG3DGenerator> }> = [
    { name: 'eg3d-tiny', make: async () => EG3DGenerator.fromPickle(await NodeFileByteSource.open(join(ctx.fixturesDir, 'eg3d-tiny.pkl'))) },
    { name: 'eg3d-ffhqlike', make: async () => EG3DGenerator.fromPickle(await NodeFileByteSource.open(join(ctx.fixturesDir, 'eg3d-ffhqlike.pkl'))) },
    { name: 'ffhq512-128 (random weights)', make: async () => EG3DGenerator.create(FFHQ512_128_CONFIG, initRandomWeights(FFHQ512_128_CONFIG, new Random(0))) },
  ];
  for (const c of cases) {
    const gen = await c.make();
    try {
      const gmac = forwardGmac(gen.config);
      if (gmacPerS > 0 && gmac.total / gmacPerS > MAX_FORWARD_S) {
        console.log(`| eg3d | ${c.name} | ${ctx.backend} | skipped | | ${gmac.total.toFixed(0)} GMAC at the measured ${gmacPerS.toFixed(2)} GMAC/s ≈ ${(gmac.total / gmacPerS).toFixed(0)} s per forward (> ${MAX_FORWARD_S} s) |`);
        continue;
      }
      // First forward includes kernel compilation (webgpu) and buffer growth; repeat small configs.
      const first = await timeForward(gen);
      const firstTotal = (first.backbone + first.rendering + first.superresolution) / 1000;
      const runs = firstTotal < 10 ? 3 : 1;
      let b: Split | null = runs === 1 ? first : null;
      for (let i = 0; i < runs && runs > 1; i++) b = best(b, await timeForward(gen));
      const total = (b!.backbone + b!.rendering + b!.superresolution) / 1000;
      gmacPerS = gmac.total / total; // the latest (largest) measured configuration predicts the next
      report(c.name, b!, runs, `${gmac.total.toFixed(1)} GMAC (G1 ${gmac.backbone.toFixed(1)}, Tri-D ${gmac.rendering.toFixed(1)}, G2 ${gmac.superresolution.toFixed(1)}), first run ${firstTotal.toFixed(1)} s`);
    } finally {
      gen.dispose();
    }
  }
}

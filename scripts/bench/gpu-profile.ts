/**
 * WebGPU profile (issue 13 item 2), webgpu backend only: for a viewer frame (backbone computed / cached),
 * a step-1 and a step-2 iteration, the GPU dispatches, distinct programs run and programs compiled, bytes
 * uploaded and read back (with the call sites of the readbacks), and peak GPU memory — tfjs' count of bytes
 * in buffers handed out and the buffer pool's real allocation (scripts/bench/gpu/counters.ts).
 *
 * Measured: per-unit figures, always (cheap): renderer dispatches per chunk (a 32² render of random tri-planes
 * in 1 and in 4 chunks, forward and forward + backward to the Tri-D; the generic tf-op path, each fused kernel
 * set alone and both) and per ViT block (forward + backward, 3
 * blocks minus 2). Then, unless GPU_PROFILE_UNITS_ONLY=1, the four workloads on the tiny fixture and the embedded
 * demo generator with two small random ViTs (B/32 and B/16 patch geometry, 2 blocks), batch 1, one run each (see
 * measure()) — tens of minutes on SwiftShader.
 *
 * ffhq512-128 + ViT-B/32 + ViT-B/16 is computed, not run: dispatch counts do not depend on channel widths or
 * image sizes, only on the module structure, which the tiny fixture shares with ffhq512-128 (seven synthesis
 * blocks 4²…256², two SR blocks) except (1) the renderer's chunks — one at 64², four at 128² with the default
 * 4,096 rays: + 3 × the per-chunk figure — and (2) the ViT depth: + 10 blocks × the per-block figure, per ViT.
 * The SR class differs (2X vs 8XDC, both two blocks of the same layers); that difference is not measured.
 */
import * as tf from '@tensorflow/tfjs';
import type { BenchContext } from '../bench.ts';
import { countGpu, MiB, adapterName, type GpuCounts } from './gpu/counters.ts';
import { makeEncoders, makeGenerator, planesFor, smokeConfig, viewerFrame, type GeneratorName } from './gpu/workloads.ts';
import { initRandomWeights } from '../../src/eg3d/weights.ts';
import { Random } from '../../src/core/random.ts';
import { DEFAULT_CHUNK_RAYS, renderTriplanes, type RenderSettings } from '../../src/eg3d/renderer.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { camerasTensor, frontalCamera } from '../../src/eg3d/camera.ts';
import { ClipImageEncoder, type FeatureEncoder } from '../../src/clip/encoder.ts';
import { randomVisionTransformer } from '../../src/clip/vit.ts';
import { trainerFor } from './adapt.ts';

type Workload = 'frame' | 'frame-cached' | 'step1' | 'step2';
const LABEL: Record<Workload, string> = {
  frame: 'viewer frame, backbone computed',
  'frame-cached': 'viewer frame, backbone cached',
  step1: 'step-1 iteration (Tri-D)',
  step2: 'step-2 iteration (G2)',
};

function fmt(c: GpuCounts): string {
  return `dispatches ${c.dispatches}; programs run ${c.programsRun}, compiled ${c.programsCompiled}; uploaded ${MiB(c.uploadBytes).toFixed(2)} MiB (${c.uploads}) + uniforms ${MiB(c.uniformBytes).toFixed(2)} MiB; read back ${(c.readbackBytes / 1024).toFixed(1)} KiB (${c.readbacks}); peak GPU ${MiB(c.usedBytesPeak).toFixed(1)} MiB tfjs / ${MiB(c.allocatedBytesPeak).toFixed(1)} MiB pool`;
}

/**
 * One run of a workload, counted. Counts do not need a warm-up (dispatches and bytes are the same on every
 * run; the first run's pool allocation is the one that matters) and SwiftShader makes each run minutes, so
 * there is none: "compiled" is then the number of shader programs this workload adds to those compiled before.
 */
async function measure(gen: EG3DGenerator, encoders: FeatureEncoder[], w: Workload, chunkRays: number): Promise<GpuCounts> {
  if (w === 'frame' || w === 'frame-cached') {
    const planes = w === 'frame-cached' ? planesFor(gen) : null;
    try {
      return (await countGpu(() => viewerFrameChunked(gen, 1, planes, chunkRays))).counts;
    } finally {
      planes?.dispose();
    }
  }
  const { trainer, owned } = trainerFor(gen, encoders, chunkRays, w === 'step1' ? [1, 0] : [0, 1], {}, 1);
  try {
    return (await countGpu(() => trainer.step())).counts;
  } finally {
    trainer.dispose(true);
    tf.dispose(owned);
  }
}

/** viewerFrame with an explicit renderer chunk size (the generator's renderSettings take it per call). */
async function viewerFrameChunked(gen: EG3DGenerator, k: number, planes: tf.Tensor5D | null, chunkRays: number): Promise<void> {
  const render = gen.render.bind(gen);
  const chunked = Object.create(gen) as EG3DGenerator;
  chunked.render = (p, c, o) => render(p, c, { ...o, chunkRays });
  return viewerFrame(chunked, k, planes);
}

/** Dispatches of one encoder forward + backward (gradient w.r.t. the image) with `layers` blocks. */
async function vitDispatches(patchSize: number, layers: number, backward = true): Promise<number> {
  const enc = new ClipImageEncoder(randomVisionTransformer({ width: 64, layers, heads: 4, patchSize, inputResolution: 64, embedDim: 32 }, 5));
  const x = tf.randomUniform([1, 64, 64, 3], -1, 1) as tf.Tensor4D;
  const loss = (img: tf.Tensor) => {
    const out = enc.encodeImages(img as tf.Tensor4D, enc.defaultTokenBlock);
    return tf.add(tf.sum(out.embedding), tf.sum(out.tokens));
  };
  const run = async () => {
    const g = backward ? tf.grad(loss)(x) : tf.tidy(() => loss(x));
    await g.data();
    g.dispose();
  };
  try {
    await run();
    return (await countGpu(run)).counts.dispatches;
  } finally {
    x.dispose();
    enc.dispose();
  }
}

/** The renderer's implementations compared per chunk: tf-op oracle, each fusion alone, both (the webgpu default). */
const RENDER_IMPLS = [
  { label: 'generic (tf ops: before fusion)', pointImpl: 'generic', rayImpl: 'generic' },
  { label: 'fused per-ray only', pointImpl: 'generic', rayImpl: 'fused' },
  { label: 'fused per-point only', pointImpl: 'fused', rayImpl: 'generic' },
  { label: 'fused (default on webgpu)', pointImpl: 'fused', rayImpl: 'fused' },
] as const;

/**
 * Renderer dispatches per chunk: a render of random tri-planes at 32² rays with 1 chunk and with 4 chunks
 * (forward; and forward + backward to the Tri-D weights, as in step 1), for one choice of the per-point and
 * per-ray implementations. Cheap on SwiftShader.
 */
async function renderPerChunk(gen: EG3DGenerator, impl: Pick<RenderSettings, 'pointImpl' | 'rayImpl'>): Promise<{ forward: number; backward: number }> {
  const c = gen.config;
  const planes = tf.randomNormal([1, 3, c.backbone.blocks.at(-1)!.resolution, c.backbone.blocks.at(-1)!.resolution, c.backbone.channels / 3], 0, 0.5, 'float32', 7) as tf.Tensor5D;
  const cam = camerasTensor([frontalCamera()]);
  const vars = new Map<string, tf.Variable>();
  for (const [k, t] of gen.weights) if (k.startsWith('decoder.')) vars.set(k, tf.variable(t, true, `profile.${k}`));
  const render = (chunkRays: number) =>
    renderTriplanes(planes, vars, cam, { ...gen.renderSettings({ neuralRenderingResolution: 32, chunkRays }), ...impl }, { kind: 'deterministic' }).features;
  const fwd = async (chunkRays: number) => (await countGpu(async () => {
    const f = render(chunkRays);
    await f.data();
    f.dispose();
  })).counts.dispatches;
  const bwd = async (chunkRays: number) => (await countGpu(async () => {
    const { value, grads } = tf.variableGrads(() => tf.sum(render(chunkRays)) as tf.Scalar, [...vars.values()]);
    await value.data();
    tf.dispose([value, ...Object.values(grads)]);
  })).counts.dispatches;
  try {
    await fwd(256);
    const forward = ((await fwd(256)) - (await fwd(1024))) / 3;
    await bwd(256);
    const backward = ((await bwd(256)) - (await bwd(1024))) / 3;
    return { forward, backward };
  } finally {
    tf.dispose([planes, cam, ...vars.values()]);
  }
}

export async function run(ctx: BenchContext): Promise<void> {
  if (ctx.backend !== 'webgpu') {
    console.log(`| gpu-profile | (all) | ${ctx.backend} | | | skipped: webgpu only (--backends webgpu) |`);
    return;
  }
  console.log(`gpu-profile on ${adapterName()}`);
  // Per-unit figures: cheap, always measured.
  const tiny = await makeGenerator('tiny', ctx.fixturesDir);
  let perChunk: { forward: number; backward: number } = { forward: 0, backward: 0 };
  try {
    for (const impl of RENDER_IMPLS) {
      const r = await renderPerChunk(tiny, impl);
      ctx.report(`renderer, per chunk, ${impl.label} (forward)`, r.forward, 'dispatches', 'tiny Tri-D, 4 chunks minus 1 chunk, / 3');
      ctx.report(`renderer, per chunk, ${impl.label} (forward + backward to the Tri-D)`, r.backward, 'dispatches', 'as above, with variableGrads');
      perChunk = r; // the last one is the default the workloads run
    }
  } finally {
    tiny.dispose();
  }
  const perBlock: number[] = [];
  for (const p of [32, 16]) perBlock.push((await vitDispatches(p, 3)) - (await vitDispatches(p, 2)));
  ctx.report('ViT block (forward + backward), patch 32 / 16', perBlock[0], 'dispatches', `patch 16: ${perBlock[1]}; 3 blocks minus 2 blocks, 64² input, width 64`);
  const forwardBlock = (await vitDispatches(32, 3, false)) - (await vitDispatches(32, 2, false));
  ctx.report('ViT block (forward only: the source image)', forwardBlock, 'dispatches', '3 blocks minus 2 blocks, patch 32');
  // One synthesis block of the backbone, forward (the frozen backbone runs off the tape): the smoke
  // generator's backbone to 64² (5 blocks) minus to 32² (4 blocks).
  const backbone: number[] = [];
  for (const res of [64, 32]) {
    const config = await smokeConfig(ctx.fixturesDir, res);
    const gen = EG3DGenerator.create(config, initRandomWeights(config, new Random(1)));
    try {
      const once = async () => (await countGpu(async () => {
        const p = planesFor(gen);
        await p.data();
        p.dispose();
      })).counts.dispatches;
      await once();
      backbone.push(await once());
    } finally {
      gen.dispose();
    }
  }
  ctx.report('backbone synthesis block (forward)', backbone[0] - backbone[1], 'dispatches', 'smoke generator, backbone to 64² minus to 32² (mapping and planes reshaping cancel)');
  if (process.env.GPU_PROFILE_UNITS_ONLY === '1') {
    console.log('(GPU_PROFILE_UNITS_ONLY=1: the four workloads on the tiny and demo generators are not run)');
    return;
  }
  const encoders = await makeEncoders('small', ctx.fixturesDir);
  const measured = new Map<string, GpuCounts>();
  try {
    for (const name of ['tiny', 'demo'] as GeneratorName[]) {
      const gen = await makeGenerator(name, ctx.fixturesDir);
      const label = `${name} (${gen.config.neuralRenderingResolution}² → ${gen.config.imgResolution}², batch 1, 2 small ViTs)`;
      try {
        for (const w of ['frame', 'frame-cached', 'step1', 'step2'] as Workload[]) {
          const counts = await measure(gen, encoders, w, DEFAULT_CHUNK_RAYS);
          measured.set(`${name}|${w}`, counts);
          ctx.report(`${label} ${LABEL[w]}`, counts.dispatches, 'dispatches', fmt(counts));
          if (counts.readbackSites.size) console.log(`  readbacks: ${[...counts.readbackSites].map(([site, n]) => `${n}× ${site}`).join('; ')}`);
        }
      } finally {
        gen.dispose();
      }
    }
  } finally {
    for (const e of encoders) e.dispose();
  }
  // Computed: ffhq512-128 + ViT-B/32 + ViT-B/16 (see the module comment): tiny's 1 chunk → 4 chunks, 2 → 12 ViT blocks.
  const extraVit = (perBlock[0] + perBlock[1]) * (12 - 2);
  const extraChunks: Record<Workload, number> = {
    frame: 3 * perChunk.forward,
    'frame-cached': 3 * perChunk.forward,
    step1: 3 * perChunk.forward + 3 * perChunk.backward, // source render (constant) + adapted render on the tape
    step2: 2 * 3 * perChunk.forward, // source and adapted renders, both constants
  };
  for (const w of ['frame', 'frame-cached', 'step1', 'step2'] as Workload[]) {
    const base = measured.get(`tiny|${w}`)!.dispatches;
    const vit = w === 'step1' || w === 'step2' ? extraVit : 0;
    ctx.report(`ffhq512-128 + ViT-B/32 + ViT-B/16 ${LABEL[w]} (computed)`, base + extraChunks[w] + vit, 'dispatches',
      `tiny ${base} + 3 more chunks ${extraChunks[w]}` + (vit ? ` + 10 more blocks per ViT ${extraVit}` : '') + '; SR 8XDC vs 2X: same block count, not measured');
  }
}

/**
 * 3D-Adapter training speed: iterations/s of step 1 (Tri-D) and step 2 (G2) at batch 1 with the
 * generator's own rendering settings, and the peak tensor memory of one iteration (tf.profile's
 * peakBytes: the most bytes held by tensors at any point of the iteration, weights included).
 * Cases: the tiny and ffhqlike fixture generators (tiny CLIP fixture as encoder) and, when
 * BENCH_FULL=1, the full ffhq512-128 architecture with random weights and a random-weight CLIP
 * ViT-B/32 (minutes per iteration on CPU backends, so it is opt-in and measured once).
 * `BENCH_ADAPT_ITERS` (default 2) timed iterations per step after one warm-up on the tiny case; the
 * larger cases are timed over one iteration without warm-up.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from '../bench.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';
import { Random } from '../../src/core/random.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { FFHQ512_128_CONFIG } from '../../src/eg3d/config.ts';
import { initRandomWeights } from '../../src/eg3d/weights.ts';
import { loadClipEncoder, ClipImageEncoder, type FeatureEncoder } from '../../src/clip/encoder.ts';
import { OPENAI_VIT_CONFIGS, randomVisionTransformer } from '../../src/clip/vit.ts';
import { GeneratorView } from '../../src/adapter/generator-view.ts';
import { DEFAULT_CHUNK_RAYS } from '../../src/eg3d/renderer.ts';
import { AdapterTrainer, prepareTrainerEncoder, trainerEncoderTensors } from '../../src/adapter/trainer.ts';
import { DEFAULT_METHOD_OPTIONS, type MethodOptions } from '../../src/adapter/options.ts';
import { DEFAULT_LOSS_WEIGHTS, DIFA_OPTIMISER } from '../../src/engine/defaults.ts';

interface Case {
  name: string;
  generator: () => Promise<EG3DGenerator>;
  encoder: () => Promise<FeatureEncoder>;
  timedIterations: number;
  warmup: boolean;
  phase: 'tri-d' | 'g2';
  options?: Partial<MethodOptions>;
  /** Default 1. */
  batch?: number;
}

/**
 * A trainer toward a synthetic reference (seeded noise image, random μ_s): the reference's content does not
 * change the cost, and prepareTrainerEncoder builds whatever the method options ask for (tokens, Δ_ref,
 * hypercolumns, colours). Also used by bench:gpu and the gpu-profile section.
 */
export function trainerFor(gen: EG3DGenerator, encoders: FeatureEncoder | FeatureEncoder[], chunkRays: number, iterations: [number, number], options: Partial<MethodOptions> = {}, batchSize = 1): { trainer: AdapterTrainer; owned: tf.Tensor[] } {
  const view = new GeneratorView(gen, chunkRays);
  const method: MethodOptions = { ...DEFAULT_METHOD_OPTIONS, ...options };
  const rng = new Random(4);
  const side = 64;
  const reference = { width: side, height: side, data: Uint8ClampedArray.from({ length: side * side * 4 }, (_, i) => (i % 4 === 3 ? 255 : Math.floor(rng.next() * 256))) };
  const prepared = (Array.isArray(encoders) ? encoders : [encoders]).map((enc) => prepareTrainerEncoder(enc, reference, rng.normalArray(enc.embedDim), method));
  const owned: tf.Tensor[] = prepared.flatMap(trainerEncoderTensors);
  const trainer = new AdapterTrainer(view, prepared, {
    iterations,
    batchSize,
    learningRate: DIFA_OPTIMISER.learningRate,
    betas: [DIFA_OPTIMISER.betas[0], DIFA_OPTIMISER.betas[1]],
    lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
    seed: 1,
    truncationPsi: 1,
    options: method,
  });
  return { trainer, owned };
}

async function benchCase(ctx: BenchContext, c: Case): Promise<void> {
  const gen = await c.generator();
  const enc = await c.encoder();
  const n = (c.warmup ? 1 : 0) + c.timedIterations;
  // A schedule that starts in the measured step (step 2 from the base Tri-D: same cost).
  const batch = c.batch ?? 1;
  const { trainer, owned } = trainerFor(gen, enc, DEFAULT_CHUNK_RAYS, c.phase === 'tri-d' ? [n, 0] : [0, n], c.options, batch);
  const label = c.phase === 'tri-d' ? 'step 1 (Tri-D)' : 'step 2 (G2)';
  try {
    if (c.warmup) await trainer.step();
    // Peak memory of one iteration (profiled separately: profiling adds bookkeeping time).
    const g = trainer.globalIteration;
    const info = await tf.profile(() => {
      const { grads, components } = trainer.computeGradients(g);
      tf.dispose([...grads.values(), components]);
      return [] as tf.Tensor[];
    });
    const t0 = performance.now();
    for (let i = 0; i < c.timedIterations; i++) await trainer.step();
    const s = (performance.now() - t0) / 1000;
    const r = gen.config.rendering;
    const note = `batch ${batch}${batch > 1 ? ` (microBatch ${trainer.config.options.microBatch})` : ''}, ${gen.config.neuralRenderingResolution}² × (${r.depthResolution}+${r.depthResolutionImportance}) samples → ${gen.config.imgResolution}², ${enc.name}; ${c.timedIterations} iteration(s)${c.warmup ? ' after 1 warm-up' : ', no warm-up'}`;
    ctx.report(`${c.name} ${label}`, c.timedIterations / s, 'it/s', note);
    ctx.report(`${c.name} ${label} peak tensor memory`, info.peakBytes / 2 ** 20, 'MiB', 'tf.profile peakBytes of one iteration (incl. weights)');
  } finally {
    trainer.dispose(true);
    tf.dispose(owned);
    enc.dispose();
    gen.dispose();
  }
}

function cases(ctx: BenchContext): Case[] {
  const iters = Number(process.env.BENCH_ADAPT_ITERS ?? 2);
  const clipTiny = async () => loadClipEncoder(await NodeFileByteSource.open(`${ctx.fixturesDir}/clip-tiny.hf.safetensors`), { id: 'clip-tiny', name: 'CLIP tiny fixture' });
  const tiny = async () => EG3DGenerator.fromPickle(await NodeFileByteSource.open(`${ctx.fixturesDir}/eg3d-tiny.pkl`));
  const ffhqlike = async () => EG3DGenerator.fromPickle(await NodeFileByteSource.open(`${ctx.fixturesDir}/eg3d-ffhqlike.pkl`));
  const full = async () => EG3DGenerator.create(FFHQ512_128_CONFIG, initRandomWeights(FFHQ512_128_CONFIG, new Random(1)));
  const clipB32 = async () => new ClipImageEncoder(randomVisionTransformer(OPENAI_VIT_CONFIGS['ViT-B/32'], 1), null, { id: 'clip-b32-random', name: 'CLIP ViT-B/32 (random weights)' });
  const slow = ctx.backend === 'webgpu'; // SwiftShader: CPU-speed WebGPU, one iteration only
  const list: Case[] = [];
  for (const phase of ['tri-d', 'g2'] as const) {
    list.push({ name: 'eg3d-tiny', generator: tiny, encoder: clipTiny, timedIterations: slow ? 1 : iters, warmup: !slow, phase });
    // Batch 2 with the whole batch on the tape vs one sample at a time (gradient accumulation): the peak.
    for (const microBatch of [0, 1]) {
      list.push({ name: `eg3d-tiny batch 2, microBatch ${microBatch}`, generator: tiny, encoder: clipTiny, timedIterations: 1, warmup: false, phase, batch: 2, options: { microBatch } });
    }
    if (!slow) list.push({ name: 'eg3d-ffhqlike', generator: ffhqlike, encoder: clipTiny, timedIterations: 1, warmup: false, phase });
    // Step 1 without G2 on the tape: what fits the 4 GiB wasm heap at 512².
    if (!slow && phase === 'tri-d') {
      list.push({ name: 'eg3d-ffhqlike (step1Output raw-upsampled)', generator: ffhqlike, encoder: clipTiny, timedIterations: 1, warmup: false, phase, options: { step1Output: 'raw-upsampled' } });
      for (const microBatch of [0, 1]) {
        list.push({ name: `eg3d-ffhqlike (step1Output raw-upsampled) batch 2, microBatch ${microBatch}`, generator: ffhqlike, encoder: clipTiny, timedIterations: 1, warmup: false, phase, batch: 2, options: { step1Output: 'raw-upsampled', microBatch } });
      }
    }
    // Step 2 at 512² output, batch 2 one sample at a time (the whole batch, ≈ 7 GiB, cannot fit the 4 GiB wasm heap).
    if (!slow && phase === 'g2') {
      list.push({ name: 'eg3d-ffhqlike batch 2, microBatch 1', generator: ffhqlike, encoder: clipTiny, timedIterations: 1, warmup: false, phase, batch: 2, options: { microBatch: 1 } });
    }
    if (!slow && process.env.BENCH_FULL === '1') {
      list.push({ name: 'ffhq512-128 (random weights)', generator: full, encoder: clipB32, timedIterations: 1, warmup: false, phase });
      if (phase === 'tri-d') list.push({ name: 'ffhq512-128 (random weights, step1Output raw-upsampled)', generator: full, encoder: clipB32, timedIterations: 1, warmup: false, phase, options: { step1Output: 'raw-upsampled' } });
    }
  }
  return list;
}

const caseId = (c: Case) => `${c.name}|${c.phase}`;

/**
 * Each case runs in its own process: a case that exhausts the wasm heap (4 GiB) aborts the wasm
 * module, and the failure is then reported as a row instead of ending the section.
 */
export async function run(ctx: BenchContext): Promise<void> {
  const only = process.env.BENCH_ADAPT_CASE;
  if (only) {
    const c = cases(ctx).find((x) => caseId(x) === only);
    if (!c) throw new Error(`unknown adapt bench case ${only}`);
    await benchCase(ctx, c);
    return;
  }
  if (process.env.BENCH_FULL !== '1') {
    console.log(`| adapt | ffhq512-128 (random weights) | ${ctx.backend} | | | skipped: set BENCH_FULL=1 (one iteration per step takes many minutes on CPU backends and may exceed the 4 GiB wasm heap) |`);
  }
  const benchMain = fileURLToPath(new URL('../bench.ts', import.meta.url));
  for (const c of cases(ctx)) {
    const r = spawnSync(process.execPath, [...process.execArgv, benchMain, '--child', 'adapt', '--backend', ctx.backend], {
      env: { ...process.env, BENCH_ADAPT_CASE: caseId(c) },
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    const rows = (r.stdout ?? '').split('\n').filter((l) => l.startsWith('| adapt |'));
    for (const row of rows) console.log(row);
    if (r.status !== 0) {
      const text = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
      const why = /Aborted\(|out of memory|Cannot enlarge memory|memory access out of bounds/i.test(text)
        ? 'wasm heap exhausted (4 GiB limit)'
        : (text.trim().split('\n').filter((l) => /Error/.test(l)).pop() ?? `exit ${r.status}`).slice(0, 160);
      console.log(`| adapt | ${c.name} ${c.phase === 'tri-d' ? 'step 1 (Tri-D)' : 'step 2 (G2)'} | ${ctx.backend} | | | failed: ${why} |`);
    }
  }
}

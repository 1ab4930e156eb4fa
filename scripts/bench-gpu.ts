/**
 * npm run bench:gpu [-- --smoke] — the GPU benchmark (issue 13 item 5), through Node + Dawn.
 *
 * Full (default; sized for < 8 min on one data-centre GPU): the ffhq512-128 architecture with random weights,
 * CLIP ViT-B/32 + ViT-B/16 with random weights, batch 2. Prints orbit fps at 512² with the backbone computed
 * per frame and from cached tri-planes, step-1 (Tri-D) and step-2 (G2) iterations/s, and per workload the
 * GPU dispatches, distinct programs, bytes uploaded / read back and peak GPU memory (tfjs' count and the
 * buffer pool's allocation; see scripts/bench/gpu/counters.ts).
 * --smoke: the same code on the smoke generator (the tiny fixture's architecture at the smallest size that keeps
 * every module and code path, random weights: scripts/bench/gpu/workloads.ts) and two small random ViTs, batch 1,
 * one run per workload (shader compilation included) — about a minute on SwiftShader; `npm test` runs it.
 * --probe: the dispatch probe — ffhq512-128's structure at narrow widths (scripts/bench/gpu/workloads.ts
 * `probeConfig`: 256² backbone, 8XDC-structured SR, a 16² render) and two 12-block ViTs at 224², batch 2: its
 * dispatch counts are the full-size ones but for the renderer's chunks (≈ 15 min on SwiftShader; not in CI).
 * Both fail (exit 1) when a workload reads back more than its one result (the image; the loss values) or
 * tensors are left at the end. Without a WebGPU adapter it says so and exits 1.
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../src/platform/node-backend.ts';
import { adapterName, countGpu, MiB, type GpuCounts } from './bench/gpu/counters.ts';
import { makeEncoders, makeGenerator, planesFor, training, viewerFrame } from './bench/gpu/workloads.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures');

interface Plan {
  generator: 'smoke' | 'ffhq512-128' | 'probe';
  encoders: 'small' | 'full' | 'narrow';
  batch: number;
  frames: number;
  iterations: number;
  /** Stop timing a workload's repetitions after this many seconds (at least one is timed). */
  budgetS: number;
  /** One untimed run first (shader compilation); without it the one timed run includes compilation. */
  warmup: boolean;
  /** Step 1's output: through G2 (the default) or the raw render up-sampled (no G2 back-propagation). */
  step1Output: 'sr' | 'raw-upsampled';
}

const FULL: Plan = { generator: 'ffhq512-128', encoders: 'full', batch: 2, frames: 8, iterations: 3, budgetS: 45, warmup: true, step1Output: 'sr' };
const SMOKE: Plan = { generator: 'smoke', encoders: 'small', batch: 1, frames: 1, iterations: 1, budgetS: 20, warmup: false, step1Output: 'sr' };
const PROBE: Plan = { generator: 'probe', encoders: 'narrow', batch: 2, frames: 1, iterations: 1, budgetS: 20, warmup: false, step1Output: 'sr' };

/** "12.3 fps" or, below 1 per second, "0.05 fps (20.1 s per frame)". */
const rate = (perS: number, unit: string, what: string) =>
  perS >= 1 ? `${perS.toPrecision(3)} ${unit}` : `${perS.toPrecision(2)} ${unit} (${(1 / perS).toFixed(1)} s per ${what})`;

const runs = (plan: Plan, done: number, compileS: number, unit: string) =>
  plan.warmup ? `${done} ${unit}(s) after 1 warm-up (${compileS.toFixed(1)} s, shader compilation)` : `${done} ${unit}(s), shader compilation included`;

/** Invariants the run checks (readbacks inside the loop are bugs unless they are the progress numbers). */
const problems: string[] = [];

function row(what: string, value: string, c: GpuCounts | null, note = ''): void {
  if (c && c.readbacks > 1) problems.push(`${what}: ${c.readbacks} readbacks (one expected: ${[...c.readbackSites.keys()].join('; ')})`);
  const counts = c
    ? `${c.dispatches} | ${c.programsRun} | ${MiB(c.uploadBytes).toFixed(1)} | ${MiB(c.readbackBytes).toFixed(3)} (${c.readbacks}) | ${MiB(c.usedBytesPeak).toFixed(0)} / ${MiB(c.allocatedBytesPeak).toFixed(0)}`
    : ' | | | | ';
  console.log(`| ${what} | ${value} | ${counts} | ${note} |`);
}

/** Warm-up once (shader compilation), then time `reps` repetitions (within the budget); counts of the last. */
async function timed(plan: Plan, reps: number, once: (k: number) => Promise<void>): Promise<{ perS: number; counts: GpuCounts; compileS: number; done: number }> {
  const t0 = performance.now();
  if (plan.warmup) await once(0);
  const compileS = (performance.now() - t0) / 1000;
  let done = 0;
  const t1 = performance.now();
  let counts: GpuCounts | null = null;
  for (let k = 1; k <= reps; k++) {
    if (k === reps || (performance.now() - t1) / 1000 > plan.budgetS) {
      counts = (await countGpu(() => once(k))).counts;
      done++;
      break;
    }
    await once(k);
    done++;
  }
  const s = (performance.now() - t1) / 1000;
  return { perS: done / s, counts: counts!, compileS, done };
}

/** `--name N` as a whole number ≥ 0, or null when absent. */
function flagValue(name: string): number | null {
  const i = process.argv.indexOf(name);
  if (i < 0) return null;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`bench:gpu: ${name} takes a whole number, got ${process.argv[i + 1]}`);
  return v;
}

async function main(): Promise<void> {
  const probe = process.argv.includes('--probe');
  const smoke = probe || process.argv.includes('--smoke');
  const plan: Plan = { ...(probe ? PROBE : smoke ? SMOKE : FULL) };
  const batchArg = flagValue('--batch');
  if (batchArg !== null) plan.batch = batchArg;
  const microBatch = flagValue('--micro-batch');
  try {
    await initNodeBackend('webgpu');
  } catch (e) {
    console.error(`bench:gpu: no WebGPU adapter — ${(e as Error).message}.\nNode + Dawn needs a Vulkan driver (a GPU's, or SwiftShader's: VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json).`);
    process.exit(1);
  }
  const adapter = adapterName();
  const emulated = /swiftshader/i.test(adapter);
  if (!smoke && emulated && !process.argv.includes('--force')) {
    console.error(`bench:gpu: the WebGPU adapter is ${adapter} (the GPU emulated on the CPU): the full-size run would take hours. Run \`npm run bench:gpu -- --smoke\`, or add --force.`);
    process.exit(1);
  }
  console.log(`bench:gpu${probe ? ' --probe' : smoke ? ' --smoke' : ''}: adapter ${adapter}${emulated ? ' (emulated on the CPU)' : ''}; ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}; node ${process.version}`);
  const t0 = performance.now();
  const gen = await makeGenerator(plan.generator, FIXTURES);
  const encoders = await makeEncoders(plan.encoders, FIXTURES);
  const res = gen.config.imgResolution;
  const what = `${plan.generator}${plan.generator === 'ffhq512-128' ? ' (random weights)' : ''}, ${encoders.map((e) => e.name).join(' + ')}, batch ${plan.batch}${microBatch !== null ? `, microBatch ${microBatch}` : ''}`;
  console.log(`workload: ${what}; output ${res}², neural ${gen.config.neuralRenderingResolution}² × (${gen.config.rendering.depthResolution}+${gen.config.rendering.depthResolutionImportance})`);
  console.log('| workload | speed | dispatches | programs | uploaded MiB | read back MiB (calls) | peak GPU MiB (tfjs / pool) | note |');
  console.log('|---|---|---|---|---|---|---|---|');
  try {
    const f1 = await timed(plan, plan.frames, (k) => viewerFrame(gen, k, null));
    row(`orbit frame ${res}², backbone per frame`, rate(f1.perS, 'fps', 'frame'), f1.counts, runs(plan, f1.done, f1.compileS, 'frame'));
    const planes = planesFor(gen);
    try {
      const f2 = await timed(plan, plan.frames, (k) => viewerFrame(gen, k, planes));
      row(`orbit frame ${res}², backbone cached`, rate(f2.perS, 'fps', 'frame'), f2.counts, runs(plan, f2.done, f2.compileS, 'frame'));
    } finally {
      planes.dispose();
    }
    for (const phase of ['tri-d', 'g2'] as const) {
      const options = { ...(phase === 'tri-d' ? { step1Output: plan.step1Output } : {}), ...(microBatch !== null ? { microBatch } : {}) };
      const tr = training(gen, encoders, phase, plan.iterations + 1, plan.batch, options);
      try {
        const s = await timed(plan, plan.iterations, () => tr.step());
        row(phase === 'tri-d' ? `step 1 (Tri-D) iteration${plan.step1Output === 'sr' ? '' : ', step1Output raw-upsampled'}` : 'step 2 (G2) iteration', rate(s.perS, 'it/s', 'iteration'), s.counts, runs(plan, s.done, s.compileS, 'iteration'));
      } finally {
        tr.dispose();
      }
    }
  } finally {
    for (const e of encoders) e.dispose();
    gen.dispose();
  }
  const m = tf.memory() as tf.MemoryInfo & { numBytesAllocatedInGPU?: number };
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s; tensors left ${m.numTensors}`);
  if (m.numTensors !== 0) problems.push(`${m.numTensors} tensors left after disposing every workload`);
  if (problems.length > 0) throw new Error(`bench:gpu: ${problems.join('\n')}`);
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);

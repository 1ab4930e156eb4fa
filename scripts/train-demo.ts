/**
 * npm run train:demo -- [options]
 *
 * Trains the embedded demo generator on procedural heads (src/demo/train.ts) and writes
 * public/models/demo-eg3d.safetensors. Deterministic from --seed; resumable: a checkpoint is saved
 * every --checkpoint-every steps (and on Ctrl-C / --max-minutes) to --checkpoint-dir, and a later
 * run with the same directory continues from it (unless --fresh); options given to a resumed run
 * override the checkpoint's (e.g. a lower --lr for the rest of the run).
 *
 * Options (defaults in brackets):
 *   --seed N [1]            --field-steps N [3000]   --sr-steps N [200]
 *   --batch N [4]           --points N [2048]        --sr-batch N [2]
 *   --lr X [0.03]          --decoder-lr X [0.2]     --sr-lr X [0.002]
 *   --slope-start K [300]  --slope-end K [5000]     --slope-anneal F [0.85]  (phase-1 density target slope)
 *   --band W [0.06]        --uniform F [0.2]        --colour-weight X [1]
 *   --lr-drop-at F [0.07]  --lr-drop-factor X [1/6]  (phase-1 learning rates × X from step F·field-steps)
 *   --mapping-lr-boost X [100]  (learning-rate factor of backbone.mapping.fc*, official lr_multiplier 0.01)
 *   --factor-probe-weight X [0]  --factor-probe-lr X [0.001]  (training-only linear probe w → head factors;
 *                     its loss makes w expose every factor, see DemoTrainOptions.factorProbeWeight)
 *   --full-planes (train the 256² backbone blocks too; for a GPU machine)
 *   --backend wasm|webgpu|cpu [wasm, or TFJS_BACKEND]
 *   --checkpoint-dir DIR [.cache/demo-train]  --checkpoint-every N [200]  --fresh
 *   --max-minutes M (stop, checkpoint, and exit after M minutes)
 *   --init-from FILE (warm start: continue from exported weights, e.g. the shipped file, with fresh
 *                     optimizers; its recorded options apply unless given here; ignored when the
 *                     checkpoint directory already holds a checkpoint, unless --fresh)
 *   --face-fraction F [0.3]  (share of near-surface points drawn in the face-feature region)
 *   --out FILE [public/models/demo-eg3d.safetensors]  --export-now (export the current weights even if unfinished)
 *   --log-every N [10]
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend, backendFromEnv, type NodeBackendName } from '../src/platform/node-backend.ts';
import { MemoryByteSource } from '../src/io/byte-source.ts';
import { installFastPackGradient } from '../src/demo/fast-grads.ts';
import { DEFAULT_DEMO_TRAIN_OPTIONS, DemoTrainer, type DemoTrainOptions } from '../src/demo/train.ts';

interface Args {
  options: DemoTrainOptions;
  backend: NodeBackendName;
  checkpointDir: string;
  checkpointEvery: number;
  fresh: boolean;
  maxMinutes: number;
  out: string;
  exportNow: boolean;
  initFrom: string | null;
  logEvery: number;
  /** Options given on the command line (they override a resumed checkpoint's). */
  targetsGiven: Partial<DemoTrainOptions>;
}

function parseArgs(argv: string[]): Args {
  const o: DemoTrainOptions = { ...DEFAULT_DEMO_TRAIN_OPTIONS };
  const a: Args = {
    options: o,
    backend: backendFromEnv(),
    checkpointDir: '.cache/demo-train',
    checkpointEvery: 200,
    fresh: false,
    maxMinutes: Infinity,
    out: 'public/models/demo-eg3d.safetensors',
    exportNow: false,
    initFrom: null,
    logEvery: 10,
    targetsGiven: {},
  };
  const num = (i: number, flag: string) => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isFinite(v)) throw new Error(`${flag} needs a number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--seed': o.seed = num(++i, f); break; // a resumed run keeps its seed
      case '--field-steps': o.fieldSteps = a.targetsGiven.fieldSteps = num(++i, f); break;
      case '--sr-steps': o.srSteps = a.targetsGiven.srSteps = num(++i, f); break;
      case '--batch': o.batch = a.targetsGiven.batch = num(++i, f); break;
      case '--points': o.pointsPerHead = a.targetsGiven.pointsPerHead = num(++i, f); break;
      case '--sr-batch': o.srBatch = a.targetsGiven.srBatch = num(++i, f); break;
      case '--lr': o.learningRate = a.targetsGiven.learningRate = num(++i, f); break;
      case '--sr-lr': o.srLearningRate = a.targetsGiven.srLearningRate = num(++i, f); break;
      case '--decoder-lr': o.decoderLearningRate = a.targetsGiven.decoderLearningRate = num(++i, f); break;
      case '--full-planes': o.fastPlanes = false; break;
      case '--slope-start': o.targetSlopeStart = a.targetsGiven.targetSlopeStart = num(++i, f); break;
      case '--slope-end': o.targetSlopeEnd = a.targetsGiven.targetSlopeEnd = num(++i, f); break;
      case '--slope-anneal': o.slopeAnnealFraction = a.targetsGiven.slopeAnnealFraction = num(++i, f); break;
      case '--band': o.surfaceBand = a.targetsGiven.surfaceBand = num(++i, f); break;
      case '--face-fraction': o.faceFraction = a.targetsGiven.faceFraction = num(++i, f); break;
      case '--init-from': a.initFrom = argv[++i]; break;
      case '--uniform': o.uniformFraction = a.targetsGiven.uniformFraction = num(++i, f); break;
      case '--colour-weight': o.colourWeight = a.targetsGiven.colourWeight = num(++i, f); break;
      case '--lr-drop-at': o.lrDropAt = a.targetsGiven.lrDropAt = num(++i, f); break;
      case '--lr-drop-factor': o.lrDropFactor = a.targetsGiven.lrDropFactor = num(++i, f); break;
      case '--mapping-lr-boost': o.mappingLrBoost = a.targetsGiven.mappingLrBoost = num(++i, f); break;
      case '--factor-probe-weight': o.factorProbeWeight = a.targetsGiven.factorProbeWeight = num(++i, f); break;
      case '--factor-probe-lr': o.factorProbeLearningRate = a.targetsGiven.factorProbeLearningRate = num(++i, f); break;
      case '--backend': a.backend = argv[++i] as NodeBackendName; break;
      case '--checkpoint-dir': a.checkpointDir = argv[++i]; break;
      case '--checkpoint-every': a.checkpointEvery = num(++i, f); break;
      case '--fresh': a.fresh = true; break;
      case '--max-minutes': a.maxMinutes = num(++i, f); break;
      case '--out': a.out = argv[++i]; break;
      case '--export-now': a.exportNow = true; break;
      case '--log-every': a.logEvery = num(++i, f); break;
      case '--': break;
      default: throw new Error(`unknown option ${f} (see the header of scripts/train-demo.ts)`);
    }
  }
  if (!['wasm', 'webgpu', 'cpu'].includes(a.backend)) throw new Error(`--backend must be wasm, webgpu or cpu (got ${a.backend})`);
  return a;
}

async function writeAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(`${path}.tmp`, bytes);
  await rename(`${path}.tmp`, path);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  await initNodeBackend(args.backend);
  installFastPackGradient();
  const ckptPath = join(args.checkpointDir, 'latest.safetensors');
  let trainer: DemoTrainer;
  if (!args.fresh && existsSync(ckptPath)) {
    trainer = await DemoTrainer.fromCheckpoint(new MemoryByteSource(new Uint8Array(await readFile(ckptPath)), ckptPath), args.targetsGiven);
    console.log(`resumed from ${ckptPath} at phase-1 step ${trainer.stepFields}, phase-2 step ${trainer.stepSr} (seed ${trainer.options.seed})`);
  } else if (args.initFrom) {
    trainer = await DemoTrainer.fromWeights(new MemoryByteSource(new Uint8Array(await readFile(args.initFrom)), args.initFrom), args.targetsGiven);
    console.log(`warm start from ${args.initFrom} at phase-1 step ${trainer.stepFields} (seed ${trainer.options.seed}, fresh optimizers)`);
  } else {
    trainer = DemoTrainer.create(args.options);
    console.log(`fresh run, seed ${args.options.seed}`);
  }
  const o = trainer.options;
  console.log(`backend ${tf.getBackend()}; phase 1: ${o.fieldSteps} steps × ${o.batch} heads × ${o.pointsPerHead} points (${o.fastPlanes ? 'fast 64² planes' : 'full 256² backbone'}); phase 2: ${o.srSteps} steps × ${o.srBatch} images`);

  const saveCheckpoint = async () => {
    await writeAtomic(ckptPath, await trainer.serializeCheckpoint());
    console.log(`checkpoint: ${ckptPath} (phase-1 step ${trainer.stepFields}, phase-2 step ${trainer.stepSr})`);
  };
  let stop = false;
  process.on('SIGINT', () => {
    console.log('interrupted: saving a checkpoint after this step');
    stop = true;
  });
  const deadline = Date.now() + args.maxMinutes * 60_000;
  const started = Date.now();
  let sinceSave = 0;
  let window: number[] = [];
  while (!args.exportNow && trainer.phase !== 'done' && !stop && Date.now() < deadline) {
    const r = await trainer.step();
    window.push(r.loss);
    sinceSave++;
    const total = r.phase === 'fields' ? o.fieldSteps : o.srSteps;
    if (r.step % args.logEvery === 0 || r.step === total) {
      const avg = window.reduce((s, v) => s + v, 0) / window.length;
      const terms = Object.entries(r.terms).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
      console.log(`[${r.phase}] step ${r.step}/${total}  loss ${r.loss.toFixed(4)} (avg of last ${window.length}: ${avg.toFixed(4)})  ${terms}  ${(r.ms / 1000).toFixed(2)} s/step  ${tf.memory().numTensors} tensors`);
      window = [];
    }
    if (sinceSave >= args.checkpointEvery) {
      await saveCheckpoint();
      sinceSave = 0;
    }
  }
  if (sinceSave > 0 || stop || Date.now() >= deadline) await saveCheckpoint();
  if (trainer.phase === 'done' || args.exportNow) {
    const bytes = await trainer.exportSafetensors({ wall_minutes_last_session: (Date.now() - started) / 60_000, backend: tf.getBackend(), finished: trainer.phase === 'done' });
    await writeAtomic(args.out, bytes);
    console.log(`wrote ${args.out} (${(bytes.length / 1e6).toFixed(2)} MB)`);
  } else {
    console.log(`not finished (phase ${trainer.phase}); run again to continue from ${ckptPath}`);
  }
  trainer.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

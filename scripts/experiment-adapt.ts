/**
 * Offline experiment driver for the adaptation defaults (docs/method.md, "Experiments"):
 *
 *   npx tsx scripts/experiment-adapt.ts --reference <img|example:sketch|example:cartoon> [--reference ...]
 *       --config "<name>;lr=0.0016;steps=15,0;batch=1;weights=1,1,1,10;opt.disTokens=hypercolumn" [--config ...]
 *       [--generator embedded|<file.pkl>] [--clip <file>] [--latents 3] [--yaws -0.4,0,0.4] [--eval-seed 0]
 *       [--mean-samples 64] [--no-face] [--no-texture] [--crop face|centre] [--out out/experiments]
 *
 * For every (config, reference): μ_s (cached per encoder, sample count and ψ, in memory and as
 * `<out>/../mean-*.f32`), the
 * two-step schedule with `AdapterTrainer` exactly as the engine runs it (prepareTrainerEncoder +
 * computeMeanEmbedding), then the evaluation report (src/evaluate) over held-out latents (seeded,
 * disjoint from the training draws) × yaws. Prints one table row per run and appends it as JSON to
 * `<out>/results.jsonl`; writes `<out>/<config>__<reference>.png` (per latent a row of source views
 * above a row of adapted views; the reference top left). Backend from TFJS_BACKEND (default wasm).
 *
 * Config keys: lr, steps (Tri-D,G2), batch, weights (dir,dis,istr,fstr), seed, psi, mean (μ_s samples),
 * betas (b1,b2), and `opt.<method option>` for any option of src/adapter/options.ts.
 */
import * as tf from '@tensorflow/tfjs';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { initNodeBackend, backendFromEnv } from '../src/platform/node-backend.ts';
import { openEmbeddedFile } from '../src/platform/node-embedded.ts';
import { NodeFileByteSource } from '../src/platform/node-file.ts';
import { loadEmbeddedGenerator } from '../src/engine/embedded.ts';
import { EG3DGenerator } from '../src/eg3d/generator.ts';
import { DEFAULT_CHUNK_RAYS } from '../src/eg3d/renderer.ts';
import { GeneratorView } from '../src/adapter/generator-view.ts';
import { AdapterTrainer, disposeTrainerEncoder, prepareTrainerEncoder } from '../src/adapter/trainer.ts';
import { computeMeanEmbedding } from '../src/adapter/mean-embedding.ts';
import { parseMethodOptions } from '../src/adapter/options.ts';
import { loadDefaultEncoder } from '../src/clip/default-encoder.ts';
import { loadClipEncoder, type FeatureEncoder } from '../src/clip/encoder.ts';
import { SettingsError } from '../src/core/errors.ts';
import type { RgbaImage } from '../src/core/image.ts';
import { evaluateAdaptation, FaceApiEmbedder, InceptionGramNetwork, loadNsfwInceptionV3, resizeArea, type EvaluationResult } from '../src/evaluate/index.ts';
import { tile } from './cli/adapt.ts';
import { parseCropMode, prepareReference, referenceName, type FaceLocator, type ReferenceCropMode } from './reference-image.ts';
import { createNodeFaceEmbedder } from '../src/testing/face-api.ts';
import { ffhqAlignment } from '../src/evaluate/face-align.ts';

export interface ExperimentConfig {
  name: string;
  lr: number;
  betas: [number, number];
  steps: [number, number];
  batch: number;
  weights: [number, number, number, number];
  seed: number;
  psi: number;
  meanSamples: number;
  options: Record<string, string | number>;
}

export const BASE_CONFIG: Omit<ExperimentConfig, 'name'> = {
  lr: 0.0016,
  betas: [0, 0.992],
  steps: [15, 0],
  batch: 1,
  weights: [1, 1, 1, 10],
  seed: 0,
  psi: 1,
  meanSamples: 64,
  options: {},
};

function numbers(v: string, n: number, key: string): number[] {
  const xs = v.split(',').map(Number);
  if (xs.length !== n || xs.some((x) => !Number.isFinite(x))) throw new SettingsError(`config ${key} needs ${n} numbers (got ${v})`);
  return xs;
}

/** "name;key=value;..." → config (unknown keys are an error; method options are validated too). */
export function parseConfig(spec: string): ExperimentConfig {
  const [name, ...parts] = spec.split(';').map((s) => s.trim()).filter(Boolean);
  if (!name || name.includes('=')) throw new SettingsError(`config "${spec}" must start with a name`);
  const c: ExperimentConfig = { name, ...BASE_CONFIG, options: {} };
  for (const p of parts) {
    const eq = p.indexOf('=');
    if (eq < 0) throw new SettingsError(`config part "${p}" is not key=value`);
    const k = p.slice(0, eq).trim();
    const v = p.slice(eq + 1).trim();
    if (k.startsWith('opt.')) {
      c.options[k.slice(4)] = v;
      continue;
    }
    switch (k) {
      case 'lr': c.lr = numbers(v, 1, k)[0]; break;
      case 'betas': c.betas = numbers(v, 2, k) as [number, number]; break;
      case 'steps': c.steps = numbers(v, 2, k) as [number, number]; break;
      case 'batch': c.batch = numbers(v, 1, k)[0]; break;
      case 'weights': c.weights = numbers(v, 4, k) as [number, number, number, number]; break;
      case 'seed': c.seed = numbers(v, 1, k)[0]; break;
      case 'psi': c.psi = numbers(v, 1, k)[0]; break;
      case 'mean': c.meanSamples = numbers(v, 1, k)[0]; break;
      default: throw new SettingsError(`unknown config key ${k}`);
    }
  }
  parseMethodOptions(c.options);
  return c;
}

interface Args {
  references: string[];
  configs: ExperimentConfig[];
  generator: string;
  clip: string;
  latents: number;
  yaws: number[];
  evalSeed: number;
  face: boolean;
  texture: boolean;
  crop: ReferenceCropMode;
  out: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { references: [], configs: [], generator: 'embedded', clip: '', latents: 3, yaws: [-0.4, 0, 0.4], evalSeed: 0, face: true, texture: true, crop: 'face', out: 'out/experiments' };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new SettingsError(`${f} needs a value`);
      return x;
    };
    switch (f) {
      case '--reference': a.references.push(v()); break;
      case '--config': a.configs.push(parseConfig(v())); break;
      case '--generator': a.generator = v(); break;
      case '--clip': a.clip = v(); break;
      case '--latents': a.latents = Number(v()); break;
      case '--yaws': a.yaws = v().split(',').map(Number); break;
      case '--eval-seed': a.evalSeed = Number(v()); break;
      case '--no-face': a.face = false; break;
      case '--no-texture': a.texture = false; break;
      case '--crop': a.crop = parseCropMode(v()); break;
      case '--out': a.out = v(); break;
      default: throw new SettingsError(`unknown argument ${f}`);
    }
  }
  if (!a.references.length || !a.configs.length) throw new SettingsError('need at least one --reference and one --config');
  return a;
}

/** Mean |Δ| (0–255 scale) between the source and adapted frontal thumbnails: how much a person could see change. */
export function meanPixelChange(result: EvaluationResult): number {
  let sum = 0;
  let n = 0;
  for (const r of result.rows) {
    r.thumbnails.source.forEach((src, v) => {
      const s = src.data;
      const d = r.thumbnails.adapted[v].data;
      for (let i = 0; i < s.length; i++) {
        if (i % 4 === 3) continue;
        sum += Math.abs(s[i] - d[i]);
        n++;
      }
    });
  }
  return n ? sum / n : 0;
}

function savePng(path: string, img: RgbaImage): void {
  writeFileSync(path, encodePng({ width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength), channels: 4, depth: 8 }));
}

/** Per latent two rows (source views, adapted views); the first column holds the reference once. */
export function resultGrid(result: EvaluationResult, reference: RgbaImage, size: number): RgbaImage {
  const blank: RgbaImage = { width: size, height: size, data: new Uint8ClampedArray(size * size * 4).fill(255) };
  const cells: RgbaImage[] = [];
  result.rows.forEach((r, k) => {
    cells.push(k === 0 ? resizeArea(reference, size) : blank, ...r.thumbnails.source);
    cells.push(blank, ...r.thumbnails.adapted);
  });
  return tile(cells, 1 + result.options.yaws.length);
}

const f2 = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? '—' : x.toFixed(d));

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const backend = await initNodeBackend(backendFromEnv());
  mkdirSync(a.out, { recursive: true });
  let base: EG3DGenerator;
  if (a.generator === 'embedded') base = (await loadEmbeddedGenerator(openEmbeddedFile)).generator;
  else base = await EG3DGenerator.fromPickle(await NodeFileByteSource.open(a.generator));
  const source = new GeneratorView(base, DEFAULT_CHUNK_RAYS);
  const encoder: FeatureEncoder = a.clip ? await loadClipEncoder(await NodeFileByteSource.open(a.clip)) : await loadDefaultEncoder();
  const face: FaceApiEmbedder | null = a.face || a.crop === 'face' ? createNodeFaceEmbedder() : null;
  // The studio's face-aware crop of a reference file (FFHQ alignment from face-api's landmarks).
  const locate: FaceLocator | null = face
    ? async (img) => {
        const found = await face.landmarks(img);
        return found ? ffhqAlignment(found.points) : null;
      }
    : null;
  const texture = a.texture ? await InceptionGramNetwork.create(await loadNsfwInceptionV3()) : null;
  const means = new Map<string, Float32Array>();
  const header = 'config | reference | train s (s/it) | palette s→a (Δ%) | palette vs whole crop s→a (Δ%) | texture s→a (Δ%) | identity | Δdepth %head | |Δpx| | losses first→last';
  console.log(header);

  for (const c of a.configs) {
    for (const refPath of a.references) {
      const prepared = await prepareReference(refPath, a.crop, locate);
      const reference = prepared.image;
      console.error(`reference ${refPath}: ${prepared.how}`);
      const refName = referenceName(refPath);
      const options = parseMethodOptions(c.options);
      const key = `${encoder.id}|${c.meanSamples}|${c.psi}`;
      let tMean = 0;
      // μ_s does not depend on the reference or the run: cached in memory and next to the results.
      const cacheFile = join(a.out, '..', `mean-${encoder.id}-${encoder.weightsSha256?.slice(0, 12) ?? 'user'}-n${c.meanSamples}-psi${c.psi}.f32`);
      if (!means.has(key) && existsSync(cacheFile)) means.set(key, new Float32Array(new Uint8Array(readFileSync(cacheFile)).buffer));
      if (!means.has(key)) {
        const t = performance.now();
        const [mu] = await computeMeanEmbedding(source, [encoder], { samples: c.meanSamples, batch: 4, seed: 20250101, psi: c.psi, options });
        means.set(key, mu);
        writeFileSync(cacheFile, new Uint8Array(mu.buffer, mu.byteOffset, mu.byteLength));
        tMean = (performance.now() - t) / 1000;
      }
      const te = prepareTrainerEncoder(encoder, reference, means.get(key)!, options);
      const trainer = new AdapterTrainer(source, [te], {
        iterations: c.steps,
        batchSize: c.batch,
        learningRate: c.lr,
        betas: c.betas,
        lossWeights: { dir: c.weights[0], dis: c.weights[1], imageStructure: c.weights[2], featureStructure: c.weights[3] },
        seed: c.seed,
        truncationPsi: c.psi,
        options,
      });
      const losses: number[][] = [];
      const t0 = performance.now();
      while (!trainer.done) {
        const r = await trainer.step();
        const l = r.losses;
        losses.push([l.total, l.dir, l.dis, l.imageStructure, l.featureStructure]);
        process.stderr.write(`\r${c.name} ${refName} ${r.phase} ${r.globalIteration}/${trainer.totalIterations} dir ${l.dir.toFixed(3)} dis ${l.dis.toFixed(3)} I ${l.imageStructure.toFixed(4)} F ${l.featureStructure.toFixed(4)}   `);
      }
      const trainSeconds = (performance.now() - t0) / 1000;
      process.stderr.write('\n');
      const adapted = source.withWeights(trainer.variables as unknown as Map<string, tf.Tensor>);
      const result = await evaluateAdaptation({
        source,
        adapted,
        reference,
        face: a.face ? face : null,
        texture,
        options: { latents: a.latents, yaws: a.yaws, seed: a.evalSeed, thumbnailSize: base.config.imgResolution },
      });
      // The palette against the whole reference crop too (the measure before session 11), for comparison.
      const whole = await evaluateAdaptation({
        source,
        adapted,
        reference,
        options: { latents: a.latents, yaws: a.yaws, seed: a.evalSeed, thumbnailSize: base.config.imgResolution, paletteReference: 'image' },
      });
      const m = result.means;
      const mw = whole.means;
      const px = meanPixelChange(result);
      const first = losses[0];
      const last = losses[losses.length - 1];
      const row = {
        config: c.name,
        reference: refName,
        settings: c,
        trainSeconds,
        secondsPerIteration: trainSeconds / Math.max(1, losses.length),
        meanEmbeddingSeconds: tMean,
        palette: m.palette,
        paletteChangePct: m.paletteChangePct,
        paletteWholeCrop: mw.palette,
        paletteWholeCropChangePct: mw.paletteChangePct,
        texture: m.texture,
        textureChangePct: m.textureChangePct,
        identity: m.identity,
        detectedLatents: m.detectedLatents,
        depthDiffPct: m.depthDiffPct,
        consistency: m.consistency,
        pixelChange: px,
        lossesFirst: first,
        lossesLast: last,
        backend,
        latents: a.latents,
        yaws: a.yaws,
      };
      appendFileSync(join(a.out, 'results.jsonl'), JSON.stringify(row) + '\n');
      console.log(
        [
          c.name,
          refName,
          `${trainSeconds.toFixed(0)} (${row.secondsPerIteration.toFixed(1)})`,
          `${f2(m.palette?.source, 1)}→${f2(m.palette?.adapted, 1)} (${f2(m.paletteChangePct, 0)}%)`,
          `${f2(mw.palette?.source, 1)}→${f2(mw.palette?.adapted, 1)} (${f2(mw.paletteChangePct, 0)}%)`,
          `${f2(m.texture?.source)}→${f2(m.texture?.adapted)} (${f2(m.textureChangePct, 0)}%)`,
          f2(m.identity),
          f2(m.depthDiffPct, 1),
          f2(px, 1),
          `dir ${f2(first[1])}→${f2(last[1])} dis ${f2(first[2])}→${f2(last[2])} I ${f2(first[3], 4)}→${f2(last[3], 4)} F ${f2(first[4], 4)}→${f2(last[4], 4)}`,
        ].join(' | '),
      );
      savePng(join(a.out, `${c.name}__${refName}.png`), resultGrid(result, reference, base.config.imgResolution));
      trainer.dispose(true);
      disposeTrainerEncoder(te);
    }
  }
  face?.dispose();
  texture?.dispose();
  encoder.dispose();
  base.dispose();
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});

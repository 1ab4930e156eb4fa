/**
 * npm run cli -- adapt [--generator <file.pkl|embedded>] [--clip <file> [--clip-config <json>] ...] [--default-encoder]
 *                      --reference <image.png|jpg|example:sketch|example:cartoon> --out <adapted.safetensors>
 *                      [--preset quick|balanced|strong-style|keep-identity]
 *                      [--steps 150,150] [--seed N] [--batch N] [--lr X] [--psi X] [--mean-samples N]
 *                      [--weights dir,dis,istr,fstr] [--option name=value ...] [--grid <png>]
 *                      [--pickle-out <file.pkl>] [--checkpoint-out <file>] [--resume <checkpoint>]
 *                      [--prompt "a pencil sketch" [--source-prompt photo] [--text-weight W] [--vocab <bpe vocabulary>]]
 *
 * Zero-shot (text-driven, src/adapter/zero-shot.ts): --prompt describes the target domain and replaces
 * --reference (or, with --reference too, mixes the text direction in with weight --text-weight, default
 * 0.5). It needs a --clip with a text tower and CLIP's BPE vocabulary: --vocab, or a
 * bpe_simple_vocab_16e6.txt(.gz) / *bpe*.txt(.gz) / merges.txt beside the first --clip file. The
 * prompt is recorded in the weights' metadata.
 *
 * Runs the 3D-Adapter schedule with the same engine the studio uses (LocalEngine, backend from
 * TFJS_BACKEND, default wasm), prints a progress bar, writes the adapted Tri-D + G2 weights, and a
 * before/after PNG grid (rows: source, adapted; columns: latents × views). Without --clip the embedded
 * default encoder is used. `--clip-config <json>` gives the model config (open_clip model config or
 * Hugging Face config.json) of the `--clip` just before it: the head count the weights cannot tell
 * (ViT-H/14, widths that are not a multiple of 64). The reference is centre-cropped to a square. μ_s is cached as JSON beside
 * the --out file (mu_s-<generator>-<encoder>-psi<ψ>.json) and reused by later runs there; its sample
 * count and half-sample stability are printed.
 *
 * Settings start from the same defaults and presets as the studio (src/engine/defaults.ts; Balanced
 * when --preset is absent) and explicit flags override the preset, so the same preset and seed give
 * the studio's run.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { initNodeBackend, backendFromEnv, nodeCapabilities } from '../../src/platform/node-backend.ts';
import { openEmbeddedFile } from '../../src/platform/node-embedded.ts';
import { NodeMeanEmbeddingStore } from '../../src/platform/node-mean-store.ts';
import { LocalEngine } from '../../src/engine/local-engine.ts';
import { argReader, engineFaceLocator, fileBlob, loadCliGenerator } from '../cli-engine.ts';
import { loadNodeFaceApi } from '../../src/platform/node-evaluation.ts';
import { DEFAULT_PRESET, PRESET_IDS, defaultAdaptSettings, type PresetId } from '../../src/engine/defaults.ts';
import { describeMeanEmbedding, isMeanEmbeddingStable, MEAN_EMBEDDING_STABLE, needsClipConfig, type AdaptSettings, type EncoderSource, type EngineEvent, type MeanEmbeddingEvent, type ModelInfo, type RgbaImage } from '../../src/engine/types.ts';
import { METHOD_OPTION_DESCRIPTIONS } from '../../src/adapter/options.ts';
import { DEFAULT_SOURCE_PROMPT } from '../../src/adapter/zero-shot.ts';
import { IncompatibleFileError, SettingsError } from '../../src/core/errors.ts';
import { parseCropMode, prepareReference, type ReferenceCropMode } from '../reference-image.ts';

/** The settings flags given on the command line (each overrides the preset's value). */
export type SettingsOverrides = Partial<Pick<AdaptSettings, 'iterations' | 'seed' | 'batchSize' | 'learningRate' | 'truncationPsi' | 'meanEmbeddingSamples' | 'lossWeights'>>;

interface AdaptArgs {
  generator: string;
  clips: string[];
  /** The --clip-config of each --clip (same index), when given. */
  clipConfigs: (string | undefined)[];
  defaultEncoder: boolean;
  reference: string;
  /** How a reference file is cropped: as the studio does ('face'), or the centred square. */
  crop: ReferenceCropMode;
  out: string;
  grid: string;
  pickleOut: string;
  checkpointOut: string;
  resume: string;
  preset: PresetId;
  overrides: SettingsOverrides;
  options: Record<string, string | number>;
  /** Zero-shot: the target description (empty = none), the source description, the text weight (with a reference) and the BPE vocabulary. */
  prompt: string;
  sourcePrompt: string;
  textWeight: number | null;
  vocab: string;
}

const USAGE = `usage: npm run cli -- adapt [--generator <file.pkl|embedded (default)>] [--clip <file> [--clip-config <json>] ...] [--default-encoder]
       --reference <image|example:sketch|example:cartoon> [--crop face|centre] --out <file.safetensors> [--preset ${PRESET_IDS.join('|')} (default ${DEFAULT_PRESET})]
       [--steps 150,150] [--seed N] [--batch N] [--lr X] [--psi X] [--mean-samples N] [--weights dir,dis,istr,fstr]
       [--option name=value ...] [--grid <png>] [--pickle-out <pkl>] [--checkpoint-out <file>] [--resume <checkpoint>]
       [--prompt <target description> [--source-prompt photo] [--text-weight 0.5] [--vocab <bpe_simple_vocab_16e6.txt.gz|merges.txt>]]
--crop: a reference file is cropped as the studio crops a dropped image — the FFHQ-aligned face when face-api finds one (default), else the centred square; --prompt replaces --reference (zero-shot; needs a --clip with a text tower); --clip-config applies to the --clip just before it; flags after the preset override its values; method options: ${METHOD_OPTION_DESCRIPTIONS.map((d) => d.name).join(', ')}`;

export function parseAdaptArgs(argv: string[]): AdaptArgs {
  const a: AdaptArgs = {
    generator: '',
    clips: [],
    clipConfigs: [],
    defaultEncoder: false,
    reference: '',
    crop: 'face',
    out: '',
    grid: '',
    pickleOut: '',
    checkpointOut: '',
    resume: '',
    preset: DEFAULT_PRESET,
    overrides: {},
    options: {},
    prompt: '',
    sourcePrompt: '',
    textWeight: null,
    vocab: '',
  };
  const o = a.overrides;
  const { value, num, list } = argReader(argv, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--generator': a.generator = value(++i, f); break;
      case '--clip': a.clips.push(value(++i, f)); a.clipConfigs.push(undefined); break;
      case '--clip-config': {
        const cfg = value(++i, f);
        const k = a.clips.length - 1;
        if (k < 0) throw new SettingsError(`--clip-config ${cfg} must follow the --clip it belongs to\n${USAGE}`);
        if (a.clipConfigs[k] !== undefined) throw new SettingsError(`--clip ${a.clips[k]} has two configs (${a.clipConfigs[k]}, ${cfg})`);
        a.clipConfigs[k] = cfg;
        break;
      }
      case '--default-encoder': a.defaultEncoder = true; break;
      case '--reference': a.reference = value(++i, f); break;
      case '--crop': a.crop = parseCropMode(value(++i, f)); break;
      case '--out': a.out = value(++i, f); break;
      case '--grid': a.grid = value(++i, f); break;
      case '--pickle-out': a.pickleOut = value(++i, f); break;
      case '--checkpoint-out': a.checkpointOut = value(++i, f); break;
      case '--resume': a.resume = value(++i, f); break;
      case '--preset': {
        const p = value(++i, f);
        if (!(PRESET_IDS as readonly string[]).includes(p)) throw new SettingsError(`--preset must be one of ${PRESET_IDS.join(', ')} (got ${p})`);
        a.preset = p as PresetId;
        break;
      }
      case '--steps': o.iterations = list(++i, f, 2) as [number, number]; break;
      case '--seed': o.seed = num(++i, f); break;
      case '--batch': o.batchSize = num(++i, f); break;
      case '--lr': o.learningRate = num(++i, f); break;
      case '--psi': o.truncationPsi = num(++i, f); break;
      case '--mean-samples': o.meanEmbeddingSamples = num(++i, f); break;
      case '--weights': {
        const [dir, dis, imageStructure, featureStructure] = list(++i, f, 4);
        o.lossWeights = { dir, dis, imageStructure, featureStructure };
        break;
      }
      case '--option': {
        const kv = value(++i, f);
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new SettingsError(`--option needs name=value (got ${kv})`);
        const v = kv.slice(eq + 1);
        a.options[kv.slice(0, eq)] = v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
        break;
      }
      case '--prompt': a.prompt = value(++i, f); break;
      case '--source-prompt': a.sourcePrompt = value(++i, f); break;
      case '--text-weight': a.textWeight = num(++i, f); break;
      case '--vocab': a.vocab = value(++i, f); break;
      case '--help': case '-h': throw new SettingsError(USAGE);
      default: throw new SettingsError(`unknown argument ${f}\n${USAGE}`);
    }
  }
  if (!a.generator) a.generator = 'embedded';
  if ((!a.reference && !a.prompt) || !a.out) throw new SettingsError(`--reference (or --prompt) and --out are required\n${USAGE}`);
  if (!a.prompt && (a.sourcePrompt || a.textWeight !== null || a.vocab)) throw new SettingsError(`--source-prompt, --text-weight and --vocab belong to --prompt\n${USAGE}`);
  if (a.prompt && !a.clips.length) throw new SettingsError(`--prompt needs a --clip with a text tower (the embedded encoder has none)\n${USAGE}`);
  if (!a.clips.length) a.defaultEncoder = true;
  if (!a.grid) a.grid = a.out.replace(/\.safetensors$/i, '') + '.grid.png';
  return a;
}

/** The run's settings: the preset's (studio defaults), then the explicit flags, then the encoders. */
export function settingsFromArgs(a: Pick<AdaptArgs, 'preset' | 'overrides' | 'options'> & Partial<Pick<AdaptArgs, 'prompt' | 'sourcePrompt' | 'textWeight' | 'reference'>>, encoders: string[]): AdaptSettings {
  const s = defaultAdaptSettings(a.preset);
  const settings: AdaptSettings = { ...s, ...a.overrides, encoders, options: { ...s.options, ...a.options } };
  if (a.prompt) settings.text = { prompt: a.prompt, sourcePrompt: a.sourcePrompt || DEFAULT_SOURCE_PROMPT, weight: a.textWeight ?? (a.reference ? 0.5 : 1) };
  return settings;
}

/** CLIP's BPE vocabulary for --prompt: the one given, else one beside the first --clip file (null when none is found). */
export function findVocabulary(given: string, clips: string[]): string | null {
  if (given) return given;
  if (!clips.length) return null;
  const dir = dirname(resolve(clips[0]));
  if (!existsSync(dir)) return null;
  const names = readdirSync(dir);
  const pick = names.find((n) => n === 'bpe_simple_vocab_16e6.txt.gz') ?? names.find((n) => /bpe.*\.txt(\.gz)?$/i.test(n)) ?? names.find((n) => n === 'merges.txt');
  return pick ? join(dir, pick) : null;
}

/** Tiles equally sized RGBA images row-major into one image. */
export function tile(images: RgbaImage[], cols: number): RgbaImage {
  const w = images[0].width;
  const h = images[0].height;
  const rows = Math.ceil(images.length / cols);
  const data = new Uint8ClampedArray(cols * w * rows * h * 4);
  images.forEach((im, k) => {
    const ox = (k % cols) * w;
    const oy = Math.floor(k / cols) * h;
    for (let y = 0; y < h; y++) data.set(im.data.subarray(y * w * 4, (y + 1) * w * 4), ((oy + y) * cols * w + ox) * 4);
  });
  return { width: cols * w, height: rows * h, data };
}

function bar(done: number, total: number, width = 24): string {
  const k = total ? Math.round((done / total) * width) : 0;
  return `[${'#'.repeat(k)}${'-'.repeat(width - k)}]`;
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** The μ_s line: "μ_s (encoder) · 512 samples · stability 0.998 (cached)", with a hint when it is not stable yet. */
export function meanEmbeddingLine(e: MeanEmbeddingEvent): string {
  const line = describeMeanEmbedding(e).replace(/^μ_s/, `μ_s (${e.encoderName})`);
  return isMeanEmbeddingStable(e) ? line : `${line} — below ${MEAN_EMBEDDING_STABLE}: raise μ_s samples (--mean-samples)`;
}

function printEvent(e: EngineEvent): void {
  const out = process.stderr;
  if (e.type === 'load-progress') {
    out.write(`\r${e.what}: ${bar(e.loaded, e.total)} ${Math.round((100 * e.loaded) / Math.max(1, e.total))}%   `);
  } else if (e.type === 'progress') {
    const l = e.losses;
    const losses = e.phase === 'mean-embedding' || !l ? '' : ` loss ${l.total.toFixed(4)} (dir ${l.dir.toFixed(3)} dis ${l.dis.toFixed(3)} I ${l.imageStructure.toFixed(4)} F ${l.featureStructure.toFixed(4)})`;
    const count = e.phase === 'mean-embedding' ? `${e.iteration}/${e.phaseIterations} renders` : `${e.globalIteration}/${e.totalIterations}`;
    out.write(`\r${e.phase.padEnd(14)} ${bar(e.phase === 'mean-embedding' ? e.iteration : e.globalIteration, e.phase === 'mean-embedding' ? e.phaseIterations : e.totalIterations)} ${count}${losses} ${e.itPerSec.toFixed(2)} it/s ETA ${fmtTime(e.etaSeconds)}   `);
  } else if (e.type === 'mean-embedding') {
    out.write(`\n${meanEmbeddingLine(e)}\n`);
  } else if (e.type === 'state') {
    out.write(`\n${e.state}${e.message ? `: ${e.message}` : ''}\n`);
  } else if (e.type === 'error') {
    out.write(`\nerror (${e.error.code}): ${e.error.message}\n`);
  }
}

/** Loads a --clip file (with its --clip-config); a head count only a config can give says which flag to add. */
export async function loadClip(engine: Pick<LocalEngine, 'loadEncoder'>, path: string, config?: string): Promise<ModelInfo> {
  const source: EncoderSource = {
    kind: 'file',
    file: fileBlob(path),
    name: basename(path),
    ...(config ? { config: { file: fileBlob(config), name: basename(config) } } : {}),
  };
  try {
    return await engine.loadEncoder(source);
  } catch (e) {
    if (!needsClipConfig(e)) throw e;
    throw new IncompatibleFileError(`${(e as Error).message} Add --clip-config <model config .json> right after --clip ${path}.`);
  }
}

export async function run(argv: string[]): Promise<void> {
  const a = parseAdaptArgs(argv);
  const backend = backendFromEnv();
  const engine = new LocalEngine({
    openEmbeddedFile,
    // μ_s is cached next to the outputs, per (generator, encoder, ψ): the next run there reuses it.
    meanEmbeddingStore: new NodeMeanEmbeddingStore(dirname(resolve(a.out))),
    // The face-aware crop of the reference uses the evaluation's face model, as in the studio.
    evaluationModels: { loadFaceApi: loadNodeFaceApi },
    probe: async () => {
      await initNodeBackend(backend);
      return nodeCapabilities(backend);
    },
  });
  engine.subscribe(printEvent);
  let lastCheckpoint: Uint8Array | null = null;
  engine.subscribe((e) => {
    if (e.type === 'checkpoint') lastCheckpoint = e.bytes;
  });
  // Stop cleanly on Ctrl-C: the run ends after the current iteration, its weights are still written.
  process.once('SIGINT', () => {
    process.stderr.write('\ninterrupted: finishing the current iteration…\n');
    void engine.cancel();
  });
  try {
    const cap = await engine.probe();
    process.stderr.write(`${cap.summary}\n`);
    const gen = await loadCliGenerator(engine, a.generator);
    process.stderr.write(`\ngenerator: ${gen.name} — ${gen.summary}\n`);
    const encoderIds: string[] = [];
    for (const [k, c] of a.clips.entries()) {
      const info = await loadClip(engine, c, a.clipConfigs[k]);
      process.stderr.write(`encoder: ${info.summary}\n`);
      encoderIds.push(info.id);
    }
    if (a.defaultEncoder) encoderIds.push((await engine.loadEncoder({ kind: 'embedded' })).id);
    process.stderr.write(`\nencoders: ${encoderIds.join(', ')}\n`);
    if (a.reference) {
      const ref = await prepareReference(a.reference, a.crop, engineFaceLocator(engine));
      process.stderr.write(`reference: ${ref.how}\n`);
      await engine.setReference(ref.image);
    }
    if (a.prompt) {
      const vocab = findVocabulary(a.vocab, a.clips);
      if (!vocab) throw new SettingsError(`--prompt needs CLIP's BPE vocabulary: --vocab <bpe_simple_vocab_16e6.txt.gz | merges.txt> (none beside ${a.clips[0]})`);
      const v = await engine.loadVocabulary(fileBlob(vocab), basename(vocab));
      process.stderr.write(`vocabulary: ${v.name} (${v.tokens} tokens)\n`);
    }

    const settings = settingsFromArgs(a, encoderIds);
    if (settings.text) process.stderr.write(`zero-shot: "${settings.text.sourcePrompt}" → "${settings.text.prompt}"${a.reference ? ` with the reference (text weight ${settings.text.weight})` : ' (text only: no L_dis, no μ_s)'}\n`);
    process.stderr.write(`preset ${a.preset}: ${settings.iterations.join(' + ')} iterations, batch ${settings.batchSize}, seed ${settings.seed}\n`);
    const t0 = performance.now();
    await engine.start(settings, a.resume ? new Uint8Array(readFileSync(a.resume)) : undefined);
    process.stderr.write(`adaptation took ${fmtTime((performance.now() - t0) / 1000)}\n`);

    writeFileSync(a.out, await engine.exportSafetensors());
    process.stderr.write(`wrote ${a.out}\n`);
    if (a.checkpointOut) {
      await engine.checkpoint();
      if (lastCheckpoint) writeFileSync(a.checkpointOut, lastCheckpoint);
      process.stderr.write(`wrote ${a.checkpointOut}\n`);
    }
    if (a.pickleOut) {
      writeFileSync(a.pickleOut, await engine.exportPickle());
      process.stderr.write(`wrote ${a.pickleOut}\n`);
    }

    // Before/after grid: 3 latents × 3 views; row pairs = source, adapted.
    const yaws = [-0.4, 0, 0.4];
    const cells: RgbaImage[] = [];
    for (const seed of [0, 1, 2]) {
      for (const strength of [0, 1]) {
        for (const yaw of yaws) cells.push(await engine.render({ seed, yaw, pitch: 0, psi: 0.7, mode: 'rgb', strength }));
      }
    }
    const grid = tile(cells, yaws.length);
    writeFileSync(a.grid, encodePng({ width: grid.width, height: grid.height, data: new Uint8Array(grid.data.buffer), channels: 4, depth: 8 }));
    process.stderr.write(`wrote ${a.grid} (rows: source / adapted per latent; columns: yaw ${yaws.join(', ')})\n`);
  } finally {
    await engine.dispose();
  }
}

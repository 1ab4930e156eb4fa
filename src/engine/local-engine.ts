/**
 * AdapterEngine implemented in-process (Node, or inside the engine worker): loads generators and
 * encoders, runs the 3D-Adapter schedule with progress / previews / pause / cancel / checkpoints, and
 * exports or imports adapted weights. Backend selection is injected (`probe`), so this file runs
 * unchanged in Node and in the browser.
 *
 * Ownership: every byte array or image this engine emits (events, results) is freshly allocated and
 * belongs to the receiver, so the worker may transfer it.
 */
import * as tf from '@tensorflow/tfjs';
import { BlobByteSource, MemoryByteSource, type ByteSource } from '../io/byte-source.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { readEG3DPickle, type EG3DCheckpoint } from '../eg3d/checkpoint.ts';
import { parseEG3DConfig, describeConfig } from '../eg3d/config.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { cameraFromYawPitch, frontalCamera } from '../eg3d/camera.ts';
import { loadWeights, parameterCounts, tfToTorch, type WeightMap } from '../eg3d/weights.ts';
import { writeEG3DPickleWithReplacedTensors } from '../eg3d/pickle-export.ts';
import { DEFAULT_CHUNK_RAYS } from '../eg3d/renderer.ts';
import { loadClipEncoder, type FeatureEncoder } from '../clip/encoder.ts';
import { loadDefaultEncoder } from '../clip/default-encoder.ts';
import { GeneratorView, type RenderOverrides } from '../adapter/generator-view.ts';
import { AdapterTrainer, latentFromSeed, type TrainerEncoder, type TrainPhase } from '../adapter/trainer.ts';
import { parseMethodOptions, MethodOptionError, type MethodOptions } from '../adapter/options.ts';
import { computeMeanEmbedding, meanEmbeddingKey, MeanEmbeddingCancelled } from '../adapter/mean-embedding.ts';
import { referenceDirection } from '../adapter/losses.ts';
import {
  AdaptedFileError,
  isTrainableKey,
  readAdaptedSafetensors,
  readCheckpoint,
  writeAdaptedSafetensors,
  writeCheckpoint,
  type AdaptedMetadata,
  type LossSummary,
} from '../adapter/export.ts';
import { loadEmbeddedGenerator } from './embedded.ts';
import {
  EngineError,
  type AdaptSettings,
  type AdapterEngine,
  type BackendPreference,
  type Capabilities,
  type EncoderSource,
  type EngineEvent,
  type GeneratorSource,
  type ModelInfo,
  type RenderRequest,
  type RgbaImage,
} from './types.ts';

export interface LocalEngineOptions {
  /** Selects and initialises the tfjs backend (Node: initNodeBackend; worker: initBrowserBackend). */
  probe: (preference?: BackendPreference) => Promise<Capabilities>;
  /** Overrides for tests / the CLI. */
  loadEmbeddedGenerator?: typeof loadEmbeddedGenerator;
  loadDefaultEncoder?: () => Promise<FeatureEncoder>;
  /** Cheaper rendering (tests, benchmarks, slow devices): fewer samples per ray / lower neural resolution. */
  renderOverrides?: RenderOverrides;
  /** Rays per renderer chunk (memory bound; default the renderer's DEFAULT_CHUNK_RAYS = 4096). */
  chunkRays?: number;
}

interface LoadedGenerator {
  info: ModelInfo;
  generator: EG3DGenerator;
  view: GeneratorView;
  /** The parsed pickle (file origin only), for the full-pickle export. */
  checkpoint: EG3DCheckpoint | null;
  original: Blob | null;
}

interface LoadedEncoder {
  info: ModelInfo;
  encoder: FeatureEncoder;
}

interface ActiveRun {
  settings: AdaptSettings;
  options: MethodOptions;
  trainer: AdapterTrainer | null;
  pauseRequested: boolean;
  cancelRequested: boolean;
  checkpointRequests: (() => void)[];
  resumeWaiter: (() => void) | null;
}

/** State of the adapted weights, whether from a run or an import. */
interface AdaptedState {
  /** tfjs-layout Tri-D + G2 tensors (the trainer's variables during a run). */
  weights: Map<string, tf.Tensor>;
  meta: AdaptedMetadata;
  lossTotals: number[];
}

function engineErrorFrom(e: unknown): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof AdaptedFileError) return new EngineError(e.kind === 'incompatible' ? 'incompatible-file' : 'corrupt-file', e.message);
  if (e instanceof MeanEmbeddingCancelled) return new EngineError('cancelled', e.message);
  if (e instanceof MethodOptionError) return new EngineError('internal', `invalid settings: ${e.message}`);
  const message = e instanceof Error ? e.message : String(e);
  if (/out of memory|allocation failed|Failed to allocate|Array buffer allocation|RangeError: Invalid typed array length/i.test(message)) {
    return new EngineError('out-of-memory', `Ran out of memory (${message}). Try batch size 1, fewer preview views, or the embedded demo model.`);
  }
  if (wasmAborted(e, message)) {
    return new EngineError(
      'out-of-memory',
      `The WebAssembly backend stopped (${message}): its memory is capped at 4 GiB, which one iteration at this resolution exceeds. ` +
        'Reload, then use batch size 1, step1Output = raw-upsampled, or the embedded demo model; full-size EG3D needs WebGPU.',
    );
  }
  return new EngineError('internal', message);
}

/**
 * A wasm heap exhaustion aborts the Emscripten module (RuntimeError "Aborted()"); tfjs then fails on
 * its next kernel with a TypeError from its own internals. Both mean the backend is gone.
 */
function wasmAborted(e: unknown, message: string): boolean {
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) return true;
  if (/Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(message)) return true;
  return tf.getBackend() === 'wasm' && e instanceof TypeError && /Cannot read properties of undefined/.test(message) && /tfjs-core|engine\.ts|runKernel/.test(e.stack ?? '');
}

/** Maps loader errors (bad pickle, unsupported architecture, wrong file) to file error codes. */
function fileErrorFrom(e: unknown, what: string): EngineError {
  if (e instanceof EngineError) return e;
  const name = e instanceof Error ? e.name : '';
  const message = e instanceof Error ? e.message : String(e);
  if (/Unsupported|Architecture|ClipFormat|NotAClip|Shape/i.test(name)) return new EngineError('incompatible-file', `${what}: ${message}`);
  if (/Pickle|Truncated|Safetensors|Checkpoint|Zip|Format|Corrupt|Torch/i.test(name)) return new EngineError('corrupt-file', `${what}: ${message}`);
  return engineErrorFrom(e);
}

/** [N,H,W,3] in [−1,1] → RGBA8 images (EG3D's 8-bit conversion: x·127.5 + 128, clamped). */
export async function toRgbaImages(images: tf.Tensor4D): Promise<RgbaImage[]> {
  const [n, h, w] = images.shape;
  const bytes = tf.tidy(() => tf.clipByValue(tf.add(tf.mul(images, 127.5), 128), 0, 255));
  const data = await bytes.data();
  bytes.dispose();
  const out: RgbaImage[] = [];
  for (let i = 0; i < n; i++) {
    const px = new Uint8ClampedArray(w * h * 4);
    for (let p = 0; p < w * h; p++) {
      const s = (i * w * h + p) * 3;
      px[p * 4] = data[s];
      px[p * 4 + 1] = data[s + 1];
      px[p * 4 + 2] = data[s + 2];
      px[p * 4 + 3] = 255;
    }
    out.push({ width: w, height: h, data: px });
  }
  return out;
}

function checkReference(image: RgbaImage): void {
  const ok =
    image &&
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    image.width >= 16 &&
    image.height >= 16 &&
    image.data instanceof Uint8ClampedArray &&
    image.data.length === image.width * image.height * 4;
  if (!ok) {
    throw new EngineError('bad-reference', `the reference must be an RGBA image of at least 16×16 pixels (got ${image?.width}×${image?.height}, ${image?.data?.length} bytes)`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < image.data.length; i += 4) {
    const v = image.data[i] + image.data[i + 1] + image.data[i + 2];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max - min < 6) throw new EngineError('bad-reference', 'the reference image is a single flat colour: there is no style to learn from it');
}

function summarizeLosses(totals: number[], iterations: [number, number]): LossSummary[] {
  const out: LossSummary[] = [];
  const phases: [TrainPhase, number, number][] = [
    ['tri-d', 0, Math.min(iterations[0], totals.length)],
    ['g2', iterations[0], totals.length],
  ];
  for (const [phase, from, to] of phases) {
    if (to <= from) continue;
    const xs = totals.slice(from, to);
    const tail = xs.slice(Math.max(0, xs.length - Math.max(1, Math.round(xs.length / 10))));
    out.push({ phase, iterations: xs.length, first: xs[0], last: xs[xs.length - 1], min: Math.min(...xs), finalMean: tail.reduce((a, b) => a + b, 0) / tail.length });
  }
  return out;
}

const MEAN_EMBEDDING_SEED = 20250101;

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

export class LocalEngine implements AdapterEngine {
  private listeners = new Set<(e: EngineEvent) => void>();
  private capabilities: Capabilities | null = null;
  private gen: LoadedGenerator | null = null;
  private encoders = new Map<string, LoadedEncoder>();
  private reference: RgbaImage | null = null;
  private run: ActiveRun | null = null;
  /** Resolves when the current run's start() has finished cleaning up. */
  private runEnded: Promise<void> = Promise.resolve();
  private adapted: AdaptedState | null = null;
  private lastCheckpoint: Uint8Array | null = null;
  private meanCache = new Map<string, Float32Array>();
  private disposed = false;

  constructor(private readonly opts: LocalEngineOptions) {}

  // ---- events ----

  subscribe(listener: (e: EngineEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: EngineEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // A failing listener must not break the run.
      }
    }
  }

  /** Reports an error raised outside any call (e.g. the WebGPU device was lost). */
  reportFatal(error: EngineError): void {
    if (this.run) this.run.cancelRequested = true;
    this.emit({ type: 'error', error: error.toInfo() });
  }

  // ---- set-up ----

  async probe(preference?: BackendPreference): Promise<Capabilities> {
    this.capabilities = await this.opts.probe(preference);
    return this.capabilities;
  }

  private async ensureBackend(): Promise<void> {
    if (!this.capabilities) await this.probe();
  }

  private requireIdle(what: string): void {
    if (this.disposed) throw new EngineError('not-ready', 'the engine has been disposed');
    if (this.run) throw new EngineError('not-ready', `cannot ${what} while an adaptation is running; cancel it first`);
  }

  async loadGenerator(source: GeneratorSource): Promise<ModelInfo> {
    this.requireIdle('load a generator');
    await this.ensureBackend();
    const progress = (what: string) => (loaded: number, total: number) => this.emit({ type: 'load-progress', what, loaded, total });
    let loaded: LoadedGenerator;
    if (source.kind === 'cached') {
      if (this.gen && this.gen.info.id === source.id) return this.gen.info;
      throw new EngineError('not-ready', `generator '${source.id}' is not loaded in this session; load its file again`);
    } else if (source.kind === 'embedded') {
      const load = this.opts.loadEmbeddedGenerator ?? loadEmbeddedGenerator;
      let emb;
      try {
        emb = await load(progress('embedded generator'));
      } catch (e) {
        throw fileErrorFrom(e, 'embedded generator');
      }
      loaded = this.describeGenerator(emb.generator, emb.sha256, emb.name, 'embedded', null, null);
    } else {
      const src = new BlobByteSource(source.file, source.name);
      try {
        const ckpt = await readEG3DPickle(src, { onProgress: progress(`reading ${source.name}`) });
        const config = parseEG3DConfig({ initKwargs: ckpt.initKwargs, renderingKwargs: ckpt.renderingKwargs, neuralRenderingResolution: ckpt.neuralRenderingResolution });
        const weights = await loadWeights(config, ckpt, { onProgress: progress('converting weights') });
        const sha = await ckpt.sha256(progress('SHA-256'));
        loaded = this.describeGenerator(EG3DGenerator.create(config, weights), sha, source.name, 'file', ckpt, source.file);
      } catch (e) {
        throw fileErrorFrom(e, source.name);
      }
    }
    this.replaceGenerator(loaded);
    return loaded.info;
  }

  private describeGenerator(generator: EG3DGenerator, sha256: string, name: string, origin: 'embedded' | 'file', checkpoint: EG3DCheckpoint | null, original: Blob | null): LoadedGenerator {
    const info: ModelInfo = {
      id: `generator-${sha256.slice(0, 16)}`,
      kind: 'generator',
      name,
      origin,
      sha256,
      summary: describeConfig(generator.config),
      parameters: parameterCounts(generator.config).total,
    };
    return { info, generator, view: new GeneratorView(generator, this.opts.chunkRays ?? DEFAULT_CHUNK_RAYS, this.opts.renderOverrides), checkpoint, original };
  }

  private replaceGenerator(next: LoadedGenerator): void {
    this.dropAdapted();
    this.lastCheckpoint = null;
    this.gen?.generator.dispose();
    this.gen = next;
  }

  private dropAdapted(): void {
    if (this.adapted) for (const t of this.adapted.weights.values()) t.dispose();
    this.adapted = null;
  }

  async loadEncoder(source: EncoderSource): Promise<ModelInfo> {
    this.requireIdle('load an encoder');
    await this.ensureBackend();
    if (source.kind === 'cached') {
      const e = this.encoders.get(source.id);
      if (e) return e.info;
      throw new EngineError('not-ready', `encoder '${source.id}' is not loaded in this session; load its file again`);
    }
    let encoder: FeatureEncoder;
    let sha256: string;
    let origin: 'embedded' | 'file';
    try {
      if (source.kind === 'embedded') {
        encoder = await (this.opts.loadDefaultEncoder ?? loadDefaultEncoder)();
        sha256 = await sha256OfText(`embedded:${encoder.id}`);
        origin = 'embedded';
      } else {
        const src: ByteSource = new BlobByteSource(source.file, source.name);
        sha256 = await sha256OfSource(src, { onProgress: (l, t) => this.emit({ type: 'load-progress', what: `SHA-256 of ${source.name}`, loaded: l, total: t }) });
        encoder = await loadClipEncoder(src, { id: `clip-${sha256.slice(0, 12)}`, onProgress: (l: number, t: number) => this.emit({ type: 'load-progress', what: source.name, loaded: l, total: t }) });
        origin = 'file';
      }
    } catch (e) {
      throw fileErrorFrom(e, source.kind === 'file' ? source.name : 'default encoder');
    }
    const existing = this.encoders.get(encoder.id);
    if (existing) {
      encoder.dispose();
      return existing.info;
    }
    const info: ModelInfo = {
      id: encoder.id,
      kind: 'encoder',
      name: encoder.name,
      origin,
      sha256,
      summary: `${encoder.name}: ${encoder.numBlocks} blocks, ${encoder.embedDim}-d embedding, tokens from block ${encoder.defaultTokenBlock}`,
      parameters: 0,
    };
    this.encoders.set(encoder.id, { info, encoder });
    return info;
  }

  async unloadEncoder(id: string): Promise<void> {
    this.requireIdle('unload an encoder');
    const e = this.encoders.get(id);
    if (!e) return;
    e.encoder.dispose();
    this.encoders.delete(id);
  }

  async setReference(image: RgbaImage): Promise<void> {
    this.requireIdle('change the reference');
    checkReference(image);
    this.reference = { width: image.width, height: image.height, data: new Uint8ClampedArray(image.data) };
  }

  // ---- the run ----

  async start(settings: AdaptSettings, resumeFrom?: Uint8Array): Promise<void> {
    this.requireIdle('start another run');
    const gen = this.gen;
    if (!gen) throw new EngineError('not-ready', 'load a generator first');
    if (!this.reference) throw new EngineError('not-ready', 'set a reference image first');
    const selected = settings.encoders.length ? settings.encoders.map((id) => this.encoders.get(id)) : [...this.encoders.values()];
    if (selected.length === 0) throw new EngineError('not-ready', 'load at least one encoder (CLIP or the embedded default encoder) first');
    if (selected.some((e) => !e)) throw new EngineError('not-ready', `unknown encoder id in settings.encoders (${settings.encoders.join(', ')})`);
    const encoders = selected as LoadedEncoder[];
    let options: MethodOptions;
    try {
      options = parseMethodOptions(settings.options);
    } catch (e) {
      throw engineErrorFrom(e);
    }
    const total = settings.iterations[0] + settings.iterations[1];
    const run: ActiveRun = { settings, options, trainer: null, pauseRequested: false, cancelRequested: false, checkpointRequests: [], resumeWaiter: null };
    this.run = run;
    let markEnded: () => void = () => {};
    this.runEnded = new Promise<void>((r) => (markEnded = r));
    const refFeatures: tf.Tensor[] = [];
    let finalState: 'done' | 'cancelled' = 'done';
    try {
      this.emit({ type: 'state', state: 'preparing', message: 'computing the mean source embedding' });
      // μ_s per encoder (cached per generator, encoder and sampling settings).
      const means = await this.meanEmbeddings(gen, encoders, settings, options, total);
      const trainerEncoders: TrainerEncoder[] = encoders.map(({ encoder }, i) => {
        const block = options.tokenBlock < 0 ? encoder.defaultTokenBlock : options.tokenBlock;
        if (block >= encoder.numBlocks) throw new EngineError('internal', `token block ${block} does not exist in ${encoder.name} (0..${encoder.numBlocks - 1})`);
        const ref = encoder.encodeReference(this.reference!, block);
        const refDirection = tf.tidy(() => referenceDirection(ref.embedding, tf.tensor1d(means[i])));
        refFeatures.push(ref.embedding, ref.tokens, refDirection);
        return { encoder, tokenBlock: block, refTokens: ref.tokens, refDirection };
      });

      let initial: Map<string, tf.Tensor> | undefined;
      let position: { globalIteration: number; adam: import('../adapter/adam.ts').AdamState | null; lossTotals: number[] } | null = null;
      if (resumeFrom) {
        const ck = await readCheckpoint(new MemoryByteSource(resumeFrom, 'checkpoint'), { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights });
        initial = ck.weights;
        position = ck.position;
      }
      const trainer = new AdapterTrainer(
        gen.view,
        trainerEncoders,
        {
          iterations: settings.iterations,
          batchSize: settings.batchSize,
          learningRate: settings.learningRate,
          betas: settings.betas,
          lossWeights: settings.lossWeights,
          seed: settings.seed,
          truncationPsi: settings.truncationPsi,
          options,
        },
        initial,
      );
      if (initial) for (const t of initial.values()) t.dispose();
      run.trainer = trainer;
      const lossTotals = position ? position.lossTotals.slice(0, position.globalIteration) : [];
      if (position) trainer.restore(position.globalIteration, position.adam);
      // The run's variables become the adapted weights (previous ones are dropped).
      this.dropAdapted();
      this.adapted = { weights: trainer.variables as Map<string, tf.Tensor>, meta: this.metadataFor(settings, options, encoders, trainer.globalIteration, lossTotals), lossTotals };

      const previewSource = await this.previewImages(gen.view, options);
      await this.emitPreview(trainer, options, previewSource);
      this.lastCheckpoint = await this.makeCheckpoint(trainer);
      this.emit({ type: 'state', state: 'running' });

      const durations: number[] = [];
      while (!trainer.done) {
        await this.servePauseAndCheckpoints(run, trainer);
        if (run.cancelRequested) {
          finalState = 'cancelled';
          break;
        }
        const t0 = performance.now();
        const r = await trainer.step();
        durations.push(performance.now() - t0);
        if (durations.length > 10) durations.shift();
        lossTotals.push(r.losses.total);
        this.adapted.meta = this.metadataFor(settings, options, encoders, trainer.globalIteration, lossTotals);
        const itPerSec = 1000 / (durations.reduce((a, b) => a + b, 0) / durations.length);
        this.emit({
          type: 'progress',
          phase: r.phase,
          iteration: r.iteration,
          phaseIterations: r.phase === 'tri-d' ? settings.iterations[0] : settings.iterations[1],
          globalIteration: r.globalIteration,
          totalIterations: total,
          losses: r.losses,
          itPerSec,
          etaSeconds: (total - r.globalIteration) / itPerSec,
        });
        const phaseEnd = r.globalIteration === settings.iterations[0] || trainer.done;
        if (r.globalIteration % settings.previewEvery === 0 || phaseEnd) {
          await this.emitPreview(trainer, options, previewSource);
          this.lastCheckpoint = await this.makeCheckpoint(trainer);
        }
        await tick();
      }
      await this.servePauseAndCheckpoints(run, trainer, true);
      if (finalState === 'cancelled') {
        this.lastCheckpoint = await this.makeCheckpoint(trainer);
        this.emit({ type: 'checkpoint', globalIteration: trainer.globalIteration, bytes: this.lastCheckpoint.slice() });
      }
      this.emit({ type: 'state', state: finalState });
    } catch (e) {
      const err = engineErrorFrom(e);
      if (err.code === 'cancelled') {
        this.emit({ type: 'state', state: 'cancelled' });
        return;
      }
      // Crashed mid-run: go back to the last consistent weights, hand them out as a checkpoint.
      if (run.trainer) await this.recoverFromCheckpoint(gen);
      if (run.trainer && this.lastCheckpoint && this.adapted) {
        const it = this.adapted.meta.iterations;
        this.emit({ type: 'checkpoint', globalIteration: it.triD + it.g2, bytes: this.lastCheckpoint.slice() });
      }
      this.emit({ type: 'error', error: err.toInfo() });
      this.emit({ type: 'state', state: 'error', message: err.message });
      throw err;
    } finally {
      for (const t of refFeatures) t.dispose();
      run.trainer?.dispose(false);
      for (const r of run.checkpointRequests) r();
      this.run = null;
      markEnded();
    }
  }

  private async meanEmbeddings(gen: LoadedGenerator, encoders: LoadedEncoder[], settings: AdaptSettings, options: MethodOptions, total: number): Promise<Float32Array[]> {
    // μ_s does not depend on the training seed: a fixed sampling seed lets every run reuse it.
    const keyOpts = { samples: settings.meanEmbeddingSamples, seed: MEAN_EMBEDDING_SEED, psi: settings.truncationPsi };
    const missing = encoders.filter((e) => !this.meanCache.has(meanEmbeddingKey(gen.info.sha256, e.info.id, keyOpts)));
    if (missing.length) {
      const t0 = performance.now();
      const computed = await computeMeanEmbedding(
        gen.view,
        missing.map((e) => e.encoder),
        {
          ...keyOpts,
          batch: options.meanEmbeddingBatch,
          options,
          shouldStop: () => this.run?.cancelRequested ?? true,
          onProgress: (done, n) => {
            const rate = done / Math.max(1e-3, (performance.now() - t0) / 1000);
            this.emit({ type: 'progress', phase: 'mean-embedding', iteration: done, phaseIterations: n, globalIteration: 0, totalIterations: total, itPerSec: rate, etaSeconds: done ? (n - done) / rate : 0 });
          },
        },
      );
      missing.forEach((e, i) => this.meanCache.set(meanEmbeddingKey(gen.info.sha256, e.info.id, keyOpts), computed[i]));
    }
    return encoders.map((e) => this.meanCache.get(meanEmbeddingKey(gen.info.sha256, e.info.id, keyOpts))!);
  }

  private async servePauseAndCheckpoints(run: ActiveRun, trainer: AdapterTrainer, final = false): Promise<void> {
    const serveCheckpoints = async () => {
      if (!run.checkpointRequests.length) return;
      const bytes = await this.makeCheckpoint(trainer);
      this.lastCheckpoint = bytes;
      this.emit({ type: 'checkpoint', globalIteration: trainer.globalIteration, bytes: bytes.slice() });
      for (const r of run.checkpointRequests.splice(0)) r();
    };
    await serveCheckpoints();
    if (final) return;
    while (run.pauseRequested && !run.cancelRequested) {
      this.emit({ type: 'state', state: 'paused' });
      await new Promise<void>((resolve) => (run.resumeWaiter = resolve));
      run.resumeWaiter = null;
      await serveCheckpoints();
      if (!run.pauseRequested && !run.cancelRequested) this.emit({ type: 'state', state: 'running' });
    }
  }

  private metadataFor(settings: AdaptSettings, options: MethodOptions, encoders: LoadedEncoder[], globalIteration: number, lossTotals: number[]): AdaptedMetadata {
    const gen = this.gen!;
    return {
      baseGeneratorSha256: gen.info.sha256,
      baseGeneratorName: gen.info.name,
      encoders: encoders.map((e) => ({ id: e.info.id, name: e.info.name, sha256: e.info.sha256 })),
      settings: { ...settings, options: { ...options } },
      seed: settings.seed,
      iterations: { triD: Math.min(globalIteration, settings.iterations[0]), g2: Math.max(0, globalIteration - settings.iterations[0]) },
      lossHistory: summarizeLosses(lossTotals, settings.iterations),
      createdAt: new Date().toISOString(),
    };
  }

  private async makeCheckpoint(trainer: AdapterTrainer): Promise<Uint8Array> {
    const a = this.adapted!;
    return writeCheckpoint(trainer.variables, a.meta, { globalIteration: trainer.globalIteration, adam: await trainer.optimizerState(), lossTotals: a.lossTotals });
  }

  private async recoverFromCheckpoint(gen: LoadedGenerator): Promise<void> {
    if (!this.lastCheckpoint || !this.adapted) return;
    try {
      const ck = await readCheckpoint(new MemoryByteSource(this.lastCheckpoint, 'checkpoint'), { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights });
      // The trainer's variables are released by start()'s finally block only via dispose(false); assign here.
      for (const [k, t] of ck.weights) {
        const v = this.adapted.weights.get(k);
        if (v instanceof tf.Variable) v.assign(t);
        t.dispose();
      }
      this.adapted.lossTotals = ck.position.lossTotals;
    } catch {
      // Keep whatever is there; the error event follows.
    }
  }

  private previewCameras(options: MethodOptions): { yaws: number[]; seeds: number[] } {
    const v = options.previewViews;
    const yaws = v === 1 ? [0] : Array.from({ length: v }, (_, i) => -options.previewYaw + (2 * options.previewYaw * i) / (v - 1));
    const seeds = Array.from({ length: options.previewLatents }, (_, i) => i);
    return { yaws, seeds };
  }

  /** Fixed preview latents × views, deterministic renderer draws; latent-major order. */
  private async previewImages(view: GeneratorView, options: MethodOptions): Promise<RgbaImage[]> {
    const { yaws, seeds } = this.previewCameras(options);
    const out: RgbaImage[] = [];
    for (const seed of seeds) {
      const image = tf.tidy(() => {
        const zDim = view.config.zDim;
        const ws = view.mapping(tf.tensor2d(latentFromSeed(seed, zDim), [1, zDim]), tf.tensor2d(frontalCamera(), [1, 25]), 1, null);
        const wsAll = tf.tile(ws, [yaws.length, 1, 1]) as tf.Tensor3D;
        const cams = tf.stack(yaws.map((y) => tf.tensor1d(cameraFromYawPitch(y, 0)))) as tf.Tensor2D;
        return view.synthesize(wsAll, cams, { kind: 'deterministic' }).image;
      });
      out.push(...(await toRgbaImages(image)));
      image.dispose();
      await tick();
    }
    return out;
  }

  private async emitPreview(trainer: AdapterTrainer, options: MethodOptions, source: RgbaImage[]): Promise<void> {
    const { yaws, seeds } = this.previewCameras(options);
    const adapted = await this.previewImages(trainer.adapted as GeneratorView, options);
    this.emit({
      type: 'preview',
      globalIteration: trainer.globalIteration,
      source: source.map((i) => ({ ...i, data: new Uint8ClampedArray(i.data) })),
      adapted,
      yaws: seeds.flatMap(() => yaws),
      seeds: seeds.flatMap((s) => yaws.map(() => s)),
    });
  }

  async pause(): Promise<void> {
    if (this.run) this.run.pauseRequested = true;
  }

  async resume(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.pauseRequested = false;
    run.resumeWaiter?.();
  }

  async cancel(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.cancelRequested = true;
    run.resumeWaiter?.();
  }

  async checkpoint(): Promise<void> {
    const run = this.run;
    if (run && run.trainer) {
      await new Promise<void>((resolve) => {
        run.checkpointRequests.push(resolve);
        run.resumeWaiter?.(); // a paused run wakes up, serves the request and pauses again
      });
      return;
    }
    if (!this.adapted || !this.gen) throw new EngineError('not-ready', 'there are no adapted weights to checkpoint yet');
    const bytes = writeCheckpoint(this.adapted.weights, this.adapted.meta, {
      globalIteration: this.adapted.meta.iterations.triD + this.adapted.meta.iterations.g2,
      adam: null,
      lossTotals: this.adapted.lossTotals,
    });
    this.lastCheckpoint = bytes;
    this.emit({ type: 'checkpoint', globalIteration: this.adapted.meta.iterations.triD + this.adapted.meta.iterations.g2, bytes: bytes.slice() });
  }

  /** The last checkpoint the engine holds (after a cancel or crash, the run's last consistent state). */
  lastCheckpointBytes(): Uint8Array | null {
    return this.lastCheckpoint ? this.lastCheckpoint.slice() : null;
  }

  // ---- export / import ----

  private requireAdapted(): AdaptedState {
    if (!this.gen) throw new EngineError('not-ready', 'load a generator first');
    if (!this.adapted) throw new EngineError('not-ready', 'there are no adapted weights yet: run an adaptation or import a file');
    return this.adapted;
  }

  async exportSafetensors(): Promise<Uint8Array> {
    const a = this.requireAdapted();
    return writeAdaptedSafetensors(a.weights, a.meta);
  }

  async exportPickle(): Promise<Uint8Array> {
    const a = this.requireAdapted();
    const gen = this.gen!;
    if (!gen.checkpoint) throw new EngineError('incompatible-file', 'a full pickle can only be exported when the base generator was loaded from an EG3D .pkl file (use the .safetensors export instead)');
    const replacements = new Map<string, Float32Array>();
    for (const [key, t] of a.weights) if (isTrainableKey(key)) replacements.set(key, tfToTorch(key, t).data);
    try {
      const blob = await writeEG3DPickleWithReplacedTensors(gen.checkpoint, replacements, { original: gen.original ?? undefined });
      return new Uint8Array(await blob.arrayBuffer());
    } catch (e) {
      throw engineErrorFrom(e);
    }
  }

  async importAdapted(file: Blob): Promise<void> {
    this.requireIdle('import adapted weights');
    const gen = this.gen;
    if (!gen) throw new EngineError('not-ready', 'load the base generator first');
    const name = (file as File).name ?? 'adapted weights';
    let result;
    try {
      result = await readAdaptedSafetensors(new BlobByteSource(file, name), { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights });
    } catch (e) {
      throw engineErrorFrom(e);
    }
    this.dropAdapted();
    this.adapted = { weights: result.weights, meta: result.metadata, lossTotals: [] };
    this.lastCheckpoint = null;
  }

  // ---- rendering ----

  async render(request: RenderRequest): Promise<RgbaImage> {
    const gen = this.gen;
    if (!gen) throw new EngineError('not-ready', 'load a generator first');
    const s = Math.min(1, Math.max(0, request.strength));
    const image = tf.tidy(() => {
      let view: GeneratorView = gen.view;
      if (this.adapted && s > 0) {
        const overrides: WeightMap = new Map();
        for (const [k, t] of this.adapted.weights) {
          overrides.set(k, s === 1 ? t : tf.add(gen.generator.weights.get(k)!, tf.mul(tf.sub(t, gen.generator.weights.get(k)!), s)));
        }
        view = gen.view.withWeights(overrides);
      }
      const zDim = view.config.zDim;
      const ws = view.mapping(tf.tensor2d(latentFromSeed(request.seed, zDim), [1, zDim]), tf.tensor2d(frontalCamera(), [1, 25]), request.psi, null);
      const cams = tf.tensor2d(cameraFromYawPitch(request.yaw, request.pitch), [1, 25]);
      const out = view.synthesize(ws, cams, { kind: 'deterministic' });
      if (request.mode === 'rgb') return out.image;
      if (request.mode === 'raw') return out.imageRaw;
      // depth → grey, near = white, over the batch's depth range
      const d = out.depth;
      const lo = tf.min(d);
      const hi = tf.max(d);
      const norm = tf.div(tf.sub(hi, d), tf.maximum(tf.sub(hi, lo), 1e-6));
      return tf.tile(tf.sub(tf.mul(norm, 2), 1), [1, 1, 1, 3]) as tf.Tensor4D;
    });
    const [img] = await toRgbaImages(image);
    image.dispose();
    return img;
  }

  async dispose(): Promise<void> {
    if (this.run) {
      await this.cancel();
      await this.runEnded; // the loop stops after its current iteration; only then free tensors
    }
    this.disposed = true;
    this.dropAdapted();
    this.gen?.generator.dispose();
    this.gen = null;
    for (const e of this.encoders.values()) e.encoder.dispose();
    this.encoders.clear();
    this.listeners.clear();
  }
}

async function sha256OfText(text: string): Promise<string> {
  return sha256OfSource(new MemoryByteSource(new TextEncoder().encode(text), 'text'));
}

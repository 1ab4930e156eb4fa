/**
 * AdapterEngine implemented in-process (Node, or inside the engine worker). A thin facade over:
 * the model registry (models.ts), the reference check (reference.ts), one AdaptationRun per start()
 * (run.ts: μ_s, schedule, pause / resume / cancel, speed and checkpoints), the adapted weights
 * (adapted.ts), rendering (rendering.ts) and exports / imports (exports.ts). Anything thrown is
 * mapped to an EngineError by errors.ts. Backend selection is injected (`probe`), so this file runs
 * unchanged in Node and in the browser.
 *
 * Ownership: every byte array or image this engine emits (events, results) is freshly allocated and
 * belongs to the receiver, so the worker may transfer it.
 */
import { parseMethodOptions } from '../adapter/options.ts';
import type { RenderOverrides } from '../adapter/generator-view.ts';
import type { FeatureEncoder } from '../clip/encoder.ts';
import type { EmbeddedFileOpener } from './embedded.ts';
import type { AdaptedState } from './adapted.ts';
import { classifyError } from './errors.ts';
import { EvaluationModels, runEvaluation, type EvaluationLoaders } from './evaluation.ts';
import { checkpointOf, exportPickle, exportSafetensors, importAdapted } from './exports.ts';
import { MeanEmbeddingCache } from './mean-embeddings.ts';
import { extractMesh } from './mesh.ts';
import { DomainMixer } from './mixing.ts';
import { readVocabulary } from './vocabulary.ts';
import { ffhqAlignment } from '../evaluate/face-align.ts';
import type { ClipTokenizer } from '../clip/tokenizer.ts';
import { checkTextTarget } from '../adapter/zero-shot.ts';
import { ModelRegistry } from './models.ts';
import { acceptReference } from './reference.ts';
import { renderView } from './rendering.ts';
import { AdaptationRun } from './run.ts';
import { renderOrbitVideo, type OpenVideoWriter } from './video.ts';
import {
  EngineError,
  type AdaptSettings,
  type AdapterEngine,
  type BackendPreference,
  type Capabilities,
  type EncoderSource,
  type EngineEvaluation,
  type EngineEvent,
  type EvaluationRequest,
  type ExtractedMesh,
  type GeneratorSource,
  type MeanEmbeddingStore,
  type MixInfo,
  type MixPartRequest,
  type MeshRequest,
  type ModelInfo,
  type VocabularyInfo,
  type FaceDetection,
  type RenderRequest,
  type RgbaImage,
  type VideoRequest,
  type VideoResult,
} from './types.ts';

export interface LocalEngineOptions {
  /** Selects and initialises the tfjs backend (Node: initNodeBackend; worker: initBrowserBackend). */
  probe: (preference?: BackendPreference) => Promise<Capabilities>;
  /** How this platform opens the embedded demo generator file (src/platform/node-embedded.ts, src/platform/browser-embedded.ts); without it there is no embedded generator. */
  openEmbeddedFile?: EmbeddedFileOpener;
  /** Replaces the embedded default encoder (tests). */
  loadDefaultEncoder?: () => Promise<FeatureEncoder>;
  /** Cheaper rendering (tests, benchmarks, slow devices): fewer samples per ray / lower neural resolution. */
  renderOverrides?: RenderOverrides;
  /** Rays per renderer chunk (memory bound; default the renderer's DEFAULT_CHUNK_RAYS = 4096). */
  chunkRays?: number;
  /** Where μ_s is kept between sessions (src/platform/browser-mean-store.ts, node-mean-store.ts); without it, only for the engine's lifetime. */
  meanEmbeddingStore?: MeanEmbeddingStore;
  /** How this platform loads the evaluation report's networks, on first use (src/platform/browser-evaluation.ts, node-evaluation.ts). */
  evaluationModels?: EvaluationLoaders;
  /** How this platform encodes orbit videos (src/platform/browser-video.ts: WebCodecs; node-apng.ts: animated PNG); without it renderVideo is refused. */
  openVideoWriter?: OpenVideoWriter;
}

export class LocalEngine implements AdapterEngine {
  private readonly listeners = new Set<(e: EngineEvent) => void>();
  private readonly models: ModelRegistry;
  private readonly meanEmbeddings: MeanEmbeddingCache;
  private capabilities: Capabilities | null = null;
  private reference: RgbaImage | null = null;
  private run: AdaptationRun | null = null;
  /** Settles when the current run's execute() has finished cleaning up. */
  private runEnded: Promise<void> = Promise.resolve();
  private adapted: AdaptedState | null = null;
  /** The parts of a domain mix (mixAdapted), read once. */
  private readonly mixer = new DomainMixer();
  /** CLIP's BPE vocabulary (loadVocabulary), for zero-shot runs and the prompt measures. */
  private tokenizer: ClipTokenizer | null = null;
  private disposed = false;
  private readonly evaluationModels: EvaluationModels;
  /** The evaluation in progress (its stop flag) and when it has finished. */
  private evaluation: { stop: boolean; ended: Promise<unknown> } | null = null;
  /** The mesh extraction in progress (its stop flag) and when it has finished. */
  private meshJob: { stop: boolean; ended: Promise<unknown> } | null = null;
  /** The orbit video in progress (its stop flag) and when it has finished. */
  private video: { stop: boolean; ended: Promise<unknown> } | null = null;

  constructor(private readonly opts: LocalEngineOptions) {
    this.models = new ModelRegistry(opts, (e) => this.emit(e), () => this.backend());
    this.meanEmbeddings = new MeanEmbeddingCache(opts.meanEmbeddingStore);
    this.evaluationModels = new EvaluationModels(opts.evaluationModels ?? {});
  }

  private backend(): string | null {
    return this.capabilities?.backend ?? null;
  }

  /** Runs one AdapterEngine call: whatever it throws reaches the caller as an EngineError. */
  private async guard<T>(call: () => T | Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw classifyError(e, this.backend());
    }
  }

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

  /** Reports an error raised outside any call (e.g. the WebGPU device was lost); a run stops. */
  reportFatal(error: unknown): void {
    this.run?.cancel();
    this.emit({ type: 'error', error: classifyError(error, this.backend()).toInfo() });
  }

  // ---- set-up ----

  probe(preference?: BackendPreference): Promise<Capabilities> {
    return this.guard(async () => {
      this.capabilities = await this.opts.probe(preference);
      return this.capabilities;
    });
  }

  private async ensureBackend(): Promise<void> {
    if (!this.capabilities) await this.probe();
  }

  private requireIdle(what: string): void {
    if (this.disposed) throw new EngineError('not-ready', 'the engine has been disposed');
    if (this.run) throw new EngineError('not-ready', `cannot ${what} while an adaptation is running; cancel it first`);
    if (this.evaluation) throw new EngineError('not-ready', `cannot ${what} while an evaluation is running; cancel it first`);
    if (this.meshJob) throw new EngineError('not-ready', `cannot ${what} while a mesh is being extracted; cancel it first`);
    if (this.video) throw new EngineError('not-ready', `cannot ${what} while a video is being made; cancel it first`);
  }

  private replaceAdapted(next: AdaptedState | null): void {
    if (this.adapted && this.adapted !== next) this.adapted.dispose();
    this.adapted = next;
  }

  loadGenerator(source: GeneratorSource): Promise<ModelInfo> {
    return this.guard(async () => {
      this.requireIdle('load a generator');
      await this.ensureBackend();
      const { info, replaced } = await this.models.loadGenerator(source);
      // Adapted weights belong to the base they were made from.
      if (replaced) {
        this.replaceAdapted(null);
        this.mixer.clear();
      }
      return info;
    });
  }

  loadEncoder(source: EncoderSource): Promise<ModelInfo> {
    return this.guard(async () => {
      this.requireIdle('load an encoder');
      await this.ensureBackend();
      return this.models.loadEncoder(source);
    });
  }

  unloadEncoder(id: string): Promise<void> {
    return this.guard(() => {
      this.requireIdle('unload an encoder');
      this.models.unloadEncoder(id);
    });
  }

  setReference(image: RgbaImage): Promise<void> {
    return this.guard(() => {
      this.requireIdle('change the reference');
      this.reference = acceptReference(image);
    });
  }

  // ---- the run ----

  start(settings: AdaptSettings, resumeFrom?: Uint8Array): Promise<void> {
    return this.guard(async () => {
      this.requireIdle('start another run');
      const gen = this.models.requireGenerator();
      if (settings.text) settings = { ...settings, text: checkTextTarget(settings.text) };
      if (!this.reference && !settings.text) throw new EngineError('not-ready', 'set a reference image first (or describe the target domain for a zero-shot run)');
      // A zero-shot run may leave the reference aside (text only).
      const reference = settings.text?.withReference === false ? null : this.reference;
      if (settings.text && !this.tokenizer) throw new EngineError('not-ready', "a zero-shot run needs CLIP's BPE vocabulary: load bpe_simple_vocab_16e6.txt.gz (OpenAI CLIP) or the model's merges.txt");
      const encoders = this.models.selectEncoders(settings.encoders);
      const options = parseMethodOptions(settings.options);
      const run = new AdaptationRun(
        { gen, encoders, reference, tokenizer: this.tokenizer, settings, options, resumeFrom },
        {
          meanEmbeddings: this.meanEmbeddings,
          backend: () => this.backend(),
          emit: (e) => this.emit(e),
          install: (a) => this.replaceAdapted(a),
          loadedFace: () => this.evaluationModels.loadedFace,
        },
      );
      // Set before the first await: a second start() (or a load) is refused from here on.
      this.run = run;
      const execution = run.execute();
      this.runEnded = execution.then(
        () => undefined,
        () => undefined,
      );
      try {
        await execution;
      } finally {
        if (this.run === run) this.run = null;
      }
    });
  }

  async pause(): Promise<void> {
    this.run?.pause();
  }

  async resume(): Promise<void> {
    this.run?.resume();
  }

  async cancel(): Promise<void> {
    this.run?.cancel();
  }

  checkpoint(): Promise<void> {
    return this.guard(async () => {
      const served = this.run?.requestCheckpoint();
      if (served) return served;
      if (!this.adapted || !this.models.generator) throw new EngineError('not-ready', 'there are no adapted weights to checkpoint yet');
      const bytes = checkpointOf(this.adapted);
      this.adapted.lastCheckpoint = bytes;
      this.emit({ type: 'checkpoint', globalIteration: this.adapted.globalIteration, bytes: bytes.slice() });
    });
  }

  /** The last checkpoint the engine holds (after a cancel or crash, the run's last consistent state). */
  lastCheckpointBytes(): Uint8Array | null {
    return this.adapted?.lastCheckpoint ? this.adapted.lastCheckpoint.slice() : null;
  }

  // ---- export / import ----

  private requireAdapted(): AdaptedState {
    this.models.requireGenerator();
    if (!this.adapted) throw new EngineError('not-ready', 'there are no adapted weights yet: run an adaptation or import a file');
    return this.adapted;
  }

  exportSafetensors(): Promise<Uint8Array> {
    return this.guard(() => exportSafetensors(this.requireAdapted()));
  }

  exportPickle(): Promise<Uint8Array> {
    return this.guard(() => {
      const adapted = this.requireAdapted();
      return exportPickle(this.models.requireGenerator(), adapted);
    });
  }

  importAdapted(file: Blob): Promise<void> {
    return this.guard(async () => {
      this.requireIdle('import adapted weights');
      const gen = this.models.requireGenerator('load the base generator first');
      this.replaceAdapted(await importAdapted(gen, file));
    });
  }

  loadVocabulary(file: Blob, name: string): Promise<VocabularyInfo> {
    return this.guard(async () => {
      this.requireIdle('load a vocabulary');
      const { tokenizer, info } = await readVocabulary(file, name);
      this.tokenizer = tokenizer;
      return info;
    });
  }

  detectFace(image: RgbaImage): Promise<FaceDetection | null> {
    return this.guard(async () => {
      if (this.disposed) throw new EngineError('not-ready', 'the engine has been disposed');
      if (!this.evaluationModels.hasFaceModel) throw new EngineError('not-ready', 'this engine was set up without a face model');
      const face = await this.evaluationModels.face();
      if (!face.landmarks) throw new EngineError('internal', `${face.name} gives no landmarks`);
      const found = await face.landmarks(image);
      if (!found) return null;
      return { box: found.box, score: found.score, landmarks: found.points, aligned: ffhqAlignment(found.points) };
    });
  }

  mixAdapted(parts: MixPartRequest[]): Promise<MixInfo> {
    return this.guard(async () => {
      this.requireIdle('mix adapted weights');
      const gen = this.models.requireGenerator('load the base generator first');
      const { adapted, info } = await this.mixer.update(gen, parts);
      // An emptied mix drops the blended weights it had installed (a run's or an import's stay).
      if (adapted || this.adapted?.meta.mix) this.replaceAdapted(adapted);
      return info;
    });
  }

  // ---- rendering ----

  render(request: RenderRequest): Promise<RgbaImage> {
    return this.guard(() => renderView(this.models.requireGenerator(), this.adapted?.weights ?? null, request));
  }

  // ---- evaluation ----

  evaluate(request: EvaluationRequest): Promise<EngineEvaluation> {
    return this.guard(async () => {
      this.requireIdle('evaluate');
      const gen = this.models.requireGenerator();
      const adapted = this.requireAdapted();
      const control = { stop: false, ended: Promise.resolve() as Promise<unknown> };
      // Set before the first await: loads, imports, runs and a second evaluation are refused from here on.
      this.evaluation = control;
      const execution = runEvaluation(
        { gen, adapted, reference: this.reference, encoders: this.models.loadedEncoders(), request, tokenizer: this.tokenizer },
        { models: this.evaluationModels, emit: (e) => this.emit(e), shouldStop: () => control.stop || this.disposed },
      );
      control.ended = execution.catch(() => undefined);
      try {
        return await execution;
      } finally {
        if (this.evaluation === control) this.evaluation = null;
      }
    });
  }

  async cancelEvaluation(): Promise<void> {
    if (this.evaluation) this.evaluation.stop = true;
  }

  // ---- meshes ----

  extractMesh(request: MeshRequest): Promise<ExtractedMesh> {
    return this.guard(async () => {
      this.requireIdle('extract a mesh');
      const gen = this.models.requireGenerator();
      const adapted = request.weights === 'adapted' ? this.requireAdapted().weights : null;
      const control = { stop: false, ended: Promise.resolve() as Promise<unknown> };
      // Set before the first await: loads, imports, runs and a second extraction are refused from here on.
      this.meshJob = control;
      const execution = extractMesh(gen, adapted, request, { emit: (e) => this.emit(e), shouldStop: () => control.stop || this.disposed });
      control.ended = execution.catch(() => undefined);
      try {
        return await execution;
      } finally {
        if (this.meshJob === control) this.meshJob = null;
      }
    });
  }

  async cancelMesh(): Promise<void> {
    if (this.meshJob) this.meshJob.stop = true;
  }

  // ---- orbit video ----

  renderVideo(request: VideoRequest): Promise<VideoResult> {
    return this.guard(async () => {
      this.requireIdle('make a video');
      const gen = this.models.requireGenerator();
      const openWriter = this.opts.openVideoWriter;
      if (!openWriter) throw new EngineError('not-ready', 'this engine was set up without a video encoder');
      const control = { stop: false, ended: Promise.resolve() as Promise<unknown> };
      // Set before the first await: loads, imports, runs and evaluations are refused from here on.
      this.video = control;
      const execution = renderOrbitVideo(
        { gen, adapted: this.adapted?.weights ?? null, request },
        { openWriter, emit: (e) => this.emit(e), shouldStop: () => control.stop || this.disposed },
      );
      control.ended = execution.catch(() => undefined);
      try {
        return await execution;
      } finally {
        if (this.video === control) this.video = null;
      }
    });
  }

  async cancelVideo(): Promise<void> {
    if (this.video) this.video.stop = true;
  }

  async dispose(): Promise<void> {
    if (this.run) {
      this.run.cancel();
      await this.runEnded; // the loop stops after its current iteration; only then free tensors
    }
    if (this.evaluation) {
      this.evaluation.stop = true;
      await this.evaluation.ended; // it stops after its current latent
    }
    if (this.meshJob) {
      this.meshJob.stop = true;
      await this.meshJob.ended; // it stops after its current grid chunk
    }
    if (this.video) {
      this.video.stop = true;
      await this.video.ended; // it stops after its current frame
    }
    this.disposed = true;
    this.evaluationModels.dispose();
    this.replaceAdapted(null);
    this.mixer.clear();
    this.models.dispose();
    this.listeners.clear();
  }
}

/**
 * StudioController: the only place the studio talks to the AdapterEngine, composed of slices that share
 * one zustand store (studio-store.ts) through a SliceContext:
 *
 * - `persistence` (persistence-slice.ts): what a reload restores — settings, reference, checkpoint, viewer,
 *   backend choice, cached model files;
 * - `models` (models-slice.ts): the model library — load, cache, select and forget generators and encoders;
 * - `reference` (reference-slice.ts): decode, crop and apply the reference image;
 * - `run` (run-slice.ts): settings, start / pause / resume / stop, checkpoints, run events, adapted weights;
 * - `backend` (engine-slice.ts): the engine in use, its compute backend, restarting after a lost device;
 * - `viewer` (viewer-slice.ts): the orbit view and the multi-view strip's latents;
 * - `evaluate` (evaluate-slice.ts): the evaluation report of the adapted weights;
 * - `mix` (mix-slice.ts): mixing adapted domains (several adapted-weights files, one weight each);
 * - `zeroShot` (zero-shot-slice.ts): the text target of a zero-shot run (settings.text) and CLIP's BPE vocabulary;
 * - `video` (video-slice.ts): the orbit video (source / adapted / side by side), its progress and cancel;
 * - `mesh` (mesh-slice.ts): the viewer's Mesh mode and the GLB / PLY exports (extraction, progress, cancel).
 *
 * Components call the slices (`controller.run.start()`); the controller itself only starts up (in the
 * order a reload needs), routes engine events and tears down.
 */
import type { AdapterEngine, BackendPreference, EngineEvent } from '../../engine/types.ts';
import type { KeyValueStore } from '../persist/kv-store.ts';
import type { ImageToolkit } from '../reference/image-toolkit.ts';
import { EngineSlice } from './engine-slice.ts';
import { EvaluateSlice } from './evaluate-slice.ts';
import { MixSlice } from './mix-slice.ts';
import { ZeroShotSlice } from './zero-shot-slice.ts';
import { VideoSlice } from './video-slice.ts';
import { MeshSlice } from './mesh-slice.ts';
import { ModelsSlice } from './models-slice.ts';
import { PersistenceSlice } from './persistence-slice.ts';
import { ReferenceSlice } from './reference-slice.ts';
import { RunSlice } from './run-slice.ts';
import { SliceContext } from './slice-context.ts';
import type { StudioStore } from './studio-store.ts';
import { ViewerSlice } from './viewer-slice.ts';

export { KEYS, modelFileKey, type PersistedCheckpoint, type PersistedReference } from './persistence-slice.ts';
export { CHECKPOINT_INTERVAL_MS } from './run-slice.ts';
export { errorMessage } from './slice-context.ts';

export interface StudioControllerOptions {
  now?: () => number;
  checkpointIntervalMs?: number;
  /** Makes a fresh engine (a new worker) to replace one whose GPU device was lost. */
  createEngine?: () => AdapterEngine;
  /** Compute backend for this page load, over the stored preference (URL `?backend=`). */
  backendPreference?: BackendPreference | null;
}

export class StudioController {
  private readonly ctx: SliceContext;
  readonly persistence: PersistenceSlice;
  readonly models: ModelsSlice;
  readonly reference: ReferenceSlice;
  readonly backend: EngineSlice;
  readonly run: RunSlice;
  readonly viewer: ViewerSlice;
  readonly evaluate: EvaluateSlice;
  readonly mix: MixSlice;
  readonly zeroShot: ZeroShotSlice;
  readonly video: VideoSlice;
  readonly mesh: MeshSlice;

  constructor(
    engine: AdapterEngine,
    readonly store: StudioStore,
    kv: KeyValueStore,
    images: ImageToolkit,
    opts: StudioControllerOptions = {},
  ) {
    this.ctx = new SliceContext(engine, store, kv, images, opts.now ?? (() => Date.now()));
    this.persistence = new PersistenceSlice(this.ctx);
    this.models = new ModelsSlice(this.ctx, this.persistence);
    this.reference = new ReferenceSlice(this.ctx, this.persistence);
    this.backend = new EngineSlice(this.ctx, this.persistence, this.models, this.reference, (e) => this.onEvent(e), opts);
    this.run = new RunSlice(this.ctx, this.persistence, this.backend, opts);
    this.viewer = new ViewerSlice(this.ctx, this.persistence);
    this.evaluate = new EvaluateSlice(this.ctx);
    this.mix = new MixSlice(this.ctx);
    this.zeroShot = new ZeroShotSlice(this.ctx, (text) => this.run.updateSettings({ text }));
    this.run.beforeZeroShot = () => this.zeroShot.ensureOnEngine();
    this.video = new VideoSlice(this.ctx);
    this.mesh = new MeshSlice(this.ctx);
  }

  /** The engine in use (replaced after a lost GPU device when a factory was given). */
  get engine(): AdapterEngine {
    return this.ctx.engine;
  }

  /** Start-up: listen, restore what was persisted, probe the device, load the models, restore the checkpoint. */
  async init(): Promise<void> {
    const { ctx } = this;
    this.backend.listen();
    await this.persistence.restore();
    ctx.set({ backendPreference: await this.backend.backendPreference() });
    await this.backend.probe();
    const saved = await this.persistence.savedCheckpoint();
    // A checkpoint made on a cached file generator brings that generator back; otherwise the embedded one.
    const cached = ctx.s.cachedModels.find((m) => m.id === saved?.generatorId && m.kind === 'generator');
    if (cached) await this.models.loadCached(cached);
    if (!ctx.s.generator) await this.models.loadEmbeddedGenerator();
    await this.models.loadEmbeddedEncoder();
    if (ctx.s.reference) await this.reference.apply();
    if (saved && ctx.s.generator && saved.generatorId === ctx.s.generator.id) await this.persistence.restoreCheckpoint(saved);
  }

  dispose(): void {
    this.backend.stopListening();
  }

  private onEvent(e: EngineEvent): void {
    if (e.type === 'load-progress') this.models.onLoadProgress(e);
    else if (e.type === 'evaluation-progress') this.evaluate.onProgress(e);
    else if (e.type === 'video-progress') this.video.onProgress(e);
    else if (e.type === 'mesh-progress') this.mesh.onProgress(e);
    else this.run.onEvent(e);
  }

  /** Resolves once pending checkpoint writes are stored (tests; before a deliberate reload). */
  flush(): Promise<void> {
    return this.persistence.flush();
  }

  dismissError(): void {
    this.ctx.set({ engineError: null });
  }

  dismissNotice(): void {
    this.ctx.set({ notice: null });
  }
}

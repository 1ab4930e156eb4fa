/**
 * StudioController: the only place the studio talks to the AdapterEngine. It turns engine events into
 * store updates, performs user actions (load models, set the reference, start/pause/resume/stop, export,
 * import) with clear error messages, and persists what a reload must restore (reference, settings, last
 * checkpoint with its loss curves, the list of cached models).
 */
import {
  BACKEND_PREFERENCES,
  EngineError,
  type AdaptSettings,
  type AdapterEngine,
  type BackendPreference,
  type EngineErrorCode,
  type EngineEvent,
  type ModelInfo,
  type RgbaImage,
} from '../../engine/types.ts';
import type { KeyValueStore } from '../persist/kv-store.ts';
import { centredCrop, clampCrop, type CropRect } from '../reference/crop.ts';
import {
  REFERENCE_SIZE,
  ReferenceImageError,
  type DecodedImage,
  type ImageToolkit,
} from '../reference/image-toolkit.ts';
import { appendLosses, emptyHistory, type LossHistory } from './loss-history.ts';
import { mergeSettings, PRESETS, SettingsError, validateSettings } from './settings.ts';
import {
  initialRun,
  isActive,
  PITCH_LIMIT,
  YAW_LIMIT,
  type CheckpointInfo,
  type StudioState,
  type StudioStore,
  type ViewerState,
} from './studio-store.ts';

export const KEYS = {
  settings: 'settings',
  reference: 'reference',
  checkpoint: 'checkpoint',
  cachedModels: 'cached-models',
  viewer: 'viewer',
  backend: 'backend-preference',
} as const;

/** Storage key of the original file of a cached model (so a reload can load it without the user). */
export function modelFileKey(id: string): string {
  return `model-file:${id}`;
}

/** Minimum time between automatic checkpoint requests during a run. */
export const CHECKPOINT_INTERVAL_MS = 30_000;

export interface PersistedReference {
  blob: Blob;
  name: string;
  crop: CropRect;
  origin: 'file' | 'example';
}

export interface PersistedCheckpoint {
  bytes: Uint8Array;
  globalIteration: number;
  totalIterations: number;
  savedAt: number;
  generatorId: string | null;
  settings: AdaptSettings;
  losses: LossHistory;
}

export function errorMessage(e: unknown): string {
  if (e instanceof EngineError || e instanceof ReferenceImageError || e instanceof SettingsError) return e.message;
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

function errorCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e) return String((e as { code: unknown }).code);
  return undefined;
}

export class StudioController {
  private unsubscribe: (() => void) | null = null;
  /** Serialises checkpoint writes so an older checkpoint never overwrites a newer one. */
  private persistChain: Promise<void> = Promise.resolve();
  private clock: () => number;
  private checkpointInterval: number;
  private checkpointInFlight = false;
  private lastCheckpointRequest = -Infinity;

  private current: AdapterEngine;
  private createEngine: (() => AdapterEngine) | null;
  /** A preference forced for this page load (e.g. `?backend=wasm`), over the stored one. */
  private forcedBackend: BackendPreference | null;

  constructor(
    engine: AdapterEngine,
    readonly store: StudioStore,
    readonly kv: KeyValueStore,
    readonly images: ImageToolkit,
    opts: {
      now?: () => number;
      checkpointIntervalMs?: number;
      /** Makes a fresh engine (a new worker) to replace one whose GPU device was lost. */
      createEngine?: () => AdapterEngine;
      /** Compute backend for this page load, over the stored preference (URL `?backend=`). */
      backendPreference?: BackendPreference | null;
    } = {},
  ) {
    this.current = engine;
    this.clock = opts.now ?? (() => Date.now());
    this.checkpointInterval = opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
    this.createEngine = opts.createEngine ?? null;
    this.forcedBackend = opts.backendPreference ?? null;
  }

  /** The compute backend to start: forced for this page load, else stored, else 'auto'. */
  private async backendPreference(): Promise<BackendPreference> {
    if (this.forcedBackend) return this.forcedBackend;
    const stored = await this.kv.get<string>(KEYS.backend).catch(() => undefined);
    return (BACKEND_PREFERENCES as readonly string[]).includes(stored ?? '') ? (stored as BackendPreference) : 'auto';
  }

  /**
   * Stores the compute backend for the next start. The backend cannot change under loaded models, so
   * the UI reloads the page afterwards (reference, settings and checkpoint are restored).
   */
  async chooseBackend(preference: BackendPreference): Promise<void> {
    await this.kv.set(KEYS.backend, preference);
    this.forcedBackend = null;
    this.set({ backendPreference: preference });
  }

  /** The engine in use (replaced after a lost GPU device when a factory was given). */
  get engine(): AdapterEngine {
    return this.current;
  }

  private get s() {
    return this.store.getState();
  }
  private set(patch: Partial<StudioState>) {
    this.store.setState(patch);
  }

  /** Start-up: listen, restore what was persisted, probe the device, load the embedded models. */
  async init(): Promise<void> {
    this.unsubscribe = this.engine.subscribe((e) => this.onEvent(e));
    await this.restorePersisted();
    const preference = await this.backendPreference();
    this.set({ backendPreference: preference });
    try {
      this.set({ capabilities: await this.engine.probe(preference) });
    } catch (e) {
      this.set({ probeError: errorMessage(e) });
    }
    const saved = await this.kv.get<PersistedCheckpoint>(KEYS.checkpoint);
    // A checkpoint made on a cached file generator brings that generator back; otherwise the embedded one.
    const cached = this.s.cachedModels.find((m) => m.id === saved?.generatorId && m.kind === 'generator');
    if (cached) await this.loadCached(cached);
    if (!this.s.generator) await this.loadGeneratorFrom({ kind: 'embedded' }, 'embedded demo generator');
    await this.loadEncoderFrom({ kind: 'embedded' }, 'embedded default encoder');
    if (this.s.reference) await this.applyReference();
    if (saved && this.s.generator && saved.generatorId === this.s.generator.id) await this.restoreCheckpoint(saved);
  }

  dispose(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /**
   * After a lost GPU device the engine's backend cannot be trusted: start a fresh engine and bring back
   * the generator, encoders and reference the user had. Returns whether a generator is loaded again.
   */
  private async restartEngine(): Promise<boolean> {
    if (!this.createEngine) return false;
    const old = this.current;
    this.unsubscribe?.();
    // The old engine may be unusable; its disposal is best effort and must not block the restart.
    void old.dispose().catch(() => undefined);
    this.current = this.createEngine();
    this.unsubscribe = this.current.subscribe((e) => this.onEvent(e));
    const generator = this.s.generator;
    const encoders = this.s.encoders;
    this.set({ generator: null, encoders: [], notice: 'Restarting the engine after the lost GPU device…' });
    try {
      this.set({ capabilities: await this.current.probe(this.s.backendPreference), probeError: null });
    } catch (e) {
      this.set({ probeError: errorMessage(e) });
    }
    if (generator?.origin === 'file') await this.loadCached(generator);
    if (!this.s.generator) await this.loadGeneratorFrom({ kind: 'embedded' }, 'embedded demo generator');
    for (const e of encoders) {
      if (e.origin === 'file') await this.loadCached(e);
      else await this.loadEncoderFrom({ kind: 'embedded' }, 'embedded default encoder');
    }
    if (this.s.encoders.length === 0) await this.loadEncoderFrom({ kind: 'embedded' }, 'embedded default encoder');
    if (this.s.reference) {
      this.set({ reference: { ...this.s.reference, applied: false } });
      await this.applyReference();
    }
    this.set({ notice: null });
    return this.s.generator !== null;
  }

  private async restorePersisted(): Promise<void> {
    const [settings, cachedModels, viewer] = await Promise.all([
      this.kv.get<unknown>(KEYS.settings),
      this.kv.get<ModelInfo[]>(KEYS.cachedModels),
      this.kv.get<Partial<ViewerState>>(KEYS.viewer),
    ]);
    this.set({
      settings: mergeSettings(settings),
      cachedModels: Array.isArray(cachedModels) ? cachedModels : [],
      viewer: { ...this.s.viewer, ...(viewer ?? {}) },
    });
    const ref = await this.kv.get<PersistedReference>(KEYS.reference);
    if (ref?.blob) {
      try {
        const image = await this.images.decode(ref.blob, ref.name);
        this.set({ reference: { image, crop: clampCrop(ref.crop, image.width, image.height), origin: 'restored', applied: false } });
      } catch (e) {
        this.set({ referenceError: `The saved reference could not be restored: ${errorMessage(e)}` });
        await this.kv.delete(KEYS.reference);
      }
    }
  }

  private async restoreCheckpoint(saved: PersistedCheckpoint): Promise<void> {
    const info: CheckpointInfo = {
      globalIteration: saved.globalIteration,
      totalIterations: saved.totalIterations,
      savedAt: saved.savedAt,
      generatorId: saved.generatorId,
      restored: true,
    };
    this.set({
      checkpoint: info,
      losses: saved.losses ?? emptyHistory(),
      settings: mergeSettings(saved.settings),
      run: { ...initialRun(), state: 'cancelled', globalIteration: saved.globalIteration, totalIterations: saved.totalIterations },
    });
    // The checkpoint holds the adapted weights: load them so the viewer shows where the run got to.
    try {
      await this.engine.importAdapted(new Blob([saved.bytes as Uint8Array<ArrayBuffer>]));
      this.set({ adaptedAvailable: true, weightsVersion: this.s.weightsVersion + 1 });
      this.set({ notice: `Restored the checkpoint from iteration ${saved.globalIteration} of ${saved.totalIterations}. Resume to continue training.` });
    } catch (e) {
      this.set({
        notice: `Restored the checkpoint from iteration ${saved.globalIteration} of ${saved.totalIterations}; its weights could not be previewed (${errorMessage(e)}), but training can resume from it.`,
      });
    }
  }

  // ---------------------------------------------------------------- engine events

  private onEvent(e: EngineEvent): void {
    switch (e.type) {
      case 'load-progress': {
        const l = this.s.loading;
        if (l) this.set({ loading: { ...l, what: e.what, loaded: e.loaded, total: e.total } });
        return;
      }
      case 'state': {
        const run = { ...this.s.run, state: e.state, message: e.message };
        const patch: Partial<StudioState> = { run };
        if (e.state === 'done') patch.weightsVersion = this.s.weightsVersion + 1;
        if (e.state === 'error' && e.message) patch.engineError = this.s.engineError ?? { code: 'internal', message: e.message };
        this.set(patch);
        return;
      }
      case 'progress': {
        // μ_s progress carries placeholder zero losses: nothing is trained yet, so nothing is charted.
        const losses =
          e.losses && e.phase !== 'mean-embedding'
            ? appendLosses(this.s.losses, e.globalIteration, e.phase, e.losses)
            : this.s.losses;
        this.set({
          run: {
            ...this.s.run,
            phase: e.phase,
            iteration: e.iteration,
            phaseIterations: e.phaseIterations,
            globalIteration: e.globalIteration,
            totalIterations: e.totalIterations,
            itPerSec: e.itPerSec,
            etaSeconds: e.etaSeconds,
          },
          losses,
          adaptedAvailable: this.s.adaptedAvailable || (e.phase !== 'mean-embedding' && e.globalIteration > 0),
        });
        return;
      }
      case 'preview':
        this.set({ preview: e, adaptedAvailable: true, weightsVersion: this.s.weightsVersion + 1 });
        // The engine checkpoints on request only; ask regularly so a reload or a lost device costs little
        // (not before the first iteration: there is nothing to save yet).
        if (e.globalIteration > 0) this.requestCheckpoint(false);
        return;
      case 'checkpoint': {
        const info: CheckpointInfo = {
          globalIteration: e.globalIteration,
          totalIterations: this.s.run.totalIterations,
          savedAt: this.clock(),
          generatorId: this.s.generator?.id ?? null,
          restored: false,
        };
        this.set({ checkpoint: info });
        const record: PersistedCheckpoint = {
          bytes: e.bytes,
          globalIteration: info.globalIteration,
          totalIterations: info.totalIterations,
          savedAt: info.savedAt,
          generatorId: info.generatorId,
          settings: this.s.settings,
          losses: this.s.losses,
        };
        this.persistChain = this.persistChain
          .then(() => this.kv.set(KEYS.checkpoint, record))
          .catch((err) => this.set({ notice: `Could not save the checkpoint in the browser: ${errorMessage(err)}` }));
        return;
      }
      case 'error':
        this.set({
          engineError: e.error,
          deviceLost: e.error.code === 'device-lost' || this.s.deviceLost,
        });
        return;
    }
  }

  /** Asks the engine for a 'checkpoint' event (at most one request in flight, rate-limited unless forced). */
  private requestCheckpoint(force: boolean): void {
    if (!this.engine.checkpoint || this.checkpointInFlight) return;
    const now = this.clock();
    if (!force && now - this.lastCheckpointRequest < this.checkpointInterval) return;
    this.checkpointInFlight = true;
    this.lastCheckpointRequest = now;
    this.engine
      .checkpoint()
      .catch((e) => {
        // 'not-ready' = nothing trained yet, nothing to save; anything else is worth telling.
        if (errorCode(e) !== 'not-ready') this.set({ notice: `Could not take a checkpoint: ${errorMessage(e)}` });
      })
      .finally(() => {
        this.checkpointInFlight = false;
      });
  }

  /** Resolves once pending checkpoint writes are stored (tests; before a deliberate reload). */
  flush(): Promise<void> {
    return this.persistChain;
  }

  // ---------------------------------------------------------------- models

  private async loadGeneratorFrom(
    source: Parameters<AdapterEngine['loadGenerator']>[0],
    fileName: string,
  ): Promise<ModelInfo | null> {
    this.set({ loading: { target: 'generator', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null });
    try {
      const info = await this.engine.loadGenerator(source);
      const changed = this.s.generator?.id !== info.id;
      this.set({ generator: info });
      if (changed) {
        // Adapted weights belong to the previous base generator.
        this.set({ adaptedAvailable: false, preview: null, weightsVersion: this.s.weightsVersion + 1 });
      }
      if (info.origin === 'file') await this.rememberModel(info, source.kind === 'file' ? source.file : null);
      return info;
    } catch (e) {
      // The engine keeps the previous generator; say so.
      const keep = this.s.generator ? ` The previous generator (${this.s.generator.name}) is still loaded.` : '';
      this.set({ modelError: `Could not load ${fileName}: ${errorMessage(e)}.${keep}` });
      return null;
    } finally {
      this.set({ loading: null });
    }
  }

  private async loadEncoderFrom(source: Parameters<AdapterEngine['loadEncoder']>[0], fileName: string): Promise<ModelInfo | null> {
    this.set({ loading: { target: 'encoder', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null });
    try {
      const info = await this.engine.loadEncoder(source);
      this.set({ encoders: [...this.s.encoders.filter((m) => m.id !== info.id), info] });
      if (info.origin === 'file') await this.rememberModel(info, source.kind === 'file' ? source.file : null);
      return info;
    } catch (e) {
      this.set({ modelError: `Could not load ${fileName}: ${errorMessage(e)}. The loaded encoders are unchanged.` });
      return null;
    } finally {
      this.set({ loading: null });
    }
  }

  /** Adds a file model to the cached list and stores its file so later visits can load it without the user. */
  private async rememberModel(info: ModelInfo, file: Blob | null): Promise<void> {
    if (file) {
      try {
        await this.kv.set(modelFileKey(info.id), file);
      } catch (e) {
        this.set({ notice: `${info.name} is loaded but could not be cached in this browser (${errorMessage(e)}).` });
        return;
      }
    }
    const list = [...this.s.cachedModels.filter((m) => m.id !== info.id), info];
    this.set({ cachedModels: list });
    await this.kv.set(KEYS.cachedModels, list);
  }

  /** Loads a cached model: the engine's in-session copy when it has it, else the stored file. */
  private async loadCached(info: ModelInfo): Promise<void> {
    const loaded = info.kind === 'generator' ? this.s.generator?.id === info.id : this.s.encoders.some((e) => e.id === info.id);
    if (loaded) return;
    const file = await this.kv.get<Blob>(modelFileKey(info.id));
    if (!file) {
      this.set({ modelError: `${info.name} is no longer stored in this browser; drop its file again.` });
      await this.forgetCachedModel(info.id);
      return;
    }
    const source = { kind: 'file' as const, file, name: info.name };
    if (info.kind === 'generator') await this.loadGeneratorFrom(source, info.name);
    else await this.loadEncoderFrom(source, info.name);
  }

  private guardIdle(what: string): boolean {
    if (isActive(this.s.run.state)) {
      this.set({ modelError: `Stop the running adaptation before ${what}.` });
      return false;
    }
    return true;
  }

  /** A dropped or picked model file: .pkl → generator, .pt/.safetensors/.bin → CLIP encoder. */
  async loadModelFile(file: Blob, name: string): Promise<void> {
    const lower = name.toLowerCase();
    if (lower.endsWith('.pkl')) {
      if (!this.guardIdle('changing the generator')) return;
      await this.loadGeneratorFrom({ kind: 'file', file, name }, name);
    } else if (lower.endsWith('.pt') || lower.endsWith('.pth') || lower.endsWith('.safetensors') || lower.endsWith('.bin')) {
      if (!this.guardIdle('changing encoders')) return;
      await this.loadEncoderFrom({ kind: 'file', file, name }, name);
    } else {
      this.set({
        modelError: `${name} is not a model file the studio knows: use an EG3D network pickle (.pkl) or CLIP weights (.pt / .safetensors).`,
      });
    }
  }

  async selectCachedModel(id: string): Promise<void> {
    const info = this.s.cachedModels.find((m) => m.id === id);
    if (!info) return;
    if (!this.guardIdle('switching models')) return;
    await this.loadCached(info);
  }

  async useEmbeddedGenerator(): Promise<void> {
    if (!this.guardIdle('switching models')) return;
    await this.loadGeneratorFrom({ kind: 'embedded' }, 'embedded demo generator');
  }

  /** Deletes a cached model from this browser (a loaded copy stays loaded until replaced). */
  async forgetCachedModel(id: string): Promise<void> {
    const list = this.s.cachedModels.filter((m) => m.id !== id);
    this.set({ cachedModels: list });
    await this.kv.delete(modelFileKey(id));
    await this.kv.set(KEYS.cachedModels, list);
  }

  async unloadEncoder(id: string): Promise<void> {
    if (!this.guardIdle('changing encoders')) return;
    try {
      await this.engine.unloadEncoder(id);
      const encoders = this.s.encoders.filter((m) => m.id !== id);
      const settings = { ...this.s.settings, encoders: this.s.settings.encoders.filter((x) => x !== id) };
      this.set({ encoders, settings });
      await this.kv.set(KEYS.settings, settings);
    } catch (e) {
      this.set({ modelError: `Could not unload the encoder: ${errorMessage(e)}` });
    }
  }

  // ---------------------------------------------------------------- reference

  /** The engine keeps its reference for the whole run; changing it waits until the run ends. */
  private guardReferenceIdle(): boolean {
    if (!isActive(this.s.run.state)) return true;
    this.set({ referenceError: 'Stop the running adaptation before changing the reference.' });
    return false;
  }

  /** Newest reference request; an older one finishing later is dropped (last drop wins). */
  private referenceRequest = 0;
  /** Reference persistence runs one at a time, each writing the reference current when it runs. */
  private referencePersisting: Promise<void> = Promise.resolve();

  async setReferenceFile(file: Blob, name: string): Promise<void> {
    await this.loadReference(() => this.images.decode(file, name), 'file');
  }

  async useExample(id: string): Promise<void> {
    await this.loadReference(() => this.images.example(id), 'example');
  }

  private async loadReference(load: () => Promise<DecodedImage>, origin: 'file' | 'example'): Promise<void> {
    if (!this.guardReferenceIdle()) return;
    const token = ++this.referenceRequest;
    const current = () => token === this.referenceRequest;
    this.set({ referenceBusy: true, referenceError: null });
    try {
      const image = await load();
      if (!current()) {
        this.images.release(image);
        return;
      }
      await this.replaceReference(image, origin);
    } catch (e) {
      // The previous reference (if any) stays selected.
      if (current()) this.set({ referenceError: errorMessage(e) });
    } finally {
      if (current()) this.set({ referenceBusy: false });
    }
  }

  private async replaceReference(image: DecodedImage, origin: 'file' | 'example'): Promise<void> {
    const old = this.s.reference;
    this.set({ reference: { image, crop: centredCrop(image.width, image.height), origin, applied: false } });
    if (old && old.image !== image) this.images.release(old.image);
    await this.applyReference();
    void this.queuePersistReference();
  }

  /** Saves the reference for the next visit in the background (the UI does not wait for it). */
  private queuePersistReference(): Promise<void> {
    this.referencePersisting = this.referencePersisting.then(() => this.persistReference());
    return this.referencePersisting;
  }

  /** Moves/resizes the crop in the store only (cheap, for drag feedback); commitCrop applies it. */
  previewCrop(crop: CropRect): void {
    const r = this.s.reference;
    if (!r || isActive(this.s.run.state)) return;
    this.set({ reference: { ...r, crop: clampCrop(crop, r.image.width, r.image.height), applied: false } });
  }

  async commitCrop(): Promise<void> {
    if (this.s.reference?.applied || !this.guardReferenceIdle()) return;
    await this.applyReference();
    await this.queuePersistReference();
  }

  /** The square crop the engine receives. */
  croppedReference(): RgbaImage | null {
    const r = this.s.reference;
    return r ? this.images.crop(r.image, r.crop, REFERENCE_SIZE) : null;
  }

  private async applyReference(): Promise<void> {
    const r = this.s.reference;
    if (!r) return;
    try {
      await this.engine.setReference(this.images.crop(r.image, r.crop, REFERENCE_SIZE));
      if (this.s.reference?.image === r.image) this.set({ reference: { ...this.s.reference, applied: true } });
    } catch (e) {
      this.set({ referenceError: `The engine rejected the reference: ${errorMessage(e)}` });
    }
  }

  private async persistReference(): Promise<void> {
    const r = this.s.reference;
    if (!r) return;
    try {
      const blob = await this.images.encode(r.image);
      const rec: PersistedReference = { blob, name: r.image.name, crop: r.crop, origin: r.origin === 'example' ? 'example' : 'file' };
      await this.kv.set(KEYS.reference, rec);
    } catch (e) {
      this.set({ notice: `The reference could not be saved for the next visit: ${errorMessage(e)}` });
    }
  }

  // ---------------------------------------------------------------- settings

  async updateSettings(patch: Partial<AdaptSettings>): Promise<void> {
    const settings = { ...this.s.settings, ...patch };
    let settingsError: string | null = null;
    try {
      validateSettings(settings);
    } catch (e) {
      settingsError = errorMessage(e);
    }
    this.set({ settings, settingsError });
    if (!settingsError) await this.kv.set(KEYS.settings, settings);
  }

  async applyPreset(id: string): Promise<void> {
    const p = PRESETS.find((x) => x.id === id);
    if (p) await this.updateSettings(p.apply(this.s.settings));
  }

  // ---------------------------------------------------------------- run control

  async start(): Promise<void> {
    let settings: AdaptSettings;
    try {
      settings = validateSettings(this.s.settings);
    } catch (e) {
      this.set({ settingsError: errorMessage(e) });
      return;
    }
    if (!this.s.reference) {
      this.set({ engineError: { code: 'bad-reference', message: 'Choose a reference image first.' } });
      return;
    }
    await this.kv.set(KEYS.settings, settings);
    // A fresh run replaces the previous checkpoint.
    await this.kv.delete(KEYS.checkpoint);
    this.set({
      losses: emptyHistory(),
      preview: null,
      checkpoint: null,
      engineError: null,
      deviceLost: false,
      notice: null,
      run: { ...initialRun(), state: 'preparing', totalIterations: settings.iterations[0] + settings.iterations[1] },
    });
    await this.runEngine(() => this.engine.start(settings));
  }

  /** Continues from the last checkpoint (after a reload, a stop, or a lost GPU device). */
  async resumeFromCheckpoint(): Promise<void> {
    const saved = await this.kv.get<PersistedCheckpoint>(KEYS.checkpoint);
    if (!saved) {
      this.set({ engineError: { code: 'not-ready', message: 'There is no saved checkpoint to resume from.' } });
      return;
    }
    if (!this.s.reference) {
      this.set({ engineError: { code: 'bad-reference', message: 'The reference image is missing; choose it again to resume.' } });
      return;
    }
    if (this.s.deviceLost && this.createEngine && !(await this.restartEngine())) {
      this.set({ engineError: { code: 'device-lost', message: 'The engine could not be restarted after the lost GPU device; reload the page to resume.' } });
      return;
    }
    const settings = mergeSettings(saved.settings);
    this.set({
      settings,
      engineError: null,
      deviceLost: false,
      notice: null,
      losses: saved.losses ?? this.s.losses,
      run: { ...initialRun(), state: 'preparing', globalIteration: saved.globalIteration, totalIterations: saved.totalIterations },
    });
    await this.runEngine(() => this.engine.start(settings, saved.bytes));
  }

  private async runEngine(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (e) {
      const code = (errorCode(e) ?? 'internal') as EngineErrorCode;
      this.set({
        engineError: { code, message: errorMessage(e) },
        deviceLost: code === 'device-lost' || this.s.deviceLost,
        run: { ...this.s.run, state: code === 'cancelled' ? 'cancelled' : 'error' },
      });
    }
  }

  async pause(): Promise<void> {
    await this.runEngine(() => this.engine.pause());
    // A paused run is a natural point to save: a reload then restores exactly this state.
    this.requestCheckpoint(true);
  }
  async resume(): Promise<void> {
    await this.runEngine(() => this.engine.resume());
  }
  async stop(): Promise<void> {
    await this.runEngine(() => this.engine.cancel());
  }

  // ---------------------------------------------------------------- outputs

  async exportSafetensors(): Promise<Uint8Array> {
    return this.engine.exportSafetensors();
  }

  async exportPickle(): Promise<Uint8Array> {
    return this.engine.exportPickle();
  }

  async importAdapted(file: Blob, name: string): Promise<void> {
    if (isActive(this.s.run.state)) {
      this.set({ engineError: { code: 'not-ready', message: 'Stop the running adaptation before loading adapted weights.' } });
      return;
    }
    try {
      await this.engine.importAdapted(file);
      this.set({ adaptedAvailable: true, weightsVersion: this.s.weightsVersion + 1, engineError: null, notice: `Loaded adapted weights from ${name}.` });
    } catch (e) {
      this.set({ engineError: { code: (errorCode(e) ?? 'incompatible-file') as 'incompatible-file', message: `Could not load ${name}: ${errorMessage(e)}` } });
    }
  }

  dismissError(): void {
    this.set({ engineError: null });
  }
  dismissNotice(): void {
    this.set({ notice: null });
  }

  // ---------------------------------------------------------------- viewer

  updateViewer(patch: Partial<ViewerState>): void {
    const v = { ...this.s.viewer, ...patch };
    v.yaw = Math.max(-YAW_LIMIT, Math.min(YAW_LIMIT, v.yaw));
    v.pitch = Math.max(-PITCH_LIMIT, Math.min(PITCH_LIMIT, v.pitch));
    v.zoom = Math.max(1, Math.min(3, v.zoom));
    v.split = Math.max(0, Math.min(1, v.split));
    v.strength = Math.max(0, Math.min(1, v.strength));
    this.set({ viewer: v });
    // Viewer preferences are a convenience; failing to store them must not disturb the view.
    void this.kv.set(KEYS.viewer, v).catch(() => undefined);
  }

  rerollFaces(random: () => number = Math.random): void {
    const seeds = this.s.viewer.stripSeeds.map(() => Math.floor(random() * 1_000_000));
    this.updateViewer({ stripSeeds: seeds, seed: seeds[0] });
  }
}

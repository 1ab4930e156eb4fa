/**
 * Persistence slice: everything the studio keeps in the browser (IndexedDB through a KeyValueStore) so a
 * reload restores the work — settings, the reference with its crop, the last checkpoint with its loss
 * curves, viewer preferences, the backend choice and the cached model files. Writes that may race
 * (checkpoints, the reference) are serialised so an older value never overwrites a newer one.
 */
import { BACKEND_PREFERENCES, type AdaptSettings, type BackendPreference, type ModelConfigFile, type ModelInfo } from '../../engine/types.ts';
import { clampCrop, type CropRect } from '../reference/crop.ts';
import { emptyHistory, type LossHistory } from './loss-history.ts';
import { mergeSettings } from './settings.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';
import { initialRun, type CheckpointInfo, type ViewerState } from './studio-store.ts';

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

/** Storage key of the config file (JSON) a cached model was loaded with, so a reload loads it the same way. */
export function modelConfigKey(id: string): string {
  return `model-config:${id}`;
}

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

export class PersistenceSlice {
  /** Serialises checkpoint writes so an older checkpoint never overwrites a newer one. */
  private checkpointWrites: Promise<void> = Promise.resolve();
  /** Reference persistence runs one at a time, each writing the reference current when it runs. */
  private referenceWrites: Promise<void> = Promise.resolve();

  constructor(private readonly ctx: SliceContext) {}

  /** Start-up: settings, the cached-model list, viewer preferences and the reference (decoded again). */
  async restore(): Promise<void> {
    const { ctx } = this;
    const [settings, cachedModels, viewer] = await Promise.all([
      ctx.kv.get<unknown>(KEYS.settings),
      ctx.kv.get<ModelInfo[]>(KEYS.cachedModels),
      ctx.kv.get<Partial<ViewerState>>(KEYS.viewer),
    ]);
    ctx.set({
      settings: mergeSettings(settings),
      cachedModels: Array.isArray(cachedModels) ? cachedModels : [],
      viewer: { ...ctx.s.viewer, ...(viewer ?? {}) },
    });
    const ref = await ctx.kv.get<PersistedReference>(KEYS.reference);
    if (ref?.blob) {
      try {
        const image = await ctx.images.decode(ref.blob, ref.name);
        ctx.set({ reference: { image, crop: clampCrop(ref.crop, image.width, image.height), origin: 'restored', applied: false } });
      } catch (e) {
        ctx.set({ referenceError: `The saved reference could not be restored: ${errorMessage(e)}` });
        await ctx.kv.delete(KEYS.reference);
      }
    }
  }

  // ---------------------------------------------------------------- backend preference

  /** The stored compute backend, or null when none (or something that is not a backend) is stored. */
  async storedBackend(): Promise<BackendPreference | null> {
    const stored = await this.ctx.kv.get<string>(KEYS.backend).catch(() => undefined);
    return (BACKEND_PREFERENCES as readonly string[]).includes(stored ?? '') ? (stored as BackendPreference) : null;
  }

  async saveBackend(preference: BackendPreference): Promise<void> {
    await this.ctx.kv.set(KEYS.backend, preference);
  }

  // ---------------------------------------------------------------- settings and viewer

  async saveSettings(settings: AdaptSettings): Promise<void> {
    await this.ctx.kv.set(KEYS.settings, settings);
  }

  /** Viewer preferences are a convenience; failing to store them must not disturb the view. */
  saveViewer(viewer: ViewerState): void {
    void this.ctx.kv.set(KEYS.viewer, viewer).catch(() => undefined);
  }

  // ---------------------------------------------------------------- cached models

  async saveCachedModels(list: ModelInfo[]): Promise<void> {
    await this.ctx.kv.set(KEYS.cachedModels, list);
  }

  /** Stores a model's file and the config file it was loaded with (none: a config stored before is dropped). */
  async storeModelFile(id: string, file: Blob, config?: ModelConfigFile): Promise<void> {
    await this.ctx.kv.set(modelFileKey(id), file);
    if (config) await this.ctx.kv.set(modelConfigKey(id), { file: config.file, name: config.name } satisfies ModelConfigFile);
    else await this.ctx.kv.delete(modelConfigKey(id));
  }

  async modelFile(id: string): Promise<Blob | undefined> {
    return this.ctx.kv.get<Blob>(modelFileKey(id));
  }

  /** The config file stored with a cached model; undefined when it was loaded without one (or the record is not one). */
  async modelConfig(id: string): Promise<ModelConfigFile | undefined> {
    const rec = await this.ctx.kv.get<Partial<ModelConfigFile>>(modelConfigKey(id));
    return rec && rec.file instanceof Blob && typeof rec.name === 'string' ? { file: rec.file, name: rec.name } : undefined;
  }

  async deleteModelFile(id: string): Promise<void> {
    await this.ctx.kv.delete(modelFileKey(id));
    await this.ctx.kv.delete(modelConfigKey(id));
  }

  // ---------------------------------------------------------------- reference

  /** Saves the current reference for the next visit, after any write already queued. */
  queueReference(): Promise<void> {
    this.referenceWrites = this.referenceWrites.then(() => this.writeReference());
    return this.referenceWrites;
  }

  private async writeReference(): Promise<void> {
    const { ctx } = this;
    const r = ctx.s.reference;
    if (!r) return;
    try {
      const blob = await ctx.images.encode(r.image);
      const rec: PersistedReference = { blob, name: r.image.name, crop: r.crop, origin: r.origin === 'example' ? 'example' : 'file' };
      await ctx.kv.set(KEYS.reference, rec);
    } catch (e) {
      ctx.set({ notice: `The reference could not be saved for the next visit: ${errorMessage(e)}` });
    }
  }

  // ---------------------------------------------------------------- checkpoint

  async savedCheckpoint(): Promise<PersistedCheckpoint | undefined> {
    return this.ctx.kv.get<PersistedCheckpoint>(KEYS.checkpoint);
  }

  /** A fresh run replaces the previous checkpoint. */
  async deleteCheckpoint(): Promise<void> {
    await this.ctx.kv.delete(KEYS.checkpoint);
  }

  /** Records a checkpoint the engine produced (in the store now, in the browser after earlier writes). */
  saveCheckpoint(globalIteration: number, bytes: Uint8Array): void {
    const { ctx } = this;
    const info: CheckpointInfo = {
      globalIteration,
      totalIterations: ctx.s.run.totalIterations,
      savedAt: ctx.now(),
      generatorId: ctx.s.generator?.id ?? null,
      restored: false,
      stored: false,
    };
    ctx.set({ checkpoint: info });
    const record: PersistedCheckpoint = {
      bytes,
      globalIteration: info.globalIteration,
      totalIterations: info.totalIterations,
      savedAt: info.savedAt,
      generatorId: info.generatorId,
      settings: ctx.s.settings,
      losses: ctx.s.losses,
    };
    this.checkpointWrites = this.checkpointWrites
      .then(async () => {
        await ctx.kv.set(KEYS.checkpoint, record);
        // Only now would a reload bring it back; a checkpoint shown since (newer, restored, cleared) is another object.
        if (ctx.s.checkpoint === info) ctx.set({ checkpoint: { ...info, stored: true } });
      })
      .catch((err) => ctx.set({ notice: `Could not save the checkpoint in the browser: ${errorMessage(err)}` }));
  }

  /** Brings a stored checkpoint back: its progress, losses and settings, and its weights into the engine. */
  async restoreCheckpoint(saved: PersistedCheckpoint): Promise<void> {
    const { ctx } = this;
    const info: CheckpointInfo = {
      globalIteration: saved.globalIteration,
      totalIterations: saved.totalIterations,
      savedAt: saved.savedAt,
      generatorId: saved.generatorId,
      restored: true,
      stored: true,
    };
    ctx.set({
      checkpoint: info,
      losses: saved.losses ?? emptyHistory(),
      settings: mergeSettings(saved.settings),
      run: { ...initialRun(), state: 'cancelled', globalIteration: saved.globalIteration, totalIterations: saved.totalIterations },
    });
    // The checkpoint holds the adapted weights: load them so the viewer shows where the run got to.
    try {
      await ctx.engine.importAdapted(new Blob([saved.bytes as Uint8Array<ArrayBuffer>]));
      ctx.set({ adaptedAvailable: true, weightsVersion: ctx.s.weightsVersion + 1 });
      ctx.set({ notice: `Restored the checkpoint from iteration ${saved.globalIteration} of ${saved.totalIterations}. Resume to continue training.` });
    } catch (e) {
      ctx.set({
        notice: `Restored the checkpoint from iteration ${saved.globalIteration} of ${saved.totalIterations}; its weights could not be previewed (${errorMessage(e)}), but training can resume from it.`,
      });
    }
  }

  /** Resolves once pending checkpoint writes are stored (tests; before a deliberate reload). */
  flush(): Promise<void> {
    return this.checkpointWrites;
  }
}

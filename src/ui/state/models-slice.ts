/**
 * Model library slice: loading generators (EG3D pickles, the embedded demo) and CLIP encoders into the
 * engine, the list of models cached in this browser (loadable again without the user), switching
 * between them and forgetting them. A failed load keeps what was loaded and says so.
 */
import type { AdapterEngine, EngineEvent, ModelInfo } from '../../engine/types.ts';
import type { PersistenceSlice } from './persistence-slice.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';
import { isActive } from './studio-store.ts';

const EMBEDDED_GENERATOR = 'embedded demo generator';
const EMBEDDED_ENCODER = 'embedded default encoder';

export class ModelsSlice {
  constructor(
    private readonly ctx: SliceContext,
    private readonly persistence: PersistenceSlice,
  ) {}

  /** The engine's loading progress, shown on the model being loaded. */
  onLoadProgress(e: Extract<EngineEvent, { type: 'load-progress' }>): void {
    const l = this.ctx.s.loading;
    if (l) this.ctx.set({ loading: { ...l, what: e.what, loaded: e.loaded, total: e.total } });
  }

  loadEmbeddedGenerator(): Promise<ModelInfo | null> {
    return this.loadGeneratorFrom({ kind: 'embedded' }, EMBEDDED_GENERATOR);
  }

  loadEmbeddedEncoder(): Promise<ModelInfo | null> {
    return this.loadEncoderFrom({ kind: 'embedded' }, EMBEDDED_ENCODER);
  }

  private async loadGeneratorFrom(source: Parameters<AdapterEngine['loadGenerator']>[0], fileName: string): Promise<ModelInfo | null> {
    const { ctx } = this;
    ctx.set({ loading: { target: 'generator', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null });
    try {
      const info = await ctx.engine.loadGenerator(source);
      const changed = ctx.s.generator?.id !== info.id;
      ctx.set({ generator: info });
      if (changed) {
        // Adapted weights belong to the previous base generator.
        ctx.set({ adaptedAvailable: false, preview: null, weightsVersion: ctx.s.weightsVersion + 1 });
      }
      if (info.origin === 'file') await this.rememberModel(info, source.kind === 'file' ? source.file : null);
      return info;
    } catch (e) {
      // The engine keeps the previous generator; say so.
      const keep = ctx.s.generator ? ` The previous generator (${ctx.s.generator.name}) is still loaded.` : '';
      ctx.set({ modelError: `Could not load ${fileName}: ${errorMessage(e)}.${keep}` });
      return null;
    } finally {
      ctx.set({ loading: null });
    }
  }

  private async loadEncoderFrom(source: Parameters<AdapterEngine['loadEncoder']>[0], fileName: string): Promise<ModelInfo | null> {
    const { ctx } = this;
    ctx.set({ loading: { target: 'encoder', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null });
    try {
      const info = await ctx.engine.loadEncoder(source);
      ctx.set({ encoders: [...ctx.s.encoders.filter((m) => m.id !== info.id), info] });
      if (info.origin === 'file') await this.rememberModel(info, source.kind === 'file' ? source.file : null);
      return info;
    } catch (e) {
      ctx.set({ modelError: `Could not load ${fileName}: ${errorMessage(e)}. The loaded encoders are unchanged.` });
      return null;
    } finally {
      ctx.set({ loading: null });
    }
  }

  /** Adds a file model to the cached list and stores its file so later visits can load it without the user. */
  private async rememberModel(info: ModelInfo, file: Blob | null): Promise<void> {
    const { ctx } = this;
    if (file) {
      try {
        await this.persistence.storeModelFile(info.id, file);
      } catch (e) {
        ctx.set({ notice: `${info.name} is loaded but could not be cached in this browser (${errorMessage(e)}).` });
        return;
      }
    }
    const list = [...ctx.s.cachedModels.filter((m) => m.id !== info.id), info];
    ctx.set({ cachedModels: list });
    await this.persistence.saveCachedModels(list);
  }

  /** Loads a cached model: nothing when it is loaded already, else its stored file. */
  async loadCached(info: ModelInfo): Promise<void> {
    const s = this.ctx.s;
    const loaded = info.kind === 'generator' ? s.generator?.id === info.id : s.encoders.some((e) => e.id === info.id);
    if (loaded) return;
    const file = await this.persistence.modelFile(info.id);
    if (!file) {
      this.ctx.set({ modelError: `${info.name} is no longer stored in this browser; drop its file again.` });
      await this.forgetCachedModel(info.id);
      return;
    }
    const source = { kind: 'file' as const, file, name: info.name };
    if (info.kind === 'generator') await this.loadGeneratorFrom(source, info.name);
    else await this.loadEncoderFrom(source, info.name);
  }

  private guardIdle(what: string): boolean {
    if (isActive(this.ctx.s.run.state)) {
      this.ctx.set({ modelError: `Stop the running adaptation before ${what}.` });
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
      this.ctx.set({
        modelError: `${name} is not a model file the studio knows: use an EG3D network pickle (.pkl) or CLIP weights (.pt / .safetensors).`,
      });
    }
  }

  async selectCachedModel(id: string): Promise<void> {
    const info = this.ctx.s.cachedModels.find((m) => m.id === id);
    if (!info) return;
    if (!this.guardIdle('switching models')) return;
    await this.loadCached(info);
  }

  async useEmbeddedGenerator(): Promise<void> {
    if (!this.guardIdle('switching models')) return;
    await this.loadEmbeddedGenerator();
  }

  /** Deletes a cached model from this browser (a loaded copy stays loaded until replaced). */
  async forgetCachedModel(id: string): Promise<void> {
    const list = this.ctx.s.cachedModels.filter((m) => m.id !== id);
    this.ctx.set({ cachedModels: list });
    await this.persistence.deleteModelFile(id);
    await this.persistence.saveCachedModels(list);
  }

  async unloadEncoder(id: string): Promise<void> {
    const { ctx } = this;
    if (!this.guardIdle('changing encoders')) return;
    try {
      await ctx.engine.unloadEncoder(id);
      const encoders = ctx.s.encoders.filter((m) => m.id !== id);
      const settings = { ...ctx.s.settings, encoders: ctx.s.settings.encoders.filter((x) => x !== id) };
      ctx.set({ encoders, settings });
      await this.persistence.saveSettings(settings);
    } catch (e) {
      ctx.set({ modelError: `Could not unload the encoder: ${errorMessage(e)}` });
    }
  }
}

/**
 * Model library slice: loading generators (EG3D pickles, the embedded demo) and CLIP encoders into the
 * engine, the list of models cached in this browser (loadable again without the user), switching
 * between them and forgetting them. A failed load keeps what was loaded and says so.
 */
import { needsClipConfig, type AdapterEngine, type EngineEvent, type ModelConfigFile, type ModelInfo } from '../../engine/types.ts';
import type { PersistenceSlice } from './persistence-slice.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';
import { isActive } from './studio-store.ts';

const EMBEDDED_GENERATOR = 'embedded demo generator';
const EMBEDDED_ENCODER = 'embedded default encoder';

/** Shown when the engine says a CLIP file's head count needs the model's config file. */
export const CONFIG_HINT =
  "Drop the model's config JSON (open_clip model config, e.g. ViT-H-14.json / open_clip_config.json, or Hugging Face config.json) together with the weights.";

/** A file the user dropped or picked. */
export interface NamedFile {
  file: Blob;
  name: string;
}

type FileRole = 'generator' | 'encoder' | 'config' | 'unknown';

function roleOf(name: string): FileRole {
  const lower = name.toLowerCase();
  if (lower.endsWith('.pkl')) return 'generator';
  if (['.pt', '.pth', '.safetensors', '.bin'].some((ext) => lower.endsWith(ext))) return 'encoder';
  if (lower.endsWith('.json')) return 'config';
  return 'unknown';
}

/** A message as a sentence: with its full stop (the engine's config-needed message has one already). */
const sentence = (m: string) => (/[.!?]$/.test(m) ? m : `${m}.`);

const stem = (name: string) => name.replace(/\.[^.]*$/, '').toLowerCase();

/**
 * Pairs the config files dropped together with CLIP weights: a config with the weights of the same
 * name (ViT-H-14.json ↔ ViT-H-14.safetensors); else one config with the only weights file. Returns the
 * configs it could not pair (never guessed: several weights and a config of another name stay apart).
 */
export function pairConfigs(encoders: NamedFile[], configs: NamedFile[]): { pairs: Map<NamedFile, NamedFile>; unpaired: NamedFile[] } {
  const pairs = new Map<NamedFile, NamedFile>();
  let rest = [...configs];
  for (const w of encoders) {
    const same = rest.filter((c) => stem(c.name) === stem(w.name));
    if (same.length === 1) {
      pairs.set(w, same[0]);
      rest = rest.filter((c) => c !== same[0]);
    }
  }
  const alone = encoders.filter((w) => !pairs.has(w));
  if (encoders.length === 1 && alone.length === 1 && rest.length === 1) {
    pairs.set(alone[0], rest[0]);
    rest = [];
  }
  return { pairs, unpaired: rest };
}

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
    ctx.set({ loading: { target: 'generator', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null, modelHint: null });
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
    ctx.set({ loading: { target: 'encoder', fileName, what: 'reading', loaded: 0, total: 0 }, modelError: null, modelHint: null });
    try {
      const info = await ctx.engine.loadEncoder(source);
      ctx.set({ encoders: [...ctx.s.encoders.filter((m) => m.id !== info.id), info] });
      if (info.origin === 'file') await this.rememberModel(info, source.kind === 'file' ? source.file : null, source.kind === 'file' ? source.config : undefined);
      return info;
    } catch (e) {
      const withConfig = source.kind === 'file' && source.config ? ` (with ${source.config.name})` : '';
      ctx.set({
        modelError: `Could not load ${fileName}${withConfig}: ${sentence(errorMessage(e))} The loaded encoders are unchanged.`,
        modelHint: needsClipConfig(e) ? CONFIG_HINT : null,
      });
      return null;
    } finally {
      ctx.set({ loading: null });
    }
  }

  /** Adds a file model to the cached list and stores its file so later visits can load it without the user. */
  private async rememberModel(info: ModelInfo, file: Blob | null, config?: ModelConfigFile): Promise<void> {
    const { ctx } = this;
    if (file) {
      try {
        await this.persistence.storeModelFile(info.id, file, config);
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
    if (info.kind === 'generator') await this.loadGeneratorFrom({ kind: 'file', file, name: info.name }, info.name);
    else {
      // Loaded the same way as when it was cached: with the config file it came with.
      const config = await this.persistence.modelConfig(info.id);
      await this.loadEncoderFrom({ kind: 'file', file, name: info.name, ...(config ? { config } : {}) }, info.name);
    }
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
    await this.loadModelFiles([{ file, name }]);
  }

  /**
   * Files dropped or picked together: .pkl → generator; .pt/.safetensors/.bin → CLIP encoder, each
   * with the .json config dropped with it (`pairConfigs`). A config without weights, or one that cannot
   * be told apart, loads nothing and says why.
   */
  async loadModelFiles(files: NamedFile[]): Promise<void> {
    const { ctx } = this;
    const by = (role: FileRole) => files.filter((f) => roleOf(f.name) === role);
    const unknown = by('unknown');
    if (unknown.length) {
      const names = unknown.map((f) => f.name).join(', ');
      ctx.set({ modelError: `${names} ${unknown.length === 1 ? 'is not a model file' : 'are not model files'} the studio knows: use an EG3D network pickle (.pkl) or CLIP weights (.pt / .safetensors), with the model's config .json where it has one.`, modelHint: null });
      return;
    }
    const generators = by('generator');
    const encoders = by('encoder');
    const configs = by('config');
    if (configs.length && encoders.length === 0) {
      const names = configs.map((f) => f.name).join(', ');
      ctx.set({ modelError: `${names} ${configs.length === 1 ? 'is a config file' : 'are config files'} without weights: drop the CLIP weights (.safetensors / .pt) together with ${configs.length === 1 ? 'it' : 'them'}.`, modelHint: null });
      return;
    }
    const { pairs, unpaired } = pairConfigs(encoders, configs);
    if (unpaired.length) {
      ctx.set({
        modelError: `Could not tell which weights ${unpaired.map((f) => f.name).join(', ')} belong${unpaired.length === 1 ? 's' : ''} to: give the config the weights' name (ViT-H-14.json with ViT-H-14.safetensors) or drop one model at a time.`,
        modelHint: null,
      });
      return;
    }
    if (generators.length) {
      if (!this.guardIdle('changing the generator')) return;
      // One base generator at a time: the last one dropped is the one kept.
      for (const g of generators) {
        await this.loadGeneratorFrom({ kind: 'file', file: g.file, name: g.name }, g.name);
        if (this.ctx.s.modelError) return; // the first failure is the one shown
      }
    }
    if (encoders.length) {
      if (!this.guardIdle('changing encoders')) return;
      for (const w of encoders) {
        const config = pairs.get(w);
        await this.loadEncoderFrom({ kind: 'file', file: w.file, name: w.name, ...(config ? { config } : {}) }, w.name);
        if (this.ctx.s.modelError) return; // the first failure is the one shown
      }
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

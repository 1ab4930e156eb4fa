/**
 * The engine's model registry: the loaded base generator (with its GeneratorView and, for a .pkl,
 * the parsed pickle for the full-pickle export) and the loaded encoders, each with the ModelInfo the
 * UI shows. Load failures are mapped to EngineErrors with the file's name (errors.ts).
 */
import { BlobByteSource, type ByteSource } from '../io/byte-source.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { readEG3DPickle, type EG3DCheckpoint } from '../eg3d/checkpoint.ts';
import { parseEG3DConfig, describeConfig } from '../eg3d/config.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { loadWeights, parameterCounts } from '../eg3d/weights.ts';
import { DEFAULT_CHUNK_RAYS } from '../eg3d/renderer.ts';
import { loadClipEncoder, type ClipImageEncoder, type FeatureEncoder } from '../clip/encoder.ts';
import { hasTextTower } from '../clip/text-direction.ts';
import { ClipHeadsUnknownError, parseClipConfig, type ClipArchitecture } from '../clip/load.ts';
import { FormatError, IncompatibleFileError } from '../core/errors.ts';
import { loadDefaultEncoder } from '../clip/default-encoder.ts';
import { GeneratorView, type RenderOverrides } from '../adapter/generator-view.ts';
import { loadEmbeddedGenerator, type EmbeddedFileOpener } from './embedded.ts';
import { fileError } from './errors.ts';
import { CLIP_CONFIG_NEEDED, EngineError, type EncoderSource, type EngineEvent, type GeneratorSource, type ModelConfigFile, type ModelInfo } from './types.ts';

/** A model config is a small JSON file; anything larger is not one (a weights file dropped by mistake). */
export const MAX_CONFIG_BYTES = 1 << 20;

/** The text of a model's config file, refused when it is too large or cannot be read. */
export async function readConfigFile(config: ModelConfigFile): Promise<string> {
  if (config.file.size > MAX_CONFIG_BYTES) {
    throw new IncompatibleFileError(`${config.name}: ${config.file.size} bytes is not a model config (a JSON file of at most ${MAX_CONFIG_BYTES} bytes)`);
  }
  try {
    return await config.file.text();
  } catch (e) {
    throw new FormatError(`${config.name}: could not be read (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * Where the image tower's head count came from, for the summary: ", 12 heads: width 768 // 64 (OpenAI
 * build_model)" or ", 16 heads (open_clip config: ViT-H-14.json, head width 80)".
 */
export function describeHeads(arch: ClipArchitecture | null, configName?: string): string {
  if (!arch) return '';
  const h = arch.headsFrom.vision;
  if (h.from !== 'config' || !h.note.endsWith(')')) return `, ${h.note}`;
  const named = configName && !h.note.includes(configName) ? `: ${configName}` : '';
  return `, ${h.note.slice(0, -1)}${named}, head width ${arch.vision.width / arch.vision.heads})`;
}

export interface LoadedGenerator {
  info: ModelInfo;
  generator: EG3DGenerator;
  view: GeneratorView;
  /** The parsed pickle (file origin only), for the full-pickle export. */
  checkpoint: EG3DCheckpoint | null;
  original: Blob | null;
}

export interface LoadedEncoder {
  info: ModelInfo;
  encoder: FeatureEncoder;
}

export interface ModelLoaders {
  /** How this platform opens the embedded demo generator file (src/platform/node-embedded.ts, src/platform/browser-embedded.ts); without it there is no embedded generator. */
  openEmbeddedFile?: EmbeddedFileOpener;
  loadDefaultEncoder?: () => Promise<FeatureEncoder>;
  renderOverrides?: RenderOverrides;
  chunkRays?: number;
}

export class ModelRegistry {
  private gen: LoadedGenerator | null = null;
  private readonly encoders = new Map<string, LoadedEncoder>();

  constructor(
    private readonly opts: ModelLoaders,
    private readonly emit: (e: EngineEvent) => void,
    /** The active tfjs backend, for classifying load failures. */
    private readonly backend: () => string | null = () => null,
  ) {}

  get generator(): LoadedGenerator | null {
    return this.gen;
  }

  requireGenerator(message = 'load a generator first'): LoadedGenerator {
    if (!this.gen) throw new EngineError('not-ready', message);
    return this.gen;
  }

  /**
   * Loads a generator and makes it the base (the previous one is disposed); `replaced` is false when
   * the source named the generator already loaded. A failed load keeps the previous generator.
   */
  async loadGenerator(source: GeneratorSource): Promise<{ info: ModelInfo; replaced: boolean }> {
    const progress = (what: string) => (loaded: number, total: number) => this.emit({ type: 'load-progress', what, loaded, total });
    let loaded: LoadedGenerator;
    if (source.kind === 'cached') {
      if (this.gen && this.gen.info.id === source.id) return { info: this.gen.info, replaced: false };
      throw new EngineError('not-ready', `generator '${source.id}' is not loaded in this session; load its file again`);
    } else if (source.kind === 'embedded') {
      let emb;
      try {
        emb = await loadEmbeddedGenerator(this.opts.openEmbeddedFile, progress('embedded generator'));
      } catch (e) {
        throw fileError(e, 'embedded generator', this.backend());
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
        throw fileError(e, source.name, this.backend());
      }
    }
    this.gen?.generator.dispose();
    this.gen = loaded;
    return { info: loaded.info, replaced: true };
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

  async loadEncoder(source: EncoderSource): Promise<ModelInfo> {
    if (source.kind === 'cached') {
      const e = this.encoders.get(source.id);
      if (e) return e.info;
      throw new EngineError('not-ready', `encoder '${source.id}' is not loaded in this session; load its file again`);
    }
    let encoder: FeatureEncoder;
    let sha256: string;
    let origin: 'embedded' | 'file';
    let headsNote = '';
    try {
      if (source.kind === 'embedded') {
        encoder = await (this.opts.loadDefaultEncoder ?? loadDefaultEncoder)();
        if (!encoder.weightsSha256) {
          encoder.dispose();
          throw new EngineError('internal', `the embedded encoder ${encoder.name} does not report the SHA-256 of its weights`);
        }
        sha256 = encoder.weightsSha256;
        origin = 'embedded';
      } else {
        const src: ByteSource = new BlobByteSource(source.file, source.name);
        // The config first: a bad one is reported before the weights are hashed.
        const config = source.config ? await readConfigFile(source.config) : undefined;
        if (source.config && config !== undefined) parseClipConfig(config, source.config.name);
        sha256 = await sha256OfSource(src, { onProgress: (l, t) => this.emit({ type: 'load-progress', what: `SHA-256 of ${source.name}`, loaded: l, total: t }) });
        let clip: ClipImageEncoder;
        const load = (text: boolean) =>
          loadClipEncoder(src, {
            id: `clip-${sha256.slice(0, 12)}`,
            config,
            configName: source.config?.name,
            text,
            onProgress: (l: number, t: number) => this.emit({ type: 'load-progress', what: source.name, loaded: l, total: t }),
          });
        try {
          // The text tower too when the file has one (zero-shot runs): if only its head count is unknown, the image tower alone.
          clip = await load(true).catch((e: unknown) => (e instanceof ClipHeadsUnknownError ? load(false) : Promise.reject(e)));
        } catch (e) {
          if (!(e instanceof ClipHeadsUnknownError)) throw e;
          // Without a config, say that one would load it (the marker the UI and CLI look for); with one, that it did not tell.
          throw source.config
            ? new EngineError('incompatible-file', `${source.name}: ${e.message}; ${source.config.name} does not give it`, { cause: e })
            : new EngineError('incompatible-file', `${source.name}: ${e.message}. ${CLIP_CONFIG_NEEDED}`, { cause: e });
        }
        encoder = clip;
        headsNote = describeHeads(clip.architecture, source.config?.name);
        origin = 'file';
      }
    } catch (e) {
      throw fileError(e, source.kind === 'file' ? source.name : 'default encoder', this.backend());
    }
    const info: ModelInfo = {
      id: encoder.id,
      kind: 'encoder',
      name: encoder.name,
      origin,
      sha256,
      summary: `${encoder.name}: ${encoder.numBlocks} blocks${headsNote}, ${encoder.embedDim}-d embedding, tokens from block ${encoder.defaultTokenBlock}${hasTextTower(encoder) ? ', text tower' : ''}`,
      parameters: encoder.parameterCount(),
      textTower: hasTextTower(encoder),
    };
    const existing = this.encoders.get(encoder.id);
    if (existing && existing.info.summary === info.summary) {
      encoder.dispose();
      return existing.info;
    }
    // The same weights with other head counts (a config now supplied) replace the loaded copy.
    existing?.encoder.dispose();
    this.encoders.set(encoder.id, { info, encoder });
    return info;
  }

  unloadEncoder(id: string): void {
    const e = this.encoders.get(id);
    if (!e) return;
    e.encoder.dispose();
    this.encoders.delete(id);
  }

  /** Every loaded encoder. */
  loadedEncoders(): LoadedEncoder[] {
    return [...this.encoders.values()];
  }

  /** The encoders a run uses: the ids given, or every loaded encoder when the list is empty. */
  selectEncoders(ids: string[]): LoadedEncoder[] {
    const selected = ids.length ? ids.map((id) => this.encoders.get(id)) : [...this.encoders.values()];
    if (selected.length === 0) throw new EngineError('not-ready', 'load at least one encoder (CLIP or the embedded default encoder) first');
    if (selected.some((e) => !e)) throw new EngineError('not-ready', `unknown encoder id in settings.encoders (${ids.join(', ')})`);
    return selected as LoadedEncoder[];
  }

  dispose(): void {
    this.gen?.generator.dispose();
    this.gen = null;
    for (const e of this.encoders.values()) e.encoder.dispose();
    this.encoders.clear();
  }
}

/**
 * The project's embedded demo generator: `public/models/demo-eg3d.safetensors`, an EG3D weight set in
 * official key names and PyTorch layouts whose `__metadata__` carries the construction arguments
 * (`init_kwargs` JSON — with `rendering_kwargs` inside or as its own `rendering_kwargs` entry — and
 * `neural_rendering_resolution`). The engine does not know where files live: the platform passes an
 * `EmbeddedFileOpener` in (`src/platform/browser-embedded.ts` fetches the Vite asset over HTTP,
 * `src/platform/node-embedded.ts` reads `public/` from disk for the CLI and tests).
 */
import type { ByteSource } from '../io/byte-source.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { parseEG3DConfig } from '../eg3d/config.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { loadWeights } from '../eg3d/weights.ts';
import { AppError, InternalError } from '../core/errors.ts';

/** The file's path under the site root (`public/` in the repository). */
export const EMBEDDED_GENERATOR_FILE = 'models/demo-eg3d.safetensors';

/**
 * How this platform opens a file shipped with the app: `file` is its path under the site root
 * (`public/`), `onProgress` reports bytes as they arrive. Throws an AppError when the file is missing.
 */
export type EmbeddedFileOpener = (file: string, onProgress?: (loaded: number, total: number) => void) => Promise<ByteSource>;

export interface EmbeddedGenerator {
  generator: EG3DGenerator;
  sha256: string;
  name: string;
  /** The metadata entries of the file (description, licence, how it was made). */
  metadata: Record<string, string>;
}

export class EmbeddedGeneratorError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/** Builds an EG3DGenerator from a safetensors weight file with EG3D construction metadata. */
export async function generatorFromSafetensors(source: ByteSource): Promise<{ generator: EG3DGenerator; metadata: Record<string, string> }> {
  const file = await SafetensorsFile.open(source);
  const md = file.metadata;
  const parse = (key: string): Record<string, unknown> | undefined => {
    if (md[key] === undefined) return undefined;
    try {
      return JSON.parse(md[key]) as Record<string, unknown>;
    } catch {
      throw new EmbeddedGeneratorError(`${source.name}: metadata '${key}' is not JSON`);
    }
  };
  const initKwargs = parse('init_kwargs');
  if (!initKwargs) throw new EmbeddedGeneratorError(`${source.name}: no 'init_kwargs' in the safetensors metadata`);
  const renderingKwargs = parse('rendering_kwargs');
  const nrr = Number(md.neural_rendering_resolution ?? (initKwargs.rendering_kwargs as Record<string, unknown> | undefined)?.neural_rendering_resolution ?? NaN);
  if (!Number.isInteger(nrr) || nrr <= 0) throw new EmbeddedGeneratorError(`${source.name}: metadata 'neural_rendering_resolution' is missing or not an integer`);
  const config = parseEG3DConfig({ initKwargs, renderingKwargs, neuralRenderingResolution: nrr });
  const weights = await loadWeights(config, {
    keys: file.keys(),
    shapeOf: (k) => file.entries.get(k)!.shape,
    read: (k) => file.readFloat32(k),
  });
  return { generator: EG3DGenerator.create(config, weights), metadata: md };
}

/**
 * Opens the embedded file with the platform's opener (the one the engine was given; without one there
 * is no embedded generator) and builds the generator; `sha256` is of the file's bytes.
 */
export async function loadEmbeddedGenerator(open: EmbeddedFileOpener | undefined, onProgress?: (loaded: number, total: number) => void): Promise<EmbeddedGenerator> {
  if (!open) throw new AppError('not-ready', 'this engine was set up without a way to open the embedded demo generator (no EmbeddedFileOpener from the platform)');
  const source = await open(EMBEDDED_GENERATOR_FILE, onProgress);
  const sha256 = await sha256OfSource(source);
  const { generator, metadata } = await generatorFromSafetensors(source);
  return { generator, sha256, name: metadata.name ?? 'Embedded demo generator', metadata };
}

/**
 * The project's embedded demo generator: `public/models/demo-eg3d.safetensors`, an EG3D weight set in
 * official key names and PyTorch layouts whose `__metadata__` carries the construction arguments
 * (`init_kwargs` JSON — with `rendering_kwargs` inside or as its own `rendering_kwargs` entry — and
 * `neural_rendering_resolution`). Fetched through its Vite asset URL in the browser, read from disk in
 * Node (CLI, tests).
 */
import { MemoryByteSource, type ByteSource } from '../io/byte-source.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { parseEG3DConfig } from '../eg3d/config.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { loadWeights } from '../eg3d/weights.ts';
import { InternalError } from '../core/errors.ts';

export const EMBEDDED_GENERATOR_FILE = 'models/demo-eg3d.safetensors';

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

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return !!p?.versions?.node;
}

async function openEmbeddedSource(onProgress?: (loaded: number, total: number) => void): Promise<ByteSource> {
  if (isNode()) {
    // Kept out of the browser bundle: the specifiers are only resolved in Node.
    const fsName = 'node:fs/promises';
    const urlName = 'node:url';
    const { readFile } = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const { fileURLToPath } = (await import(/* @vite-ignore */ urlName)) as typeof import('node:url');
    const path = fileURLToPath(new URL(`../../public/${EMBEDDED_GENERATOR_FILE}`, import.meta.url));
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(path));
    } catch {
      throw new EmbeddedGeneratorError(`the embedded demo generator is missing (${path}); build it with the demo script first`);
    }
    onProgress?.(bytes.length, bytes.length);
    return new MemoryByteSource(bytes, 'demo-eg3d.safetensors');
  }
  const base = (import.meta as { env?: { BASE_URL?: string } }).env?.BASE_URL ?? '/';
  const url = new URL(`${base}${EMBEDDED_GENERATOR_FILE}`, globalThis.location?.href ?? 'http://localhost/').href;
  const res = await fetch(url);
  if (!res.ok) throw new EmbeddedGeneratorError(`could not fetch the embedded demo generator (${url}: HTTP ${res.status})`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const reader = res.body?.getReader();
  if (!reader) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.(bytes.length, bytes.length);
    return new MemoryByteSource(bytes, 'demo-eg3d.safetensors');
  }
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.(loaded, total || loaded);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return new MemoryByteSource(bytes, 'demo-eg3d.safetensors');
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

export async function loadEmbeddedGenerator(onProgress?: (loaded: number, total: number) => void): Promise<EmbeddedGenerator> {
  const source = await openEmbeddedSource(onProgress);
  const sha256 = await sha256OfSource(source);
  const { generator, metadata } = await generatorFromSafetensors(source);
  return { generator, sha256, name: metadata.name ?? 'Embedded demo generator', metadata };
}

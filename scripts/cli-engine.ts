/**
 * What every `npm run cli -- <command>` shares: reading flag values with one set of messages, and the
 * engine the studio uses (LocalEngine) set up for Node — backend from the environment, the embedded
 * demo generator opened from public/models, a generator loaded from `--generator embedded|<file.pkl>`.
 * (Not under scripts/cli/: cli.ts lists that folder's files as commands.)
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { SettingsError } from '../src/core/errors.ts';
import { LocalEngine, type LocalEngineOptions } from '../src/engine/local-engine.ts';
import type { ModelInfo } from '../src/engine/types.ts';
import { backendFromEnv, initNodeBackend, type NodeBackendName } from '../src/platform/node-backend.ts';
import { openEmbeddedFile } from '../src/platform/node-embedded.ts';
import type { FaceLocator } from './reference-image.ts';

/** Flag-value readers over `argv` (index of the value, flag name for the message); `usage` ends "needs a value" messages. */
export interface ArgReader {
  /** The value at `i`; missing or another flag (`--x`) is an error. Negative numbers (`-0.3`) are values. */
  value(i: number, flag: string): string;
  /** A finite number. */
  num(i: number, flag: string): number;
  /** An integer ≥ `min`. */
  int(i: number, flag: string, min: number): number;
  /** Exactly `n` comma-separated finite numbers. */
  list(i: number, flag: string, n: number): number[];
}

export function argReader(argv: string[], usage: string): ArgReader {
  const value = (i: number, flag: string) => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new SettingsError(`${flag} needs a value\n${usage}`);
    return v;
  };
  const num = (i: number, flag: string) => {
    const n = Number(value(i, flag));
    if (!Number.isFinite(n)) throw new SettingsError(`${flag} needs a number (got ${argv[i]})`);
    return n;
  };
  const int = (i: number, flag: string, min: number) => {
    const n = Number(value(i, flag));
    if (!Number.isInteger(n) || n < min) throw new SettingsError(`${flag} needs an integer ≥ ${min} (got ${argv[i]})`);
    return n;
  };
  const list = (i: number, flag: string, n: number) => {
    const xs = value(i, flag).split(',').map(Number);
    if (xs.length !== n || xs.some((x) => !Number.isFinite(x))) throw new SettingsError(`${flag} needs ${n} comma-separated numbers (got ${argv[i]})`);
    return xs;
  };
  return { value, num, int, list };
}

/** A file's bytes as the Blob the engine's load/import calls take. */
export function fileBlob(path: string): Blob {
  return new Blob([readFileSync(path)]);
}

/**
 * The studio's engine in Node: the backend named by the environment (TFJS_BACKEND, default wasm) is
 * initialised first, the probe reports it, the embedded generator opens from public/models. `extra`
 * adds the command's own options (render overrides, evaluation loaders, video writer, μ_s store, …).
 */
export async function openCliEngine(extra: Omit<LocalEngineOptions, 'probe' | 'openEmbeddedFile'> = {}): Promise<{ engine: LocalEngine; backend: NodeBackendName }> {
  const backend = backendFromEnv();
  await initNodeBackend(backend);
  const engine = new LocalEngine({ probe: async () => ({ backend, summary: `tfjs ${backend} (Node)` }), openEmbeddedFile, ...extra });
  return { engine, backend };
}

/** The engine's face detection (the studio's, on face-api) as the reference reader's locator. */
export function engineFaceLocator(engine: Pick<LocalEngine, 'detectFace'>): FaceLocator {
  return async (image) => (await engine.detectFace(image))?.aligned ?? null;
}

/** `--generator`: 'embedded' (the demo generator) or the path of an official EG3D pickle. */
export function loadCliGenerator(engine: Pick<LocalEngine, 'loadGenerator'>, generator: string): Promise<ModelInfo> {
  return generator === 'embedded'
    ? engine.loadGenerator({ kind: 'embedded' })
    : engine.loadGenerator({ kind: 'file', file: fileBlob(generator), name: basename(generator) });
}

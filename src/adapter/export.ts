/**
 * The adapted-weights file: `.safetensors` holding only the Tri-D (`decoder.*`) and G2
 * (`superresolution.*`) parameters in official key names and PyTorch layouts, with metadata that ties
 * it to its base generator (SHA-256) and records how it was made. Also the run checkpoint, the same
 * file plus the Adam moments and the position in the schedule, used to resume a run exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteSource } from '../io/byte-source.ts';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { tfToTorch, torchToTf } from '../eg3d/weights.ts';
import type { AdamState } from './adam.ts';

export const ADAPTED_FORMAT = 'adapter3d-adapted-weights';
export const CHECKPOINT_FORMAT = 'adapter3d-checkpoint';
export const FORMAT_VERSION = '1';

/** Buffers of the fine-tuned modules that never change (not exported, not trained). */
export function isTrainableKey(key: string): boolean {
  if (!key.startsWith('decoder.') && !key.startsWith('superresolution.')) return false;
  return !key.endsWith('.resample_filter') && !key.endsWith('.noise_const');
}

export interface LossSummary {
  phase: 'tri-d' | 'g2';
  iterations: number;
  first: number;
  last: number;
  min: number;
  /** Mean total loss over the last 10 % of the phase (at least one iteration). */
  finalMean: number;
}

export interface AdaptedMetadata {
  baseGeneratorSha256: string;
  baseGeneratorName: string;
  encoders: { id: string; name: string; sha256: string }[];
  /** All settings of the run (AdaptSettings, with the parsed method options). */
  settings: unknown;
  seed: number;
  /** Iterations completed per step. */
  iterations: { triD: number; g2: number };
  lossHistory: LossSummary[];
  createdAt: string;
}

export class AdaptedFileError extends Error {
  constructor(
    readonly kind: 'incompatible' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'AdaptedFileError';
  }
}

function metadataStrings(format: string, m: AdaptedMetadata, extra: Record<string, string> = {}): Record<string, string> {
  return {
    format,
    format_version: FORMAT_VERSION,
    base_generator_sha256: m.baseGeneratorSha256,
    base_generator_name: m.baseGeneratorName,
    encoders: JSON.stringify(m.encoders),
    settings: JSON.stringify(m.settings),
    seed: String(m.seed),
    iterations: JSON.stringify(m.iterations),
    loss_history: JSON.stringify(m.lossHistory),
    created_at: m.createdAt,
    ...extra,
  };
}

function parseMetadata(file: SafetensorsFile, name: string): AdaptedMetadata {
  const md = file.metadata;
  const json = <T>(key: string): T => {
    try {
      return JSON.parse(md[key] ?? '') as T;
    } catch {
      throw new AdaptedFileError('corrupt', `${name}: metadata field '${key}' is missing or not JSON`);
    }
  };
  if (!md.base_generator_sha256) throw new AdaptedFileError('corrupt', `${name}: no base generator SHA-256 in the metadata`);
  return {
    baseGeneratorSha256: md.base_generator_sha256,
    baseGeneratorName: md.base_generator_name ?? '',
    encoders: json('encoders'),
    settings: json('settings'),
    seed: Number(md.seed),
    iterations: json('iterations'),
    lossHistory: json('loss_history'),
    createdAt: md.created_at ?? '',
  };
}

function torchTensors(weights: ReadonlyMap<string, tf.Tensor>): Map<string, TensorToWrite> {
  const out = new Map<string, TensorToWrite>();
  for (const key of [...weights.keys()].filter(isTrainableKey)) out.set(key, tfToTorch(key, weights.get(key)!));
  return out;
}

/** Serialises the Tri-D + G2 parameters of `weights` (tfjs layout) as the adapted-weights file. */
export function writeAdaptedSafetensors(weights: ReadonlyMap<string, tf.Tensor>, metadata: AdaptedMetadata): Uint8Array {
  const tensors = torchTensors(weights);
  if (tensors.size === 0) throw new Error('no decoder.* / superresolution.* parameters to export');
  return writeSafetensors(tensors, metadataStrings(ADAPTED_FORMAT, metadata));
}

export interface ReadAdaptedResult {
  metadata: AdaptedMetadata;
  /** tfjs-layout tensors keyed by official names; the caller owns (disposes) them. */
  weights: Map<string, tf.Tensor>;
  format: string;
}

/**
 * Reads an adapted-weights file (or a checkpoint) for the base generator identified by
 * `baseSha256`, whose current weights give the expected key set and shapes. A file made for another
 * base generator, or one whose tensors do not fit, is refused with an AdaptedFileError.
 */
export async function readAdaptedSafetensors(
  source: ByteSource,
  base: { sha256: string; name: string; weights: ReadonlyMap<string, tf.Tensor> },
): Promise<ReadAdaptedResult> {
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(source);
  } catch (e) {
    throw new AdaptedFileError('corrupt', e instanceof Error ? e.message : String(e));
  }
  const format = file.metadata.format;
  if (format !== ADAPTED_FORMAT && format !== CHECKPOINT_FORMAT) {
    throw new AdaptedFileError('incompatible', `${source.name} is a safetensors file but not 3D-Adapter weights (metadata format '${format ?? 'none'}')`);
  }
  const metadata = parseMetadata(file, source.name);
  if (metadata.baseGeneratorSha256 !== base.sha256) {
    throw new AdaptedFileError(
      'incompatible',
      `${source.name} was adapted from a different base generator (${metadata.baseGeneratorName || 'unknown'}, SHA-256 ${metadata.baseGeneratorSha256.slice(0, 12)}…) ` +
        `than the one loaded (${base.name}, SHA-256 ${base.sha256.slice(0, 12)}…). Load its base generator first.`,
    );
  }
  const expected = [...base.weights.keys()].filter(isTrainableKey);
  const missing = expected.filter((k) => !file.has(k));
  if (missing.length) throw new AdaptedFileError('incompatible', `${source.name} lacks ${missing.length} tensor(s), e.g. ${missing.slice(0, 3).join(', ')}`);
  const weights = new Map<string, tf.Tensor>();
  try {
    for (const key of expected) {
      const { shape, data } = await file.readFloat32(key);
      const t = torchToTf(key, shape, data);
      weights.set(key, t);
      const want = base.weights.get(key)!.shape;
      if (t.shape.join('x') !== want.join('x')) {
        throw new AdaptedFileError('incompatible', `${source.name}: tensor ${key} has shape [${shape}] (PyTorch) which does not fit the base generator`);
      }
    }
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  }
  return { metadata, weights, format };
}

// ---- run checkpoints ----

export interface RunPosition {
  /** Iterations completed over both steps. */
  globalIteration: number;
  /** Adam state of the step in progress (null between steps). */
  adam: AdamState | null;
  /** Per-iteration total losses so far (for the loss summary and the UI's curve). */
  lossTotals: number[];
}

const M_PREFIX = 'optimizer.m.';
const V_PREFIX = 'optimizer.v.';

export function writeCheckpoint(weights: ReadonlyMap<string, tf.Tensor>, metadata: AdaptedMetadata, position: RunPosition): Uint8Array {
  const tensors = torchTensors(weights);
  const extra: Record<string, string> = {
    global_iteration: String(position.globalIteration),
    loss_totals: JSON.stringify(position.lossTotals),
  };
  if (position.adam) {
    extra.adam_step = String(position.adam.step);
    // Moments are stored in the parameters' tfjs layout (flat), keyed by parameter name.
    for (const [k, m] of position.adam.m) tensors.set(M_PREFIX + k, { shape: [m.length], data: m });
    for (const [k, v] of position.adam.v) tensors.set(V_PREFIX + k, { shape: [v.length], data: v });
  }
  return writeSafetensors(tensors, metadataStrings(CHECKPOINT_FORMAT, metadata, extra));
}

export interface ReadCheckpointResult extends ReadAdaptedResult {
  position: RunPosition;
}

export async function readCheckpoint(source: ByteSource, base: { sha256: string; name: string; weights: ReadonlyMap<string, tf.Tensor> }): Promise<ReadCheckpointResult> {
  const adapted = await readAdaptedSafetensors(source, base);
  const file = await SafetensorsFile.open(source);
  if (adapted.format !== CHECKPOINT_FORMAT) {
    for (const t of adapted.weights.values()) t.dispose();
    throw new AdaptedFileError('incompatible', `${source.name} holds adapted weights, not a run checkpoint: import it instead of resuming from it`);
  }
  const md = file.metadata;
  let adam: AdamState | null = null;
  if (md.adam_step !== undefined) {
    adam = { step: Number(md.adam_step), m: new Map(), v: new Map() };
    for (const key of file.keys()) {
      if (key.startsWith(M_PREFIX)) adam.m.set(key.slice(M_PREFIX.length), (await file.readFloat32(key)).data);
      if (key.startsWith(V_PREFIX)) adam.v.set(key.slice(V_PREFIX.length), (await file.readFloat32(key)).data);
    }
  }
  let lossTotals: number[] = [];
  try {
    lossTotals = JSON.parse(md.loss_totals ?? '[]') as number[];
  } catch {
    throw new AdaptedFileError('corrupt', `${source.name}: metadata field 'loss_totals' is not JSON`);
  }
  return { ...adapted, position: { globalIteration: Number(md.global_iteration), adam, lossTotals } };
}

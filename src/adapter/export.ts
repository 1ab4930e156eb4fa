/**
 * The adapted-weights file: `.safetensors` holding only the Tri-D (`decoder.*`) and G2
 * (`superresolution.*`) parameters in official key names and PyTorch layouts, with metadata that ties
 * it to its base generator (SHA-256) and records how it was made. Also the run checkpoint, the same
 * file plus the Adam moments and the position in the schedule, used to resume a run exactly.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteSource } from '../io/byte-source.ts';
import { NotSafetensorsError, SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { tensorKind, tfToTorch, torchToTf } from '../eg3d/weights.ts';
import type { AdamState } from '../nn/adam.ts';
import { AppError, FormatError } from '../core/errors.ts';
import type { MixPartRecord } from './mix.ts';

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
  /** Zero-shot runs: the target description (and the source description it was contrasted with). */
  prompt?: string;
  sourcePrompt?: string;
  /** A mix of adapted domains (src/adapter/mix.ts): its parts with their weights. */
  mix?: MixPartRecord[];
}

/** An adapted-weights file or checkpoint that cannot be used: damaged ('corrupt-file') or made for something else ('incompatible-file'). */
export class AdaptedFileError extends AppError {
  constructor(
    readonly reason: 'incompatible' | 'corrupt',
    message: string,
  ) {
    super(reason === 'incompatible' ? 'incompatible-file' : 'corrupt-file', message);
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
    ...(m.prompt !== undefined ? { prompt: m.prompt } : {}),
    ...(m.sourcePrompt !== undefined ? { source_prompt: m.sourcePrompt } : {}),
    ...(m.mix ? { mix: JSON.stringify(m.mix) } : {}),
    ...extra,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
/** JSON has no NaN / Infinity: a diverged loss was written as null. */
const isLoss = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

function parseMetadata(file: SafetensorsFile, name: string): AdaptedMetadata {
  const md = file.metadata;
  const corrupt = (why: string) => new AdaptedFileError('corrupt', `${name}: ${why}`);
  const json = (key: string): unknown => {
    try {
      return JSON.parse(md[key] ?? '');
    } catch {
      throw corrupt(`metadata field '${key}' is missing or not JSON`);
    }
  };
  if (!md.base_generator_sha256) throw corrupt('no base generator SHA-256 in the metadata');
  if (!/^[0-9a-f]{64}$/.test(md.base_generator_sha256)) throw corrupt(`the base generator SHA-256 '${md.base_generator_sha256.slice(0, 80)}' is not a SHA-256`);
  const encoders = json('encoders');
  if (!Array.isArray(encoders) || !encoders.every((e) => isObject(e) && typeof e.id === 'string' && typeof e.name === 'string' && typeof e.sha256 === 'string')) {
    throw corrupt("metadata field 'encoders' is not a list of {id, name, sha256}");
  }
  const iterations = json('iterations');
  if (!isObject(iterations) || !isCount(iterations.triD) || !isCount(iterations.g2)) throw corrupt("metadata field 'iterations' is not {triD, g2} counts");
  const lossHistory = json('loss_history');
  if (
    !Array.isArray(lossHistory) ||
    !lossHistory.every((l) => isObject(l) && (l.phase === 'tri-d' || l.phase === 'g2') && isCount(l.iterations) && ['first', 'last', 'min', 'finalMean'].every((k) => isLoss(l[k])))
  ) {
    throw corrupt("metadata field 'loss_history' is not a list of loss summaries");
  }
  const seed = Number(md.seed);
  if (!Number.isSafeInteger(seed)) throw corrupt(`metadata field 'seed' is not an integer (${String(md.seed).slice(0, 40)})`);
  let mix: MixPartRecord[] | undefined;
  if (md.mix !== undefined) {
    const parts = json('mix');
    if (!Array.isArray(parts) || !parts.every((p) => isObject(p) && typeof p.name === 'string' && typeof p.weight === 'number' && Number.isFinite(p.weight))) {
      throw corrupt("metadata field 'mix' is not a list of {name, weight, …} parts");
    }
    mix = parts as MixPartRecord[];
  }
  return {
    ...(md.prompt !== undefined ? { prompt: md.prompt } : {}),
    ...(md.source_prompt !== undefined ? { sourcePrompt: md.source_prompt } : {}),
    ...(mix ? { mix } : {}),
    baseGeneratorSha256: md.base_generator_sha256,
    baseGeneratorName: md.base_generator_name ?? '',
    encoders: encoders as AdaptedMetadata['encoders'],
    settings: json('settings'),
    seed,
    iterations: { triD: iterations.triD, g2: iterations.g2 },
    lossHistory: (lossHistory as Record<string, unknown>[]).map((l) => {
      const num = (v: unknown) => (v === null ? NaN : (v as number));
      return { phase: l.phase as LossSummary['phase'], iterations: l.iterations as number, first: num(l.first), last: num(l.last), min: num(l.min), finalMean: num(l.finalMean) };
    }),
    createdAt: md.created_at ?? '',
  };
}

/** The PyTorch shape of a parameter whose tfjs shape is `tfShape` (the inverse of torchToTf's layout change). */
function torchShape(key: string, tfShape: readonly number[]): number[] {
  const kind = tensorKind(key, tfShape.length);
  if (kind === 'fc') return [tfShape[1], tfShape[0]];
  if (kind === 'conv') return [tfShape[3], tfShape[2], tfShape[0], tfShape[1]];
  return [...tfShape];
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
    if (e instanceof NotSafetensorsError) throw new AdaptedFileError('incompatible', `${source.name} is not 3D-Adapter weights (${e.message})`);
    if (e instanceof FormatError) throw new AdaptedFileError('corrupt', e.message);
    throw e;
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
      const want = base.weights.get(key)!.shape;
      const shape = file.entries.get(key)!.shape;
      if (shape.join('x') !== torchShape(key, want).join('x')) {
        throw new AdaptedFileError('incompatible', `${source.name}: tensor ${key} has shape [${shape}] (PyTorch) which does not fit the base generator`);
      }
      const { data } = await file.readFloat32(key);
      weights.set(key, torchToTf(key, shape, data));
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
  try {
    if (adapted.format !== CHECKPOINT_FORMAT) {
      throw new AdaptedFileError('incompatible', `${source.name} holds adapted weights, not a run checkpoint: import it instead of resuming from it`);
    }
    const file = await SafetensorsFile.open(source);
    return { ...adapted, position: await readPosition(file, source.name, base.weights) };
  } catch (e) {
    for (const t of adapted.weights.values()) t.dispose();
    throw e;
  }
}

/** The schedule position and Adam state of a checkpoint, checked against the base generator's parameters. */
async function readPosition(file: SafetensorsFile, name: string, weights: ReadonlyMap<string, tf.Tensor>): Promise<RunPosition> {
  const md = file.metadata;
  const corrupt = (why: string) => new AdaptedFileError('corrupt', `${name}: ${why}`);
  const globalIteration = Number(md.global_iteration);
  if (!Number.isSafeInteger(globalIteration) || globalIteration < 0) throw corrupt(`metadata field 'global_iteration' is not a count (${String(md.global_iteration).slice(0, 40)})`);
  let lossTotals: unknown;
  try {
    lossTotals = JSON.parse(md.loss_totals ?? '[]');
  } catch {
    throw corrupt("metadata field 'loss_totals' is not JSON");
  }
  if (!Array.isArray(lossTotals) || !lossTotals.every(isLoss)) throw corrupt("metadata field 'loss_totals' is not a list of losses");
  let adam: AdamState | null = null;
  if (md.adam_step !== undefined) {
    const step = Number(md.adam_step);
    if (!Number.isSafeInteger(step) || step < 0) throw corrupt(`metadata field 'adam_step' is not a count (${md.adam_step.slice(0, 40)})`);
    adam = { step, m: new Map(), v: new Map() };
    for (const key of file.keys()) {
      const moment = key.startsWith(M_PREFIX) ? adam.m : key.startsWith(V_PREFIX) ? adam.v : null;
      if (!moment) continue;
      const param = key.slice(M_PREFIX.length); // both prefixes have the same length
      const w = weights.get(param);
      if (!w || !isTrainableKey(param)) throw corrupt(`Adam moment ${key} belongs to no trainable parameter of the base generator`);
      const e = file.entries.get(key)!;
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (n !== w.size) throw corrupt(`Adam moment ${key} has ${n} values, its parameter ${w.size}`);
      moment.set(param, (await file.readFloat32(key)).data);
    }
    const mk = [...adam.m.keys()].sort().join();
    if (mk !== [...adam.v.keys()].sort().join()) throw corrupt('the Adam first and second moments cover different parameters');
  }
  return { globalIteration, adam, lossTotals: (lossTotals as (number | null)[]).map((x) => (x === null ? NaN : x)) };
}

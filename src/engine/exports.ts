/**
 * Exports and imports of adapted weights: the .safetensors delta (Tri-D + G2 in official names and
 * PyTorch layouts), the full EG3D pickle with G_ema's Tri-D and G2 replaced, the import of a delta
 * made for the loaded base generator, and checkpoints (written, or read to resume a run). Failures
 * are classified by the caller (LocalEngine).
 */
import type * as tf from '@tensorflow/tfjs';
import { BlobByteSource, MemoryByteSource } from '../io/byte-source.ts';
import { tfToTorch } from '../eg3d/weights.ts';
import { writeEG3DPickleWithReplacedTensors } from '../eg3d/pickle-export.ts';
import { isTrainableKey, readAdaptedSafetensors, readCheckpoint, writeAdaptedSafetensors, writeCheckpoint, type ReadCheckpointResult } from '../adapter/export.ts';
import { AdaptedState } from './adapted.ts';
import type { LoadedGenerator } from './models.ts';
import { EngineError } from './types.ts';

function baseOf(gen: LoadedGenerator): { sha256: string; name: string; weights: ReadonlyMap<string, tf.Tensor> } {
  return { sha256: gen.info.sha256, name: gen.info.name, weights: gen.generator.weights };
}

export function exportSafetensors(adapted: AdaptedState): Uint8Array {
  return writeAdaptedSafetensors(adapted.weights, adapted.meta);
}

export async function exportPickle(gen: LoadedGenerator, adapted: AdaptedState): Promise<Uint8Array> {
  if (!gen.checkpoint) throw new EngineError('incompatible-file', 'a full pickle can only be exported when the base generator was loaded from an EG3D .pkl file (use the .safetensors export instead)');
  const replacements = new Map<string, Float32Array>();
  for (const [key, t] of adapted.weights) if (isTrainableKey(key)) replacements.set(key, tfToTorch(key, t).data);
  const blob = await writeEG3DPickleWithReplacedTensors(gen.checkpoint, replacements, { original: gen.original ?? undefined });
  return new Uint8Array(await blob.arrayBuffer());
}

/** Reads a delta exported for `gen` (refused with 'incompatible-file' when made for another base). */
export async function importAdapted(gen: LoadedGenerator, file: Blob): Promise<AdaptedState> {
  const name = (file as File).name ?? 'adapted weights';
  const result = await readAdaptedSafetensors(new BlobByteSource(file, name), baseOf(gen));
  return new AdaptedState(result.weights, result.metadata, []);
}

/** A checkpoint of weights outside a run (no optimiser state: a resumed run starts a fresh Adam). */
export function checkpointOf(adapted: AdaptedState): Uint8Array {
  return writeCheckpoint(adapted.weights, adapted.meta, { globalIteration: adapted.globalIteration, adam: null, lossTotals: adapted.lossTotals });
}

/** Reads a run checkpoint made for `gen`; the caller owns the returned weights. */
export async function readRunCheckpoint(gen: LoadedGenerator, bytes: Uint8Array): Promise<ReadCheckpointResult> {
  return readCheckpoint(new MemoryByteSource(bytes, 'checkpoint'), baseOf(gen));
}

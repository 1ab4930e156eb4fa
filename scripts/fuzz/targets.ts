/**
 * The fuzz targets: each fixture format, fed through the same readers the studio's engine uses
 * (src/engine: readEG3DPickle → parseEG3DConfig → loadWeights → EG3DGenerator.create; loadClipEncoder;
 * readAdaptedSafetensors; readCheckpoint). Every target frees what a successful load created.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs';
import { MemoryByteSource } from '../../src/io/byte-source.ts';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.ts';
import { readEG3DPickle } from '../../src/eg3d/checkpoint.ts';
import { parseEG3DConfig } from '../../src/eg3d/config.ts';
import { loadWeights } from '../../src/eg3d/weights.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { loadClipEncoder } from '../../src/clip/encoder.ts';
import { openClipTable } from '../../src/clip/load.ts';
import { readAdaptedSafetensors, readCheckpoint, writeAdaptedSafetensors, writeCheckpoint, isTrainableKey, type AdaptedMetadata } from '../../src/adapter/export.ts';
import { pickleFields, safetensorsFields, zipFields, type FieldMap } from './fields.ts';

export interface PreparedTarget {
  /** The pristine file. */
  bytes: Uint8Array;
  fields: FieldMap;
  safetensors: boolean;
  /** Only truncations (for the large fixture: every other mutation costs a full 30 MB load to learn little). */
  truncateOnly?: boolean;
  /** Loads `bytes` the way the studio does; resolves when the load succeeded (and frees the result). */
  run(bytes: Uint8Array): Promise<void>;
}

export interface FuzzTarget {
  name: string;
  /** The fixture files it needs (relative to the fixtures folder). */
  files: string[];
  prepare(dir: string): Promise<PreparedTarget>;
}

function fixture(dir: string, file: string): Uint8Array {
  const path = join(dir, file);
  if (!existsSync(path)) throw new Error(`fuzz: fixture ${path} is missing`);
  // A plain Uint8Array over its own buffer (a Node Buffer may be a view into a shared pool).
  return new Uint8Array(readFileSync(path));
}

/** The engine's generator load path (src/engine: loadGenerator for a file). */
async function loadGeneratorLikeEngine(bytes: Uint8Array, name: string): Promise<EG3DGenerator> {
  const ckpt = await readEG3DPickle(new MemoryByteSource(bytes, name));
  const config = parseEG3DConfig({ initKwargs: ckpt.initKwargs, renderingKwargs: ckpt.renderingKwargs, neuralRenderingResolution: ckpt.neuralRenderingResolution });
  const weights = await loadWeights(config, ckpt);
  return EG3DGenerator.create(config, weights);
}

function eg3dTarget(name: string, file: string, truncateOnly = false): FuzzTarget {
  return {
    name,
    files: [file],
    async prepare(dir) {
      const bytes = fixture(dir, file);
      return {
        bytes,
        fields: pickleFields(bytes),
        safetensors: false,
        truncateOnly,
        async run(b) {
          (await loadGeneratorLikeEngine(b, file)).dispose();
        },
      };
    },
  };
}

function clipTarget(name: string, file: string, make?: (pristine: Uint8Array) => Promise<Uint8Array>): FuzzTarget {
  return {
    name,
    files: [file],
    async prepare(dir) {
      const raw = fixture(dir, file);
      const bytes = make ? await make(raw) : raw;
      const zip = bytes[0] === 0x50 && bytes[1] === 0x4b;
      return {
        bytes,
        fields: zip ? zipFields(bytes) : safetensorsFields(bytes),
        safetensors: !zip,
        async run(b) {
          (await loadClipEncoder(new MemoryByteSource(b, file), { id: 'fuzz' })).dispose();
        },
      };
    },
  };
}

/** An open_clip-layout safetensors file (OpenAI state-dict names, `visual.*`) made from the HF fixture. */
async function openClipCopy(hf: Uint8Array): Promise<Uint8Array> {
  const table = await openClipTable(new MemoryByteSource(hf, 'clip-tiny.hf.safetensors'));
  const tensors = new Map<string, TensorToWrite>();
  for (const n of table.names()) tensors.set(n, { shape: table.shape(n)!, data: await table.read(n) });
  return writeSafetensors(tensors);
}

const BASE_NAME = 'eg3d-tiny.pkl';
const BASE_SHA = 'f'.repeat(64);

function metadata(): AdaptedMetadata {
  return {
    baseGeneratorSha256: BASE_SHA,
    baseGeneratorName: BASE_NAME,
    encoders: [{ id: 'clip', name: 'CLIP', sha256: 'a'.repeat(64) }],
    settings: { iterations: { triD: 3, g2: 2 } },
    seed: 7,
    iterations: { triD: 3, g2: 2 },
    lossHistory: [{ phase: 'tri-d', iterations: 3, first: 1, last: 0.5, min: 0.5, finalMean: 0.5 }],
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

/** The project's own files (adapted weights, run checkpoints), written from the tiny generator's weights. */
function projectTarget(name: 'adapted' | 'checkpoint'): FuzzTarget {
  return {
    name,
    files: [BASE_NAME],
    async prepare(dir) {
      const generator = await loadGeneratorLikeEngine(fixture(dir, BASE_NAME), BASE_NAME);
      const weights = generator.weights as ReadonlyMap<string, tfTypes.Tensor>;
      let bytes: Uint8Array;
      if (name === 'adapted') bytes = writeAdaptedSafetensors(weights, metadata());
      else {
        const m = new Map<string, Float32Array>();
        const v = new Map<string, Float32Array>();
        for (const [k, t] of weights) {
          if (!isTrainableKey(k)) continue;
          m.set(k, new Float32Array(t.size).fill(0.01));
          v.set(k, new Float32Array(t.size).fill(0.001));
        }
        bytes = writeCheckpoint(weights, metadata(), { globalIteration: 4, adam: { step: 2, m, v }, lossTotals: [1, 0.8, 0.6, 0.5] });
      }
      const base = { sha256: BASE_SHA, name: BASE_NAME, weights };
      return {
        bytes,
        fields: safetensorsFields(bytes),
        safetensors: true,
        async run(b) {
          const src = new MemoryByteSource(b, `${name}.safetensors`);
          const r = name === 'adapted' ? await readAdaptedSafetensors(src, base) : await readCheckpoint(src, base);
          for (const t of r.weights.values()) t.dispose();
        },
      };
    },
  };
}

/** Every format the studio reads. `eg3d-ffhqlike` (30 MB) is only used for truncations, see runner. */
export const TARGETS: FuzzTarget[] = [
  eg3dTarget('eg3d-pkl', 'eg3d-tiny.pkl'),
  clipTarget('clip-pt', 'clip-tiny.pt'),
  clipTarget('clip-hf', 'clip-tiny.hf.safetensors'),
  clipTarget('clip-openclip', 'clip-tiny.hf.safetensors', openClipCopy),
  projectTarget('adapted'),
  projectTarget('checkpoint'),
];

/** The large EG3D fixture: loaded truncated only (a handful of cases per run). */
export const LARGE_TARGET: FuzzTarget = eg3dTarget('eg3d-pkl-large', 'eg3d-ffhqlike.pkl', true);


/**
 * The engine's adapted weights, whether they come from a run (the trainer's variables, updated in
 * place) or from an imported file, with their metadata, per-iteration loss totals and the last
 * consistent checkpoint of them.
 */
import type * as tf from '@tensorflow/tfjs';
import type { MethodOptions } from '../adapter/options.ts';
import type { TrainPhase } from '../adapter/trainer.ts';
import type { AdaptedMetadata, LossSummary } from '../adapter/export.ts';
import type { LoadedEncoder, LoadedGenerator } from './models.ts';
import type { AdaptSettings } from './types.ts';

export class AdaptedState {
  /** The last consistent checkpoint of these weights (a run's, or one taken after an import). */
  lastCheckpoint: Uint8Array | null = null;

  constructor(
    /** tfjs-layout Tri-D + G2 tensors keyed by official names (the trainer's variables during a run). */
    readonly weights: Map<string, tf.Tensor>,
    public meta: AdaptedMetadata,
    public lossTotals: number[],
  ) {}

  /** Iterations completed over both steps. */
  get globalIteration(): number {
    return this.meta.iterations.triD + this.meta.iterations.g2;
  }

  dispose(): void {
    for (const t of this.weights.values()) t.dispose();
    this.lastCheckpoint = null;
  }
}

/** Per-step loss summary (first, last, min and the mean of the last tenth) for the file metadata. */
function summarizeLosses(totals: number[], iterations: [number, number]): LossSummary[] {
  const out: LossSummary[] = [];
  const phases: [TrainPhase, number, number][] = [
    ['tri-d', 0, Math.min(iterations[0], totals.length)],
    ['g2', iterations[0], totals.length],
  ];
  for (const [phase, from, to] of phases) {
    if (to <= from) continue;
    const xs = totals.slice(from, to);
    const tail = xs.slice(Math.max(0, xs.length - Math.max(1, Math.round(xs.length / 10))));
    out.push({ phase, iterations: xs.length, first: xs[0], last: xs[xs.length - 1], min: Math.min(...xs), finalMean: tail.reduce((a, b) => a + b, 0) / tail.length });
  }
  return out;
}

/** The metadata written with a run's weights after `globalIteration` iterations. */
export function runMetadata(
  gen: LoadedGenerator,
  encoders: LoadedEncoder[],
  settings: AdaptSettings,
  options: MethodOptions,
  globalIteration: number,
  lossTotals: number[],
): AdaptedMetadata {
  return {
    baseGeneratorSha256: gen.info.sha256,
    baseGeneratorName: gen.info.name,
    encoders: encoders.map((e) => ({ id: e.info.id, name: e.info.name, sha256: e.info.sha256 })),
    settings: { ...settings, options: { ...options } },
    seed: settings.seed,
    iterations: { triD: Math.min(globalIteration, settings.iterations[0]), g2: Math.max(0, globalIteration - settings.iterations[0]) },
    lossHistory: summarizeLosses(lossTotals, settings.iterations),
    createdAt: new Date().toISOString(),
    ...(settings.text ? { prompt: settings.text.prompt, sourcePrompt: settings.text.sourcePrompt } : {}),
  };
}

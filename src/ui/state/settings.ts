/**
 * Adaptation settings as the studio edits them: the defaults and presets (written once, in
 * src/engine/defaults.ts, shared with the CLI), and validation that turns user input into a
 * well-formed AdaptSettings (out-of-range values throw SettingsError, kind 'bad-settings').
 */
import { SettingsError } from '../../core/errors.ts';
import { defaultAdaptSettings, PRESETS } from '../../engine/defaults.ts';
import type { AdaptSettings, LossWeights } from '../../engine/types.ts';

export { PRESETS, SettingsError };

/** The Balanced preset (src/engine/defaults.ts): 20 + 5 iterations, batch 1, lr 0.02 (docs/method.md, "Experiments"). */
export function defaultSettings(): AdaptSettings {
  return defaultAdaptSettings();
}

function intIn(name: string, v: number, lo: number, hi: number): number {
  if (!Number.isFinite(v) || Math.round(v) !== v || v < lo || v > hi) {
    throw new SettingsError(`${name} must be a whole number between ${lo} and ${hi} (got ${v})`);
  }
  return v;
}

function numIn(name: string, v: number, lo: number, hi: number, openLow = false): number {
  if (!Number.isFinite(v) || v > hi || (openLow ? v <= lo : v < lo)) {
    throw new SettingsError(`${name} must be ${openLow ? 'greater than' : 'at least'} ${lo} and at most ${hi} (got ${v})`);
  }
  return v;
}

/** Checks every field; throws SettingsError naming the first bad one. Returns a normalised copy. */
export function validateSettings(s: AdaptSettings): AdaptSettings {
  const it: [number, number] = [
    intIn('Tri-D iterations', s.iterations[0], 0, 100_000),
    intIn('G2 iterations', s.iterations[1], 0, 100_000),
  ];
  if (it[0] + it[1] === 0) throw new SettingsError('at least one step needs iterations');
  const w = s.lossWeights;
  const lossWeights: LossWeights = {
    dir: numIn('L_dir weight', w.dir, 0, 1000),
    dis: numIn('L_dis weight', w.dis, 0, 1000),
    imageStructure: numIn('L_I-str weight', w.imageStructure, 0, 1000),
    featureStructure: numIn('L_F-str weight', w.featureStructure, 0, 1000),
  };
  if (lossWeights.dir + lossWeights.dis === 0) {
    throw new SettingsError('L_dir and L_dis are both 0: nothing would pull the generator toward the reference');
  }
  return {
    ...s,
    iterations: it,
    batchSize: intIn('batch size', s.batchSize, 1, 16),
    learningRate: numIn('learning rate', s.learningRate, 0, 1, true),
    betas: [numIn('β1', s.betas[0], 0, 0.9999), numIn('β2', s.betas[1], 0, 0.99999)],
    lossWeights,
    encoders: [...s.encoders],
    seed: intIn('seed', s.seed, 0, 2 ** 31 - 1),
    truncationPsi: numIn('truncation ψ', s.truncationPsi, 0, 1, true),
    meanEmbeddingSamples: intIn('mean-embedding samples', s.meanEmbeddingSamples, 1, 10_000),
    previewEvery: intIn('preview interval', s.previewEvery, 1, 10_000),
    options: { ...s.options },
  };
}

/** Restores persisted settings on top of the defaults so fields added later get default values. */
export function mergeSettings(saved: unknown): AdaptSettings {
  const base = defaultSettings();
  if (!saved || typeof saved !== 'object') return base;
  const s = saved as Partial<AdaptSettings>;
  const merged: AdaptSettings = {
    ...base,
    ...s,
    lossWeights: { ...base.lossWeights, ...(s.lossWeights ?? {}) },
    options: { ...base.options, ...(s.options ?? {}) },
  } as AdaptSettings;
  try {
    return validateSettings(merged);
  } catch {
    return base;
  }
}

export function presetMatching(s: AdaptSettings): string | null {
  const key = (x: AdaptSettings) =>
    JSON.stringify([x.iterations, x.batchSize, x.lossWeights, x.meanEmbeddingSamples, x.previewEvery]);
  const k = key(s);
  for (const p of PRESETS) if (key(p.apply(s)) === k) return p.id;
  return null;
}

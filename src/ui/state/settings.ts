/**
 * Adaptation settings as the studio edits them: defaults (spec Part C.4.4/C.6 proposals), presets with
 * known-good iteration counts, and validation that turns user input into a well-formed AdaptSettings.
 */
import type { AdaptSettings, LossWeights } from '../../engine/types.ts';

export const DEFAULT_LOSS_WEIGHTS: LossWeights = { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 };

/** DiFa optimiser settings (lr 0.002·0.8, betas (0, 0.99^0.8)), batch 2, 150 + 150 iterations. */
export function defaultSettings(): AdaptSettings {
  return {
    iterations: [150, 150],
    batchSize: 2,
    learningRate: 0.0016,
    betas: [0, 0.992],
    lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
    encoders: [],
    seed: 1,
    truncationPsi: 1,
    meanEmbeddingSamples: 64,
    previewEvery: 10,
    options: {},
  };
}

/** A preset sets every field presetMatching compares, so exactly one preset matches its own output. */
export interface Preset {
  id: string;
  label: string;
  description: string;
  apply(s: AdaptSettings): AdaptSettings;
}

export const PRESETS: Preset[] = [
  {
    id: 'quick',
    label: 'Quick look',
    description: '20 + 10 iterations, batch 1: a first impression in a few minutes on slow devices.',
    apply: (s) => ({
      ...s,
      iterations: [20, 10],
      batchSize: 1,
      lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
      meanEmbeddingSamples: 16,
      previewEvery: 5,
    }),
  },
  {
    id: 'balanced',
    label: 'Balanced',
    description: '150 + 150 iterations, batch 2 (DiFa-like budget, the proposed default).',
    apply: (s) => ({
      ...s,
      iterations: [150, 150],
      batchSize: 2,
      lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
      meanEmbeddingSamples: 64,
      previewEvery: 10,
    }),
  },
  {
    id: 'strong-style',
    label: 'Strong style',
    description: 'Weaker structure terms and more G2 iterations: bolder texture, less identity preservation.',
    apply: (s) => ({
      ...s,
      iterations: [150, 250],
      batchSize: 2,
      lossWeights: { dir: 1, dis: 1.5, imageStructure: 0.5, featureStructure: 5 },
      meanEmbeddingSamples: 64,
      previewEvery: 10,
    }),
  },
  {
    id: 'keep-identity',
    label: 'Keep identity',
    description: 'Stronger structure terms: the faces keep their layout, the style is applied more lightly.',
    apply: (s) => ({
      ...s,
      iterations: [150, 150],
      batchSize: 2,
      lossWeights: { dir: 1, dis: 0.75, imageStructure: 2, featureStructure: 20 },
      meanEmbeddingSamples: 64,
      previewEvery: 10,
    }),
  },
];

export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
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

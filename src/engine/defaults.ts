/**
 * The one place the adaptation's defaults are written: DiFa's optimiser, the loss weights, the
 * presets (iteration budgets, batch, loss weights, μ_s samples) and the default AdaptSettings
 * (= the Balanced preset). The studio (src/ui/state/settings.ts) and the CLI (`npm run cli -- adapt
 * --preset …`) both start from here, so the same preset and seed give the same run. docs/method.md
 * explains the values.
 */
import type { AdaptSettings, LossWeights } from './types.ts';

/** DiFa's Adam (spec C.6): lr 0.002·0.8 = 0.0016, betas (0, 0.99^0.8 ≈ 0.992); eps is the method option `adamEpsilon` (1e-8). */
export const DIFA_OPTIMISER: Readonly<{ learningRate: number; betas: readonly [number, number] }> = {
  learningRate: 0.0016,
  betas: [0, 0.992],
};

/**
 * The presets' learning rate (both steps; G2's is × the method option `g2LrScale`, 0.25). DiFa's 0.0016
 * is tuned for ~300 iterations; the presets run 6–30, and with Adam each step moves a weight by about
 * the lr, so the rate is raised to keep a comparable total displacement (docs/method.md, "Experiments":
 * at 0.0016 a 15-iteration run changed the embedded demo's renders by 0.5/255 on average).
 */
export const PRESET_LEARNING_RATE = 0.02;

/** L_dir, L_dis, L_I-str, L_F-str weights of the proposed default (spec C.4.4). */
export const DEFAULT_LOSS_WEIGHTS: Readonly<LossWeights> = { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 };

/** The training seed when none is given (studio and CLI). */
export const DEFAULT_SEED = 1;

export type PresetId = 'quick' | 'balanced' | 'strong-style' | 'keep-identity';
export const PRESET_IDS: readonly PresetId[] = ['quick', 'balanced', 'strong-style', 'keep-identity'];
export const DEFAULT_PRESET: PresetId = 'balanced';

/** A preset sets every field the studio's preset matching compares, so exactly one preset matches its own output. */
export interface Preset {
  id: PresetId;
  label: string;
  description: string;
  apply(s: AdaptSettings): AdaptSettings;
}

export const PRESETS: readonly Preset[] = [
  {
    id: 'quick',
    label: 'Quick look',
    description: '6 Tri-D iterations, batch 1: a first visible change in about two minutes on a 2-core CPU with the demo generator.',
    apply: (s) => ({
      ...s,
      iterations: [6, 0],
      learningRate: PRESET_LEARNING_RATE,
      batchSize: 1,
      lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
      meanEmbeddingSamples: 512,
      previewEvery: 3,
    }),
  },
  {
    id: 'balanced',
    label: 'Balanced',
    description: '20 + 5 iterations, batch 1: the measured default (docs/method.md, "Experiments" and "Twenty Tri-D iterations").',
    apply: (s) => ({
      ...s,
      iterations: [20, 5],
      batchSize: 1,
      learningRate: PRESET_LEARNING_RATE,
      lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
      meanEmbeddingSamples: 512,
      previewEvery: 5,
    }),
  },
  {
    id: 'strong-style',
    label: 'Strong style',
    description: 'Weaker structure terms and more G2 iterations: bolder texture, less identity preservation.',
    apply: (s) => ({
      ...s,
      iterations: [20, 10],
      batchSize: 1,
      learningRate: PRESET_LEARNING_RATE,
      lossWeights: { dir: 1, dis: 1.5, imageStructure: 0.5, featureStructure: 5 },
      meanEmbeddingSamples: 512,
      previewEvery: 5,
    }),
  },
  {
    id: 'keep-identity',
    label: 'Keep identity',
    description: 'Stronger structure terms: the faces keep their layout, the style is applied more lightly.',
    apply: (s) => ({
      ...s,
      iterations: [15, 5],
      batchSize: 1,
      learningRate: PRESET_LEARNING_RATE,
      lossWeights: { dir: 1, dis: 0.75, imageStructure: 2, featureStructure: 20 },
      meanEmbeddingSamples: 512,
      previewEvery: 5,
    }),
  },
];

export function presetById(id: string): Preset | undefined {
  return PRESETS.find((p) => p.id === id);
}

/** The settings of a preset (default: Balanced) with DiFa's optimiser, all loaded encoders, ψ = 1 and the default seed. */
export function defaultAdaptSettings(preset: PresetId = DEFAULT_PRESET): AdaptSettings {
  const base: AdaptSettings = {
    iterations: [0, 0],
    batchSize: 1,
    learningRate: DIFA_OPTIMISER.learningRate,
    betas: [DIFA_OPTIMISER.betas[0], DIFA_OPTIMISER.betas[1]],
    lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
    encoders: [],
    seed: DEFAULT_SEED,
    truncationPsi: 1,
    meanEmbeddingSamples: 512,
    previewEvery: 1,
    options: {},
  };
  return presetById(preset)!.apply(base);
}

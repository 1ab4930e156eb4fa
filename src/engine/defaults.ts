/**
 * Recommended AdaptSettings (see docs/method.md). Full-size generators with CLIP get the spec's
 * proposal (DiFa budget 150 + 150, batch 2); the embedded demo generator gets a small budget that
 * finishes in minutes on CPU backends.
 */
import type { AdaptSettings } from './types.ts';

export type SettingsProfile = 'clip' | 'embedded-demo';

export function defaultAdaptSettings(profile: SettingsProfile = 'clip'): AdaptSettings {
  const common = {
    learningRate: 0.0016,
    betas: [0, 0.992] as [number, number],
    lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
    encoders: [],
    seed: 0,
    truncationPsi: 1,
    options: {},
  };
  if (profile === 'embedded-demo') {
    return { ...common, iterations: [30, 20], batchSize: 1, meanEmbeddingSamples: 16, previewEvery: 5 };
  }
  return { ...common, iterations: [150, 150], batchSize: 2, meanEmbeddingSamples: 64, previewEvery: 10 };
}

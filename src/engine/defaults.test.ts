import { describe, expect, it } from 'vitest';
import { DEFAULT_PRESET, DIFA_OPTIMISER, PRESETS, PRESET_IDS, defaultAdaptSettings, presetById } from './defaults.ts';

describe('adaptation defaults', () => {
  it('default = Balanced with DiFa’s optimiser (lr 0.002·0.8, β2 = 0.99^0.8)', () => {
    expect(DIFA_OPTIMISER.learningRate).toBeCloseTo(0.002 * 0.8, 12);
    expect(DIFA_OPTIMISER.betas[1]).toBeCloseTo(Math.pow(0.99, 0.8), 3);
    expect(DEFAULT_PRESET).toBe('balanced');
    expect(defaultAdaptSettings()).toEqual({
      iterations: [20, 5],
      batchSize: 1,
      learningRate: 0.02,
      betas: [0, 0.992],
      lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
      encoders: [],
      seed: 1,
      truncationPsi: 1,
      meanEmbeddingSamples: 512,
      previewEvery: 5,
      options: {},
    });
  });

  it('every preset id resolves, and a preset changes only its own fields', () => {
    expect(PRESETS.map((p) => p.id)).toEqual([...PRESET_IDS]);
    const base = defaultAdaptSettings();
    for (const id of PRESET_IDS) {
      const s = defaultAdaptSettings(id);
      expect(presetById(id)!.apply(base)).toEqual(s);
      expect({ ...s, iterations: 0, batchSize: 0, lossWeights: 0, meanEmbeddingSamples: 0, previewEvery: 0 }).toEqual({
        ...base,
        iterations: 0,
        batchSize: 0,
        lossWeights: 0,
        meanEmbeddingSamples: 0,
        previewEvery: 0,
      });
    }
    expect(defaultAdaptSettings('quick').iterations).toEqual([6, 0]);
    expect(presetById('nope')).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { AppError } from '../../core/errors.ts';
import * as shared from '../../engine/defaults.ts';
import { defaultSettings, mergeSettings, PRESETS, presetMatching, SettingsError, validateSettings } from './settings.ts';

describe('settings', () => {
  it('are the shared defaults and presets the CLI uses (src/engine/defaults.ts)', () => {
    expect(PRESETS).toBe(shared.PRESETS);
    expect(defaultSettings()).toEqual(shared.defaultAdaptSettings());
    expect(defaultSettings()).not.toBe(defaultSettings()); // a fresh copy each time
    expect(() => validateSettings({ ...defaultSettings(), batchSize: 0 })).toThrow(expect.objectContaining({ kind: 'bad-settings' }));
    expect(new SettingsError('x')).toBeInstanceOf(AppError);
  });

  it('defaults are valid and match the balanced preset', () => {
    const s = defaultSettings();
    expect(validateSettings(s)).toEqual(s);
    expect(presetMatching(s)).toBe('balanced');
  });

  it('every preset produces valid settings that it recognises', () => {
    for (const p of PRESETS) {
      const s = p.apply(defaultSettings());
      expect(() => validateSettings(s)).not.toThrow();
      expect(presetMatching(s)).toBe(p.id);
    }
  });

  it('custom iteration counts are not a preset', () => {
    expect(presetMatching({ ...defaultSettings(), iterations: [3, 2] })).toBeNull();
  });

  it.each([
    [{ iterations: [1.5, 2] as [number, number] }, /Tri-D iterations/],
    [{ iterations: [0, 0] as [number, number] }, /at least one step/],
    [{ batchSize: 0 }, /batch size/],
    [{ learningRate: 0 }, /learning rate/],
    [{ learningRate: NaN }, /learning rate/],
    [{ seed: -1 }, /seed/],
    [{ truncationPsi: 0 }, /truncation/],
    [{ lossWeights: { dir: 0, dis: 0, imageStructure: 1, featureStructure: 1 } }, /nothing would pull/],
    [{ lossWeights: { dir: 1, dis: -1, imageStructure: 1, featureStructure: 1 } }, /L_dis weight/],
  ])('rejects %j', (patch, msg) => {
    expect(() => validateSettings({ ...defaultSettings(), ...patch })).toThrow(SettingsError);
    expect(() => validateSettings({ ...defaultSettings(), ...patch })).toThrow(msg);
  });

  it('merges saved settings over defaults and falls back on invalid ones', () => {
    const merged = mergeSettings({ iterations: [5, 6], lossWeights: { dir: 2 } });
    expect(merged.iterations).toEqual([5, 6]);
    expect(merged.lossWeights).toEqual({ dir: 2, dis: 1, imageStructure: 1, featureStructure: 10 });
    expect(mergeSettings({ batchSize: -3 })).toEqual(defaultSettings());
    expect(mergeSettings('garbage')).toEqual(defaultSettings());
  });
});

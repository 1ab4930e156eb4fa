import { describe, expect, it } from 'vitest';
import { encode } from 'fast-png';
import { SettingsError } from '../../src/core/errors.ts';
// The studio's defaults and preset chips are these (src/ui/state/settings.ts re-exports them; its test checks).
import { PRESETS, defaultAdaptSettings as defaultSettings } from '../../src/engine/defaults.ts';
import { parseAdaptArgs, settingsFromArgs, tile } from './adapt.ts';
import { centreCrop, decodeImage } from '../reference-image.ts';

const required = ['--reference', 'r.png', '--out', 'o.safetensors'];

describe('adapt CLI helpers', () => {
  it('parses arguments with defaults and method options', () => {
    const a = parseAdaptArgs(['--generator', 'g.pkl', '--clip', 'a.pt', '--clip', 'b.pt', '--reference', 'r.png', '--out', 'x.safetensors', '--steps', '10,5', '--seed', '3', '--option', 'imageStructure=feature-selfsim', '--option', 'yawStd=0.2']);
    expect(a.clips).toEqual(['a.pt', 'b.pt']);
    expect(a.defaultEncoder).toBe(false);
    expect(a.overrides).toEqual({ iterations: [10, 5], seed: 3 });
    expect(a.preset).toBe('balanced');
    expect(a.options).toEqual({ imageStructure: 'feature-selfsim', yawStd: 0.2 });
    expect(a.grid).toBe('x.grid.png');
    expect(parseAdaptArgs(['--generator', 'embedded', '--reference', 'r.png', '--out', 'o.safetensors']).defaultEncoder).toBe(true);
    expect(() => parseAdaptArgs(['--generator', 'g.pkl'])).toThrow(/required/);
    expect(() => parseAdaptArgs(['--generator', 'g', '--reference', 'r', '--out', 'o', '--steps', '10'])).toThrow(/2 comma-separated/);
    expect(() => parseAdaptArgs([...required, '--batch', 'two'])).toThrow(SettingsError);
  });

  it('without --preset runs the studio defaults (Balanced) with the studio seed', () => {
    const s = settingsFromArgs(parseAdaptArgs(required), ['enc']);
    expect(s).toEqual({ ...defaultSettings(), encoders: ['enc'] });
  });

  it('--preset gives exactly the studio preset; explicit flags override it, in any order', () => {
    for (const p of PRESETS) {
      const cli = settingsFromArgs(parseAdaptArgs([...required, '--preset', p.id, '--seed', '7']), []);
      // The studio: apply the preset chip to its defaults, set the seed.
      const studio = { ...p.apply(defaultSettings()), seed: 7 };
      expect(cli, p.id).toEqual(studio);
    }
    const quick = PRESETS.find((p) => p.id === 'quick')!.apply(defaultSettings());
    const over = settingsFromArgs(
      parseAdaptArgs(['--steps', '3,2', ...required, '--preset', 'quick', '--weights', '1,2,3,4', '--batch', '2', '--lr', '0.001', '--psi', '0.7', '--mean-samples', '5', '--option', 'yawStd=0.2']),
      ['a', 'b'],
    );
    expect(over).toEqual({
      ...quick,
      iterations: [3, 2],
      batchSize: 2,
      learningRate: 0.001,
      truncationPsi: 0.7,
      meanEmbeddingSamples: 5,
      lossWeights: { dir: 1, dis: 2, imageStructure: 3, featureStructure: 4 },
      encoders: ['a', 'b'],
      options: { yawStd: 0.2 },
    });
    // what a flag does not name stays the preset's
    expect(over.previewEvery).toBe(quick.previewEvery);
    expect(over.betas).toEqual(quick.betas);
    expect(() => parseAdaptArgs([...required, '--preset', 'fast'])).toThrow(/--preset must be one of quick, balanced, strong-style, keep-identity/);
  });

  it('decodes PNG (RGB and grey) to RGBA, crops the centre square and tiles', () => {
    const rgb = encode({ width: 3, height: 2, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]), channels: 3, depth: 8 });
    const img = decodeImage(rgb, 'x.png');
    expect([img.width, img.height]).toEqual([3, 2]);
    expect(Array.from(img.data.slice(0, 8))).toEqual([1, 2, 3, 255, 4, 5, 6, 255]);
    const grey = decodeImage(encode({ width: 1, height: 1, data: new Uint8Array([77]), channels: 1, depth: 8 }), 'g.png');
    expect(Array.from(grey.data)).toEqual([77, 77, 77, 255]);
    const sq = centreCrop(img);
    expect([sq.width, sq.height]).toEqual([2, 2]);
    expect(Array.from(sq.data.slice(0, 4))).toEqual([1, 2, 3, 255]);
    const t = tile([sq, sq, sq], 2);
    expect([t.width, t.height]).toEqual([4, 4]);
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'bad.bin')).toThrow(/not a PNG or JPEG/);
    expect(() => decodeImage(new Uint8Array([1, 2, 3, 4]), 'bad.bin')).toThrow(expect.objectContaining({ kind: 'bad-reference' }));
  });
});

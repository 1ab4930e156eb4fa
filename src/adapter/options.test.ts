import { describe, expect, it } from 'vitest';
import { DEFAULT_METHOD_OPTIONS, METHOD_OPTION_DESCRIPTIONS, MethodOptionError, parseMethodOptions } from './options.ts';

describe('method options', () => {
  it('defaults to the documented choices', () => {
    expect(parseMethodOptions({})).toEqual(DEFAULT_METHOD_OPTIONS);
    expect(DEFAULT_METHOD_OPTIONS.step1Output).toBe('sr');
    expect(DEFAULT_METHOD_OPTIONS.imageStructure).toBe('lowres-l1');
    expect(DEFAULT_METHOD_OPTIONS.featureStructure).toBe('selfsim-mse');
    // chosen by the experiments of docs/method.md (embedded path): floor on, hypercolumn + colour L_dis
    expect(DEFAULT_METHOD_OPTIONS).toMatchObject({ directionFloor: 0.1, disTokens: 'hypercolumn', hypercolumnBlocks: [], disColourWeight: 5, disColourMomentWeight: 0, disColourSlicedWeight: 10, disColourRegion: 'face-box', disFeatureWeight: 1, g2LrScale: 0.25, encoderDirectionWeight: -1 });
    // every option has a description (the CLI and UI list them)
    expect(METHOD_OPTION_DESCRIPTIONS.map((d) => d.name).sort()).toEqual(Object.keys(DEFAULT_METHOD_OPTIONS).sort());
  });

  it('accepts valid values (numbers also as strings) and refuses unknown or invalid ones', () => {
    const o = parseMethodOptions({ imageStructure: 'feature-selfsim', yawStd: '0.5', tokenBlock: 4 });
    expect(o.imageStructure).toBe('feature-selfsim');
    expect(o.yawStd).toBe(0.5);
    expect(o.tokenBlock).toBe(4);
    expect(() => parseMethodOptions({ imageStructur: 'lowres-l1' })).toThrow(MethodOptionError);
    expect(() => parseMethodOptions({ imageStructure: 'pixels' })).toThrow(/one of lowres-l1, lowres-l1-standardized, feature-selfsim/);
    expect(() => parseMethodOptions({ tokenBlock: 1.5 })).toThrow(/whole number/);
    expect(() => parseMethodOptions({ yawStd: -1 })).toThrow(/\[0, 3\]/);
  });

  it('parses list options (comma-separated whole numbers; empty = encoder default) and refuses bad ones', () => {
    expect(parseMethodOptions({ hypercolumnBlocks: '2, 5,9,12' }).hypercolumnBlocks).toEqual([2, 5, 9, 12]);
    expect(parseMethodOptions({ hypercolumnBlocks: '' }).hypercolumnBlocks).toEqual([]);
    expect(parseMethodOptions({ hypercolumnBlocks: 7 }).hypercolumnBlocks).toEqual([7]);
    expect(() => parseMethodOptions({ hypercolumnBlocks: '2,,5' })).toThrow(MethodOptionError);
    expect(() => parseMethodOptions({ hypercolumnBlocks: '2,x' })).toThrow(/comma-separated whole numbers/);
    expect(() => parseMethodOptions({ hypercolumnBlocks: '1.5' })).toThrow(MethodOptionError);
    expect(() => parseMethodOptions({ hypercolumnBlocks: '64' })).toThrow(/\[0, 63\]/);
    expect(() => parseMethodOptions({ hypercolumnBlocks: true })).toThrow(MethodOptionError);
    const o = parseMethodOptions({ disTokens: 'hypercolumn', disColourWeight: '2', triDLrScale: 10 });
    expect(o).toMatchObject({ disTokens: 'hypercolumn', disColourWeight: 2, triDLrScale: 10 });
    expect(() => parseMethodOptions({ disTokens: 'pixels' })).toThrow(/block, hypercolumn/);
    expect(() => parseMethodOptions({ triDLrScale: 0 })).toThrow(MethodOptionError);
  });
});

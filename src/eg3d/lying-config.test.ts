/**
 * Lying EG3D configurations (found while hardening the loaders against fuzzed pickles): values that
 * contain themselves, prototype keys, and sizes no real network has end in typed errors before any
 * allocation or loop depends on them.
 */
import { describe, expect, it } from 'vitest';
import { toPlain } from './checkpoint.ts';
import { FFHQ512_128_INIT_KWARGS, parseEG3DConfig, UnsupportedArchitectureError } from './config.ts';

describe('lying EG3D configurations end in typed errors', () => {
  it('EG3D configuration: self-containing values and absurd sizes', () => {
    const d = new Map<unknown, unknown>();
    d.set('self', d);
    expect(() => toPlain(d)).toThrow(/contains itself/);
    const proto = toPlain(new Map([['__proto__', new Map([['polluted', 1]])]])) as Record<string, unknown>;
    expect(Object.getPrototypeOf(proto)).toBe(Object.prototype);
    expect(Object.keys(proto)).toEqual(['__proto__']);
    const kw = (patch: Record<string, unknown>) => ({ initKwargs: { ...FFHQ512_128_INIT_KWARGS, ...patch } as Record<string, unknown>, neuralRenderingResolution: 128 });
    expect(() => parseEG3DConfig(kw({ mapping_kwargs: { num_layers: 1e9 } }))).toThrow(UnsupportedArchitectureError);
    expect(() => parseEG3DConfig(kw({ z_dim: 512.5 }))).toThrow(/z_dim = 512.5 is not a whole number/);
    expect(() => parseEG3DConfig(kw({ channel_max: -1 }))).toThrow(UnsupportedArchitectureError);
    expect(() => parseEG3DConfig({ ...kw({}), neuralRenderingResolution: 1 << 20 })).toThrow(UnsupportedArchitectureError);
  });
});

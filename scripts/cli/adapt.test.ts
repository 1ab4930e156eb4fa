import { describe, expect, it } from 'vitest';
import { encode } from 'fast-png';
import { centreCrop, decodeImage, parseAdaptArgs, tile } from './adapt.ts';

describe('adapt CLI helpers', () => {
  it('parses arguments with defaults and method options', () => {
    const a = parseAdaptArgs(['--generator', 'g.pkl', '--clip', 'a.pt', '--clip', 'b.pt', '--reference', 'r.png', '--out', 'x.safetensors', '--steps', '10,5', '--seed', '3', '--option', 'imageStructure=feature-selfsim', '--option', 'yawStd=0.2']);
    expect(a.clips).toEqual(['a.pt', 'b.pt']);
    expect(a.defaultEncoder).toBe(false);
    expect(a.steps).toEqual([10, 5]);
    expect(a.seed).toBe(3);
    expect(a.options).toEqual({ imageStructure: 'feature-selfsim', yawStd: 0.2 });
    expect(a.grid).toBe('x.grid.png');
    expect(parseAdaptArgs(['--generator', 'embedded', '--reference', 'r.png', '--out', 'o.safetensors']).defaultEncoder).toBe(true);
    expect(() => parseAdaptArgs(['--generator', 'g.pkl'])).toThrow(/required/);
    expect(() => parseAdaptArgs(['--generator', 'g', '--reference', 'r', '--out', 'o', '--steps', '10'])).toThrow(/2 comma-separated/);
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
  });
});

import { describe, expect, it } from 'vitest';
import { drawExampleReference, readReferenceImage, referenceName } from './reference-image.ts';
import { EXAMPLES } from '../src/ui/examples/index.ts';

const REFS = '../shared/references';

describe('reference images of the Node tools', () => {
  it('draws every built-in example with the studio drawing code (not blank, deterministic)', () => {
    for (const ex of EXAMPLES) {
      const a = drawExampleReference(ex.id, 128);
      expect([a.width, a.height, a.data.length]).toEqual([128, 128, 128 * 128 * 4]);
      // Many distinct colours (strokes, shading) and opaque.
      const colours = new Set<number>();
      for (let i = 0; i < a.data.length; i += 4) colours.add((a.data[i] << 16) | (a.data[i + 1] << 8) | a.data[i + 2]);
      expect(colours.size).toBeGreaterThan(20);
      for (let i = 3; i < a.data.length; i += 4 * 97) expect(a.data[i]).toBe(255);
      expect(Array.from(drawExampleReference(ex.id, 128).data)).toEqual(Array.from(a.data));
    }
    expect(EXAMPLES.map((e) => e.id)).toEqual(['sketch', 'cartoon']);
  });

  it('reads example:<id> and files (centre-cropped square); names them for tables', () => {
    const s = readReferenceImage('example:cartoon');
    expect([s.width, s.height]).toEqual([512, 512]);
    const f = readReferenceImage(`${REFS}/obama-portrait.jpg`);
    expect(f.width).toBe(f.height);
    expect(referenceName('example:sketch')).toBe('sketch');
    expect(referenceName(`${REFS}/obama-portrait.jpg`)).toBe('obama-portrait');
    expect(() => readReferenceImage('example:watercolour')).toThrow(/unknown example reference "watercolour".*example:sketch/);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { centreCrop, cropSquare, decodeImage, drawExampleReference, parseCropMode, prepareReference, referenceName, type FaceLocator } from './reference-image.ts';
import { EXAMPLES } from '../src/ui/examples/index.ts';
import { initNodeBackend } from '../src/platform/node-backend.ts';
import { createNodeFaceEmbedder } from '../src/testing/face-api.ts';
import { ffhqAlignment } from '../src/evaluate/face-align.ts';
import type { FaceApiEmbedder } from '../src/evaluate/face-identity.ts';

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

  it('reads example:<id> and files (centred square without a face locator); names them for tables', async () => {
    const s = await prepareReference('example:cartoon', 'face', null);
    expect([s.image.width, s.image.height]).toEqual([512, 512]);
    const f = await prepareReference(`${REFS}/obama-portrait.jpg`, 'face', null);
    expect(f.image.width).toBe(f.image.height);
    expect(f.how).toBe('centred crop');
    expect(referenceName('example:sketch')).toBe('sketch');
    expect(referenceName(`${REFS}/obama-portrait.jpg`)).toBe('obama-portrait');
    await expect(prepareReference('example:watercolour', 'face', null)).rejects.toThrow(/unknown example reference "watercolour".*example:sketch/);
    expect(() => parseCropMode('middle')).toThrow('--crop must be face or centre (got middle)');
  });

  it('an unturned crop at its own size copies the pixels; a turned one keeps the centre pixel', () => {
    const img = decodeImage(new Uint8Array(readFileSync(`${REFS}/obama-portrait.jpg`)), 'obama');
    const s = Math.min(img.width, img.height);
    const x = Math.floor((img.width - s) / 2);
    const y = Math.floor((img.height - s) / 2);
    const a = cropSquare(img, { x, y, size: s }, s);
    expect(Array.from(a.data.subarray(0, 4000))).toEqual(Array.from(centreCrop(img).data.subarray(0, 4000)));
    const t = cropSquare(img, { x: 100, y: 100, size: 200 }, 200);
    const r = cropSquare(img, { x: 100, y: 100, size: 200, angle: 0.3 }, 200);
    const mid = (im: typeof t) => Array.from(im.data.subarray((100 * 200 + 100) * 4, (100 * 200 + 100) * 4 + 3));
    mid(r).forEach((v, k) => expect(Math.abs(v - mid(t)[k])).toBeLessThanOrEqual(3));
  });
});

describe('the studio’s face-aware crop in the tools', () => {
  let face: FaceApiEmbedder;
  let locate: FaceLocator;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    face = createNodeFaceEmbedder();
    locate = async (img) => {
      const found = await face.landmarks(img);
      return found ? ffhqAlignment(found.points) : null;
    };
  }, 120_000);
  afterAll(() => face?.dispose());

  it('crops the Obama portrait to its face (≤ 512², level), the centre mode and a faceless image to the centred square', async () => {
    const r = await prepareReference(`${REFS}/obama-portrait.jpg`, 'face', locate);
    expect(r.how).toMatch(/^face crop \(FFHQ alignment: \d+ px square/);
    expect(r.image.width).toBe(r.image.height);
    expect(r.image.width).toBeGreaterThan(256); // min(512, the crop's side in the image's pixels), as the studio crops
    expect(r.image.width).toBeLessThanOrEqual(512);
    // The crop is about the face: the face-api detector finds it again, filling a good part of the square.
    const again = await face.landmarks(r.image);
    expect(again).not.toBeNull();
    expect(again!.box.width).toBeGreaterThan(0.3 * r.image.width);
    const c = await prepareReference(`${REFS}/obama-portrait.jpg`, 'centre', locate);
    expect(c.how).toBe('centred crop');
    const none = await prepareReference(`${REFS}/obama-portrait.jpg`, 'face', async () => null);
    expect(none.how).toBe('centred crop (no face found)');
    expect([none.image.width, none.image.height]).toEqual([c.image.width, c.image.height]);
  }, 120_000);
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { initNodeBackend } from '../platform/node-backend.ts';
import { cosine, type FaceApiEmbedder } from './face-identity.ts';
import { createNodeFaceEmbedder } from '../testing/face-api.ts';
import type { EvalImage } from './types.ts';

const REFERENCES = fileURLToPath(new URL('../../../shared/references/', import.meta.url));

function load(name: string): EvalImage {
  const bytes = new Uint8Array(readFileSync(join(REFERENCES, name)));
  if (name.endsWith('.jpg')) {
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: j.width, height: j.height, data: new Uint8ClampedArray(j.data.buffer, j.data.byteOffset, j.data.byteLength) };
  }
  const p = decodePng(bytes);
  const data = new Uint8ClampedArray(p.width * p.height * 4);
  for (let i = 0; i < p.width * p.height; i++) {
    for (let c = 0; c < 3; c++) data[i * 4 + c] = p.data[i * p.channels + c];
    data[i * 4 + 3] = 255;
  }
  return { width: p.width, height: p.height, data };
}

/** Shifted copy (content moved right/down by dx/dy, edges repeated). */
function shifted(img: EvalImage, dx: number, dy: number): EvalImage {
  const data = new Uint8ClampedArray(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const sx = Math.min(img.width - 1, Math.max(0, x - dx));
      const sy = Math.min(img.height - 1, Math.max(0, y - dy));
      data.set(img.data.subarray((sy * img.width + sx) * 4, (sy * img.width + sx) * 4 + 4), (y * img.width + x) * 4);
    }
  }
  return { width: img.width, height: img.height, data };
}

describe('face-api identity embedder (through the project’s tfjs)', () => {
  let face: FaceApiEmbedder;

  beforeAll(async () => {
    await initNodeBackend('wasm');
    face = createNodeFaceEmbedder();
  }, 60_000);

  afterAll(() => face?.dispose());

  it('detects a real face; the same person shifted is closer than another person', async () => {
    const a = load('obama-portrait.jpg');
    const b = load('mona_lisa.png');
    const before = tf.memory().numTensors;
    const da = await face.detect(a);
    const da2 = await face.detect(shifted(a, 7, 5));
    const db = await face.detect(b);
    expect(tf.memory().numTensors).toBe(before);
    expect(da).not.toBeNull();
    expect(da2).not.toBeNull();
    expect(db).not.toBeNull();
    expect(da!.descriptor).toHaveLength(128);
    expect(da!.box.width).toBeGreaterThan(20);
    const same = cosine(da!.descriptor, da2!.descriptor);
    const other = cosine(da!.descriptor, db!.descriptor);
    expect(same).toBeGreaterThan(0.95);
    expect(other).toBeLessThan(same - 0.05);
    // Fixed crops: identical input → identical descriptor.
    const box = { x: a.width * 0.25, y: a.height * 0.2, width: a.width * 0.5, height: a.height * 0.55 };
    expect(cosine(await face.describeCrop(a, box), await face.describeCrop(a, box))).toBeCloseTo(1, 6);
    await expect(face.describeCrop(a, { x: a.width + 5, y: 0, width: 10, height: 10 })).rejects.toThrow(/outside/);
    expect(cosine([1, 0], [0, 0])).toBe(0);
  }, 120_000);
});

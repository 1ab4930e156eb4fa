/**
 * The FFHQ alignment from 68 landmarks: exact on synthetic landmarks (level, rotated, scaled), and on the
 * portraits in ../shared/references with face-api's landmarks — the MetFaces crops are FFHQ-aligned
 * already (1024², NVIDIA's recipe), so the proposed square must be close to the whole image there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode as decodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { initNodeBackend } from '../platform/node-backend.ts';
import { createNodeFaceEmbedder } from '../testing/face-api.ts';
import type { FaceApiEmbedder } from './face-identity.ts';
import { ffhqAlignment, FACE_LANDMARKS, type Point } from './face-align.ts';
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

/** 68 landmarks with only the alignment's points set: eyes at (∓1, 0), mouth corners at (∓0.8, 2), then rotated by θ, scaled by s, moved by (tx, ty). */
function synthetic(theta: number, s: number, tx: number, ty: number): Point[] {
  const place = (x: number, y: number): Point => ({ x: tx + s * (x * Math.cos(theta) - y * Math.sin(theta)), y: ty + s * (x * Math.sin(theta) + y * Math.cos(theta)) });
  const pts = Array.from({ length: FACE_LANDMARKS }, () => place(0, 1));
  for (let i = 36; i < 42; i++) pts[i] = place(-1, 0);
  for (let i = 42; i < 48; i++) pts[i] = place(1, 0);
  pts[48] = place(-0.8, 2);
  pts[54] = place(0.8, 2);
  return pts;
}

describe('FFHQ alignment (arithmetic)', () => {
  it('a level face: centre 0.1 of the way from the eyes to the mouth, side 2·max(2·|ee|, 1.8·|em|), angle 0', () => {
    const a = ffhqAlignment(synthetic(0, 10, 100, 50));
    expect(a.angle).toBeCloseTo(0, 10);
    expect(a.cx).toBeCloseTo(100, 10);
    expect(a.cy).toBeCloseTo(52, 10); // eyes at y 50, mouth at y 70
    expect(a.size).toBeCloseTo(80, 10); // |ee| = 20 → 2·40
  });

  it('follows a rotated, scaled face: the angle is the eye line’s, the size scales with it', () => {
    for (const theta of [-0.4, 0.15, 0.5]) {
      const a = ffhqAlignment(synthetic(theta, 25, 300, 200));
      expect(a.angle).toBeCloseTo(theta, 10);
      expect(a.size).toBeCloseTo(200, 8);
      expect(a.cx).toBeCloseTo(300 - 0.1 * 50 * Math.sin(theta), 8);
      expect(a.cy).toBeCloseTo(200 + 0.1 * 50 * Math.cos(theta), 8);
    }
    // A long face (mouth far below the eyes) is scaled by the eye-to-mouth distance.
    const long = synthetic(0, 10, 0, 0);
    long[48] = { x: -8, y: 40 };
    long[54] = { x: 8, y: 40 };
    expect(ffhqAlignment(long).size).toBeCloseTo(2 * 1.8 * 40, 8);
    expect(() => ffhqAlignment(long.slice(0, 10))).toThrow(/68 landmarks/);
  });
});

describe('FFHQ alignment on the reference portraits (face-api landmarks)', () => {
  let face: FaceApiEmbedder;
  beforeAll(async () => {
    await initNodeBackend('wasm');
    face = createNodeFaceEmbedder();
  }, 120_000);
  afterAll(() => face?.dispose());

  it('the MetFaces crops (FFHQ-aligned already) propose nearly the whole image, level', async () => {
    for (const name of ['12602-00.png', '248727-00.png', '44613-00.png']) {
      const img = load(name);
      const lm = await face.landmarks(img);
      expect(lm, name).not.toBeNull();
      expect(lm!.points).toHaveLength(68);
      const a = ffhqAlignment(lm!.points);
      expect(Math.abs(a.cx - img.width / 2) / img.width, `${name} cx`).toBeLessThan(0.06);
      expect(Math.abs(a.cy - img.height / 2) / img.height, `${name} cy`).toBeLessThan(0.08);
      expect(a.size / img.width, `${name} size`).toBeGreaterThan(0.85);
      expect(a.size / img.width, `${name} size`).toBeLessThan(1.15);
      expect(Math.abs(a.angle), `${name} angle`).toBeLessThan(0.06);
    }
  }, 240_000);

  it('the Obama portrait and the Mona Lisa: a face inside the image, eyes close to level, a crop wider than the face box', async () => {
    for (const name of ['obama-portrait.jpg', 'mona_lisa.png']) {
      const img = load(name);
      const lm = await face.landmarks(img);
      expect(lm, name).not.toBeNull();
      const a = ffhqAlignment(lm!.points);
      const b = lm!.box;
      expect(a.cx).toBeGreaterThan(b.x);
      expect(a.cx).toBeLessThan(b.x + b.width);
      expect(a.cy).toBeGreaterThan(b.y);
      expect(a.cy).toBeLessThan(b.y + b.height);
      expect(a.size).toBeGreaterThan(1.3 * Math.max(b.width, b.height));
      expect(a.size).toBeLessThan(4 * Math.max(b.width, b.height));
      expect(Math.abs(a.angle), `${name} angle`).toBeLessThan(0.25);
    }
  }, 240_000);
});

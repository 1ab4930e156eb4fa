import { describe, expect, it } from 'vitest';
import { Random } from '../core/random.ts';
import { cameraFromYawPitch } from '../eg3d/camera.ts';
import {
  FACE_REGION_WORLD, headFromSeed, headParamsFromLatent, headParamsFromUniforms, NUM_HEAD_FACTORS, ProceduralHead,
  sampleHeadParams, SIGMA_RAW_EMPTY, SIGMA_RAW_SOLID, sigmaRawFromSdf,
} from './heads.ts';
import { renderGroundTruth } from './gt-render.ts';
import { samplePoints } from './points.ts';

function randomPoints(seed: number, n: number): Float32Array {
  const r = new Random(seed);
  return Float32Array.from({ length: 3 * n }, () => r.next() - 0.5);
}

describe('procedural heads', () => {
  it('is deterministic from the seed', () => {
    const a = headFromSeed(7), b = headFromSeed(7);
    expect(b.params).toEqual(a.params);
    const pts = randomPoints(1, 500);
    const sa = new Float32Array(500), sb = new Float32Array(500), ca = new Float32Array(1500), cb = new Float32Array(1500);
    a.evaluate(pts, sa, ca);
    b.evaluate(pts, sb, cb);
    expect(sb).toEqual(sa);
    expect(cb).toEqual(ca);
    expect(headFromSeed(8).params).not.toEqual(a.params);
  });

  it('pairs a latent with a head through its first NUM_HEAD_FACTORS entries only', () => {
    const z = new Random(3).normalArray(512);
    const p = headParamsFromLatent(z);
    const z2 = z.slice();
    z2[NUM_HEAD_FACTORS + 5] += 3;
    expect(headParamsFromLatent(z2)).toEqual(p);
    z2[4] += 1;
    expect(headParamsFromLatent(z2).faceLength).not.toEqual(p.faceLength);
    expect(() => headParamsFromLatent(new Float32Array(10))).toThrow(RangeError);
    expect(() => headParamsFromUniforms([0.5])).toThrow(RangeError);
  });

  it('maps uniforms to parameters continuously (what a generator can regress), colours included', () => {
    // Sweep each uniform over [0, 1] in 1000 steps from a few random heads: a continuous map moves no
    // parameter by more than its slope × 1e-3 (the steepest span ≈ 2 per unit of u); a sawtooth or a
    // wrapped palette jumps by ≥ 0.1 somewhere on the sweep.
    const flat = (u: number[]) => Object.values(headParamsFromUniforms(u)).flatMap((v) => (Array.isArray(v) ? v : [v as number]));
    const rng = new Random(11);
    let worst = 0;
    for (let trial = 0; trial < 3; trial++) {
      const u = Array.from({ length: NUM_HEAD_FACTORS }, () => rng.next());
      for (let i = 0; i < NUM_HEAD_FACTORS; i++) {
        const v = u.slice();
        v[i] = 0;
        let previous = flat(v);
        for (let s = 1; s <= 1000; s++) {
          v[i] = s / 1000;
          const next = flat(v);
          for (let k = 0; k < next.length; k++) worst = Math.max(worst, Math.abs(next[k] - previous[k]));
          previous = next;
        }
      }
    }
    expect(worst).toBeLessThan(0.01);
  });

  it('is solid inside the head, empty in front of the face and outside the box', () => {
    for (let seed = 0; seed < 10; seed++) {
      const h = headFromSeed(seed);
      expect(h.sigmaRaw(0, 0.02, 0)).toBe(SIGMA_RAW_SOLID); // middle of the skull
      expect(h.sigmaRaw(0, 0.0, 0.45)).toBe(SIGMA_RAW_EMPTY); // in front of the nose
      expect(h.sigmaRaw(0.3, 0.3, 0.3)).toBe(SIGMA_RAW_EMPTY); // front corner of the box
      expect(h.sigmaRaw(0, 0, -0.6)).toBe(SIGMA_RAW_EMPTY); // outside the box
      // the backdrop sits behind the head
      expect(h.sigmaRaw(0, 0, -0.43)).toBeGreaterThan(50);
    }
  });

  it('has a smooth density ramp across the face surface along +z', () => {
    const h = headFromSeed(2);
    const along = (z: number) => h.sigmaRaw(0.05, -0.03, z); // through the cheek toward the camera
    expect(along(0.05)).toBe(SIGMA_RAW_SOLID);
    expect(along(0.4)).toBe(SIGMA_RAW_EMPTY);
    let intermediate = 0;
    for (let z = 0.05; z < 0.4; z += 0.001) {
      const s = along(z);
      if (s > SIGMA_RAW_EMPTY && s < SIGMA_RAW_SOLID) intermediate++;
    }
    // a ramp ≈ 0.03 thick (not a step): learnable by a tri-plane decoder
    expect(intermediate).toBeGreaterThan(15);
  });

  it('gives 100 random heads clearly different looks', () => {
    const rng = new Random(11);
    const cam = cameraFromYawPitch(0.2, 0);
    const images: Float32Array[] = [];
    for (let i = 0; i < 100; i++) images.push(renderGroundTruth(new ProceduralHead(sampleHeadParams(rng)), cam, { resolution: 12, fineStep: 0.006 }).rgb);
    let minDiff = Infinity;
    for (let i = 0; i < images.length; i++) {
      for (let j = i + 1; j < images.length; j++) {
        let d = 0;
        for (let k = 0; k < images[i].length; k++) d += Math.abs(images[i][k] - images[j][k]);
        minDiff = Math.min(minDiff, d / images[i].length);
      }
    }
    // mean absolute difference of even the most similar pair, on the [−1, 1] scale
    expect(minDiff).toBeGreaterThan(0.03);
  });

  it('draws supervision points near surfaces with ground-truth density and colour', () => {
    const h = headFromSeed(4);
    const s = samplePoints(h, new Random(5), { count: 1000, uniformFraction: 0.2 });
    expect(s.points.length).toBe(3000);
    let nonEmpty = 0;
    for (let i = 0; i < 1000; i++) {
      if (s.sigmaRaw[i] > SIGMA_RAW_EMPTY) {
        nonEmpty++;
        for (let c = 0; c < 3; c++) {
          expect(s.rgb[3 * i + c]).toBeGreaterThanOrEqual(0);
          expect(s.rgb[3 * i + c]).toBeLessThanOrEqual(1);
        }
      }
    }
    expect(nonEmpty).toBeGreaterThan(300);
    expect(nonEmpty).toBeLessThan(900);
    expect(samplePoints(h, new Random(5), { count: 1000 })).toEqual(s);
    // the returned signed distances are the ones the densities come from (inside the box)
    for (let i = 0; i < 1000; i++) {
      const inBox = [0, 1, 2].every((c) => Math.abs(s.points[3 * i + c]) <= 0.5);
      if (inBox) expect(sigmaRawFromSdf(s.sdf[i])).toBeCloseTo(s.sigmaRaw[i], 3);
      else expect(s.sdf[i]).toBe(0.5);
    }
  });

  it('draws the asked fraction of near-surface points in the face region', () => {
    const h = headFromSeed(4);
    const f = FACE_REGION_WORLD;
    const inFace = (s: ReturnType<typeof samplePoints>, from: number) => {
      let n = 0;
      for (let i = from; i < s.sdf.length; i++) {
        const dx = s.points[3 * i] - f.cx, dy = s.points[3 * i + 1] - f.cy, dz = s.points[3 * i + 2] - f.cz;
        if (dx * dx + dy * dy + dz * dz <= f.r * f.r) n++;
      }
      return n;
    };
    const plain = samplePoints(h, new Random(6), { count: 1000, uniformFraction: 0.2, band: 0.03 });
    const faced = samplePoints(h, new Random(6), { count: 1000, uniformFraction: 0.2, band: 0.03, faceFraction: 0.5 });
    // 800 near-surface points: 400 drawn in the face sphere, plus the share of the other 400 that land there
    expect(inFace(faced, 200)).toBeGreaterThanOrEqual(400);
    expect(inFace(faced, 200)).toBeGreaterThan(inFace(plain, 200) + 300);
    for (let i = 200; i < 1000; i++) expect(Math.abs(faced.sdf[i])).toBeLessThanOrEqual(0.03 + 1e-6);
  });
});

import { describe, expect, it } from 'vitest';
import { cameraPosition } from './camera.ts';
import { orbitAngles, orbitCamera, orbitCameras } from './orbit.ts';

/** The camera origin from spec A.8's LookAtPoseSampler formula, written out independently. */
function specOrigin(h: number, v: number, r = 2.7): [number, number, number] {
  const phi = Math.acos(1 - (2 * v) / Math.PI);
  return [r * Math.sin(phi) * Math.cos(Math.PI - h), r * Math.cos(phi), r * Math.sin(phi) * Math.sin(Math.PI - h)];
}

describe('orbit camera path (gen_videos.py)', () => {
  it('angles at t = 0 and t = 0.25 follow the script (π written 3.14)', () => {
    const a0 = orbitAngles(0);
    expect(a0.h).toBeCloseTo(1.57, 12);
    expect(a0.v).toBeCloseTo(1.57 - 0.05 + 0.25, 12);
    const a1 = orbitAngles(0.25);
    expect(a1.h).toBeCloseTo(1.57 + 0.35 * Math.sin(1.57), 12);
    expect(a1.v).toBeCloseTo(1.52 + 0.25 * Math.cos(1.57), 12);
    // a quarter turn: yaw at (almost) its extreme, pitch back at its centre
    expect(a1.h - 1.57).toBeCloseTo(0.35, 5);
    expect(a1.v).toBeCloseTo(1.52, 3);
  });

  it('cameras sit on the 2.7 sphere where the spec formula puts them, looking at (0, 0, 0.2), f = 4.2647', () => {
    for (const t of [0, 0.25, 0.5, 0.75]) {
      const c = orbitCamera(t);
      const { h, v } = orbitAngles(t);
      const o = cameraPosition(c);
      const want = specOrigin(h, v);
      for (let k = 0; k < 3; k++) expect(o[k]).toBeCloseTo(want[k], 5);
      expect(Math.hypot(...o)).toBeCloseTo(2.7, 5);
      // forward column ∝ pivot − origin
      const f = [c[2], c[6], c[10]];
      const d = [0 - o[0], 0 - o[1], 0.2 - o[2]];
      const n = Math.hypot(...d);
      for (let k = 0; k < 3; k++) expect(f[k]).toBeCloseTo(d[k] / n, 5);
      expect([c[16], c[18], c[20], c[21], c[24]].map((x) => Number(x.toFixed(4)))).toEqual([4.2647, 0.5, 4.2647, 0.5, 1]);
    }
    // t = 0: the camera is below the equator (v > π/2) and centred horizontally; t = 0.5: above it
    expect(cameraPosition(orbitCamera(0))[1]).toBeLessThan(-0.3);
    expect(Math.abs(cameraPosition(orbitCamera(0))[0])).toBeLessThan(0.01);
    expect(cameraPosition(orbitCamera(0.5))[1]).toBeGreaterThan(0.3);
    // t = 0.25: yawed toward +x by ≈ 0.35 rad; t = 0.75 toward −x
    expect(cameraPosition(orbitCamera(0.25))[0]).toBeGreaterThan(0.8);
    expect(cameraPosition(orbitCamera(0.75))[0]).toBeLessThan(-0.8);
  });

  it('N frames at t = i / N, in order, without repeating the first at the end', () => {
    const cams = orbitCameras(8);
    expect(cams).toHaveLength(8);
    cams.forEach((c, i) => expect(Array.from(c)).toEqual(Array.from(orbitCamera(i / 8))));
    expect(Array.from(cams[7])).not.toEqual(Array.from(cams[0]));
    expect(orbitCameras(1)).toHaveLength(1);
    expect(() => orbitCameras(0)).toThrow(/frames/);
    expect(() => orbitCameras(2.5)).toThrow(/frames/);
    expect(() => orbitAngles(Number.NaN)).toThrow(/finite/);
  });

  it('radius, pivot and focal can follow the generator', () => {
    const c = orbitCamera(0, { radius: 3, pivot: [0, 0, 0], focal: 2 });
    expect(Math.hypot(...cameraPosition(c))).toBeCloseTo(3, 5);
    expect(c[16]).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { cameraFromYawPitch } from '../eg3d/camera.ts';
import { generateRays } from '../eg3d/rays.ts';
import { foregroundMask, headDepth, maskedMeanAbsDiff, otsuThreshold, pixelRay, projectPoint, reprojectionL1, type ViewGeometry } from './geometry.ts';

const PIVOT: [number, number, number] = [0, 0, 0.2];
const cam = (yaw: number, pitch = 0) => cameraFromYawPitch(yaw, pitch, { radius: 2.7, pivot: PIVOT });

describe('camera geometry', () => {
  it('pixel rays match the renderer’s ray generation', async () => {
    await tf.setBackend('cpu');
    const c = cam(0.3, -0.1);
    const r = 8;
    const rays = generateRays(tf.tensor2d(c, [1, 25]), r);
    const dirs = await rays.directions.data();
    const origins = await rays.origins.data();
    tf.dispose([rays.origins, rays.directions]);
    for (const [i, j] of [[0, 0], [3, 5], [7, 7], [2, 6]]) {
      const { origin, dir } = pixelRay(c, r, i, j);
      const m = i * r + j;
      for (let k = 0; k < 3; k++) {
        expect(dir[k]).toBeCloseTo(dirs[m * 3 + k], 5);
        expect(origin[k]).toBeCloseTo(origins[m * 3 + k], 5);
      }
    }
  });

  it('projecting a point on a pixel ray gives that pixel back, with its distance', () => {
    const c = cam(-0.25, 0.15);
    for (const [i, j, t] of [[10, 20, 2.5], [0, 63, 3.0], [31.5, 31.5, 2.7]]) {
      const { origin, dir } = pixelRay(c, 64, i, j);
      const p: [number, number, number] = [origin[0] + t * dir[0], origin[1] + t * dir[1], origin[2] + t * dir[2]];
      const q = projectPoint(c, 64, p)!;
      // (float32 camera vectors: agreement to ~1e-5 pixel)
      expect(q.x).toBeCloseTo(j, 4);
      expect(q.y).toBeCloseTo(i, 4);
      expect(q.distance).toBeCloseTo(t, 5);
    }
    // Behind the camera: no projection.
    const { origin, dir } = pixelRay(c, 64, 5, 5);
    expect(projectPoint(c, 64, [origin[0] - dir[0], origin[1] - dir[1], origin[2] - dir[2]])).toBeNull();
  });
});

describe('foreground and depth difference', () => {
  it('Otsu separates a near head from a far backdrop; head depth is its percentile range', () => {
    const depth = new Float32Array(100);
    for (let i = 0; i < 100; i++) depth[i] = i < 40 ? 2.4 + (i / 40) * 0.2 : 3.3;
    const t = otsuThreshold(depth);
    expect(t).toBeGreaterThanOrEqual(2.595); // the nearest head pixel is 2.4, the farthest 2.595
    expect(t).toBeLessThan(3.3);
    const mask = foregroundMask(depth);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(40);
    expect(headDepth(depth, mask)).toBeCloseTo(0.2 * 0.96 * (39 / 40), 2);
    // Constant depth: nothing to separate, all foreground.
    expect(foregroundMask(new Float32Array(10).fill(2)).every((m) => m === 1)).toBe(true);
  });

  it('depth difference is 0 for identical maps and counts only masked pixels', () => {
    const a = Float32Array.from([1, 2, 3, 4]);
    expect(maskedMeanAbsDiff(a, a, [1, 1, 1, 1])).toBe(0);
    expect(maskedMeanAbsDiff(a, Float32Array.from([1.5, 2, 3, 9]), [1, 1, 1, 0])).toBeCloseTo(0.5 / 3, 10);
  });
});

describe('multi-view reprojection', () => {
  // Analytic scene: a sphere (centre at the pivot, radius 0.45) in front of a far backdrop, coloured by
  // a smooth function of the world position (so it looks the same from every view).
  const C: [number, number, number] = [0, 0, 0.2];
  const R = 0.45;
  const FAR = 3.3;
  const colour = (p: number[]) => [0.5 + 0.5 * Math.sin(4 * p[0]), 0.5 + 0.5 * Math.cos(3 * p[1]), 0.5 + 0.4 * p[2]];

  function renderSphere(camera: Float32Array, res: number, depthScale = 1, constant = false): ViewGeometry {
    const rgb = new Float32Array(res * res * 3);
    const depth = new Float32Array(res * res);
    for (let i = 0; i < res; i++) {
      for (let j = 0; j < res; j++) {
        const { origin: o, dir: d } = pixelRay(camera, res, i, j);
        const oc = [o[0] - C[0], o[1] - C[1], o[2] - C[2]];
        const b = oc[0] * d[0] + oc[1] * d[1] + oc[2] * d[2];
        const disc = b * b - (oc[0] ** 2 + oc[1] ** 2 + oc[2] ** 2 - R * R);
        const m = i * res + j;
        if (disc < 0) {
          depth[m] = FAR;
          rgb.set([0.1, 0.1, 0.1], m * 3);
          continue;
        }
        const t = -b - Math.sqrt(disc);
        depth[m] = t * depthScale;
        const p = [o[0] + t * d[0], o[1] + t * d[1], o[2] + t * d[2]];
        rgb.set(constant ? [0.8, 0.3, 0.2] : colour(p), m * 3);
      }
    }
    return { resolution: res, rgb, depth, mask: foregroundMask(depth), camera };
  }

  it('is ~0 for a view-independent scene seen from two yaws, and large with wrong depth', () => {
    const a = renderSphere(cam(0), 64);
    const b = renderSphere(cam(0.2), 64);
    const ab = reprojectionL1(a, b);
    const ba = reprojectionL1(b, a);
    expect(ab.pixels).toBeGreaterThan(500);
    expect(ba.pixels).toBeGreaterThan(500);
    expect(ab.l1).toBeLessThan(0.01);
    expect(ba.l1).toBeLessThan(0.01);
    // A constant-colour sphere: exactly 0.
    expect(reprojectionL1(renderSphere(cam(0), 48, 1, true), renderSphere(cam(0.3), 48, 1, true)).l1).toBeCloseTo(0, 6);
    // Depth 5 % too far: the lifted points land elsewhere (and mostly fail the visibility test).
    const wrong = reprojectionL1(a, renderSphere(cam(0.2), 64, 1.05), { visibilityTolerance: 1 });
    expect(wrong.l1).toBeGreaterThan(10 * ab.l1);
  });
});

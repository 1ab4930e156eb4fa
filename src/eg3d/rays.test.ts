import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from './camera.ts';
import { generateRays, pixelCentres, rayBoxLimits, RayError } from './rays.ts';

describeBackends('rays', () => {
  it('pixel centres are (j + 0.5)/R along columns and (i + 0.5)/R along rows, ray m = i·R + j', () => {
    const { u, v } = pixelCentres(4);
    expect(u[1 * 4 + 2]).toBeCloseTo(2.5 / 4, 7);
    expect(v[1 * 4 + 2]).toBeCloseTo(1.5 / 4, 7);
    expect(() => pixelCentres(0)).toThrow(RayError);
  });

  it('frontal camera: origins at the camera, unit directions, image rows go down the world y axis', async () => {
    const cams = camerasTensor([frontalCamera(), cameraFromYawPitch(0.4, -0.2)]);
    const { origins, directions } = generateRays(cams, 8);
    expect(origins.shape).toEqual([2, 64, 3]);
    const o = await origins.array();
    const d = await directions.array();
    [0, 0, 2.7].forEach((v, k) => expect(o[0][10][k]).toBeCloseTo(v, 6));
    for (const ray of [...d[0], ...d[1]]) expect(Math.hypot(...ray)).toBeCloseTo(1, 6);
    // Frontal camera looks down −z; top-left pixel: −x (left) and +y (up) in the world.
    const tl = d[0][0];
    expect(tl[2]).toBeLessThan(-0.98);
    expect(tl[0]).toBeLessThan(0);
    expect(tl[1]).toBeGreaterThan(0);
    // Exact direction of pixel (i=0, j=0): camera-space ((1/16 − 0.5)/f, (1/16 − 0.5)/f, 1) → world (x, −y, −z).
    const f = 4.2647;
    const cx = (1 / 16 - 0.5) / f;
    const n = Math.hypot(cx, cx, 1);
    expect(tl[0]).toBeCloseTo(cx / n, 6);
    expect(tl[1]).toBeCloseTo(-cx / n, 6);
    tf.dispose([cams, origins, directions]);
  });

  it('box limits: slab intersection, misses marked (−1, −2)', async () => {
    const o = tf.tensor2d([[0, 0, 3], [0, 0, 3], [2, 2, 3]]);
    const dz = Math.sqrt(1 - 0.15 * 0.15);
    const d = tf.tensor2d([[0, 0, -1], [0.15, 0, -dz], [0, 0, -1]]);
    const { start, end } = rayBoxLimits(o, d, 1);
    const s = await start.data();
    const e = await end.data();
    expect([s[0], e[0]]).toEqual([2.5, 3.5]);
    expect(s[1]).toBeCloseTo(2.5 / dz, 5); // enters through the z = 0.5 face
    expect(e[1]).toBeCloseTo(0.5 / 0.15, 5); // leaves through the x = 0.5 face before z = −0.5
    expect([s[2], e[2]]).toEqual([-1, -2]);
    tf.dispose([o, d, start, end]);
  });
});

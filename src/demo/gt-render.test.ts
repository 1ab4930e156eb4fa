import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../platform/node-backend.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from '../eg3d/camera.ts';
import { generateRays } from '../eg3d/rays.ts';
import { headFromSeed } from './heads.ts';
import { GroundTruthRenderError, pixelRay, renderGroundTruth, tileImages, toRgb8 } from './gt-render.ts';
import { psnr } from './eval.ts';

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('ground-truth renderer', () => {
  it('uses the EG3D rays of the renderer (spec A.8)', () => {
    const cam = cameraFromYawPitch(0.4, -0.2);
    const R = 8;
    const rays = generateRays(camerasTensor([cam]), R);
    const o = rays.origins.arraySync()[0];
    const d = rays.directions.arraySync()[0];
    tf.dispose([rays.origins, rays.directions]);
    const mine = new Float64Array(6);
    for (let i = 0; i < R; i++) {
      for (let j = 0; j < R; j++) {
        pixelRay(cam, R, i, j, mine);
        const m = i * R + j;
        for (let a = 0; a < 3; a++) {
          expect(mine[a]).toBeCloseTo(o[m][a], 5);
          expect(mine[3 + a]).toBeCloseTo(d[m][a], 5);
        }
      }
    }
  });

  it('returns images in range with the head in the middle and the backdrop in the corners', () => {
    const R = 16;
    const img = renderGroundTruth(headFromSeed(1), frontalCamera(), { resolution: R });
    expect(img.rgb.length).toBe(R * R * 3);
    expect(img.depth.length).toBe(R * R);
    for (const v of img.rgb) {
      expect(v).toBeGreaterThanOrEqual(-1);
      expect(v).toBeLessThanOrEqual(1);
    }
    for (let p = 0; p < R * R; p++) {
      expect(img.depth[p]).toBeGreaterThanOrEqual(2.25);
      expect(img.depth[p]).toBeLessThanOrEqual(3.3);
      expect(img.foreground[p]).toBeGreaterThanOrEqual(0);
      expect(img.foreground[p]).toBeLessThanOrEqual(1 + 1e-6);
    }
    const centre = (R / 2) * R + R / 2;
    expect(img.foreground[centre]).toBeGreaterThan(0.99);
    expect(img.depth[centre]).toBeGreaterThan(2.4); // the face is ≈ 0.2–0.3 in front of the origin
    expect(img.depth[centre]).toBeLessThan(2.6);
    expect(img.foreground[0]).toBeLessThan(0.01); // top-left corner: backdrop
    expect(img.alpha[0]).toBeGreaterThan(0.9);
    expect(img.depth[0]).toBeGreaterThan(3.0);
  });

  it('has converged: halving the step changes the image by less than 1/1000 of the range', () => {
    const head = headFromSeed(3);
    const cam = cameraFromYawPitch(-0.3, 0.1);
    const a = renderGroundTruth(head, cam, { resolution: 16, fineStep: 0.003 });
    const b = renderGroundTruth(head, cam, { resolution: 16, fineStep: 0.0015 });
    expect(psnr(a.rgb, b.rgb)).toBeGreaterThan(36);
  });

  it('refuses bad cameras and resolutions', () => {
    expect(() => renderGroundTruth(headFromSeed(1), new Float32Array(16), { resolution: 4 })).toThrow(GroundTruthRenderError);
    expect(() => renderGroundTruth(headFromSeed(1), frontalCamera(), { resolution: 0 })).toThrow(GroundTruthRenderError);
  });

  it('converts to 8-bit and tiles', () => {
    const rgb8 = toRgb8(Float32Array.from([-1, 0, 1, 2]));
    expect([...rgb8]).toEqual([0, 128, 255, 255]);
    const t = tileImages([new Uint8Array(12).fill(1), new Uint8Array(12).fill(2), new Uint8Array(12).fill(3)], 2, 2);
    expect(t.width).toBe(4);
    expect(t.height).toBe(4);
    expect(t.data[(2 * 4 + 0) * 3]).toBe(3);
    expect(t.data[(3 * 4 + 3) * 3]).toBe(0);
  });
});

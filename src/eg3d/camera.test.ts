import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { SafetensorsFile } from '../io/safetensors.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { Random } from '../core/random.ts';
import {
  cameraFromYawPitch,
  cameraPosition,
  DATASET_FOCAL,
  DEFAULT_FOV_DEG,
  fovToFocal,
  fovToIntrinsics,
  frontalCamera,
  lookAtPose,
  sampleLookAtPose,
  sampleUniformPose,
} from './camera.ts';

const FIXTURES = '../shared/fixtures';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('EG3D cameras', () => {
  it('FOV_to_intrinsics(18.837) gives f ≈ 4.2634 with the principal point at 0.5', () => {
    const k = fovToIntrinsics(DEFAULT_FOV_DEG);
    expect(k[0]).toBeCloseTo(4.2634, 4);
    expect(k[4]).toBe(k[0]);
    expect([k[1], k[2], k[3], k[5], k[6], k[7], k[8]]).toEqual([0, 0.5, 0, 0.5, 0, 0, 1]);
  });

  it('frontal camera matches the spec 25-vector', () => {
    const expected = [1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, DATASET_FOCAL, 0, 0.5, 0, DATASET_FOCAL, 0.5, 0, 0, 1];
    expect(maxAbsDiff(frontalCamera(), expected)).toBeLessThan(1e-6);
  });

  it('yaw +0.4, pitch −0.2 puts the camera at (1.043, 0.344, 2.467)', () => {
    const p = cameraPosition(cameraFromYawPitch(0.4, -0.2));
    expect(p[0]).toBeCloseTo(1.043, 3);
    expect(p[1]).toBeCloseTo(0.344, 3);
    expect(p[2]).toBeCloseTo(2.467, 3);
  });

  it('cam2world rotation is orthonormal and looks at the pivot', () => {
    const m = lookAtPose(Math.PI / 2 - 0.3, Math.PI / 2 + 0.25, { pivot: [0.1, -0.2, 0.2], radius: 3 });
    const col = (j: number) => [m[j], m[4 + j], m[8 + j]];
    const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(dot(col(i), col(j))).toBeCloseTo(i === j ? 1 : 0, 12);
    const o = col(3);
    const toPivot = [0.1 - o[0], -0.2 - o[1], 0.2 - o[2]];
    const n = Math.hypot(toPivot[0], toPivot[1], toPivot[2]);
    expect(dot(col(2), toPivot) / n).toBeCloseTo(1, 12);
    expect(Math.hypot(o[0], o[1], o[2])).toBeCloseTo(3, 12);
  });

  it('random variants are seeded and reduce to the deterministic pose with zero spread', () => {
    const a = sampleLookAtPose(1.2, 1.4, new Random(3), { horizontalStddev: 0.3, verticalStddev: 0.1 });
    const b = sampleLookAtPose(1.2, 1.4, new Random(3), { horizontalStddev: 0.3, verticalStddev: 0.1 });
    expect(a).toEqual(b);
    expect(maxAbsDiff(a, lookAtPose(1.2, 1.4))).toBeGreaterThan(1e-3);
    expect(maxAbsDiff(sampleLookAtPose(1.2, 1.4, new Random(5)), lookAtPose(1.2, 1.4))).toBe(0);
    const u = sampleUniformPose(1.2, 1.4, new Random(7), { horizontalRange: 0.5, radius: 2 });
    expect(Math.hypot(u[3], u[7], u[11])).toBeCloseTo(2, 12);
    // The official uniform sampler looks at the origin: forward ∥ −origin.
    expect(u[2] * u[3] + u[6] * u[7] + u[10] * u[11]).toBeCloseTo(-2, 12);
  });

  it('reproduces the c_cond / c_view of every eg3d-tiny fixture case', async () => {
    const meta = JSON.parse(readFileSync(`${FIXTURES}/eg3d-tiny.json`, 'utf8')) as {
      init_kwargs: { rendering_kwargs: { avg_camera_radius: number; avg_camera_pivot: [number, number, number] } };
      cases: { cond: [number, number]; view: [number, number] }[];
    };
    const ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}/eg3d-tiny.reference.safetensors`));
    const rk = meta.init_kwargs.rendering_kwargs;
    const opts = { radius: rk.avg_camera_radius, pivot: rk.avg_camera_pivot, focal: fovToFocal(DEFAULT_FOV_DEG) };
    expect(meta.cases.length).toBe(3);
    let worst = 0;
    for (let k = 0; k < meta.cases.length; k++) {
      const c = meta.cases[k];
      const cond = (await ref.readFloat32(`case${k}.c_cond`)).data;
      const view = (await ref.readFloat32(`case${k}.c_view`)).data;
      worst = Math.max(worst, maxAbsDiff(cameraFromYawPitch(c.cond[0], c.cond[1], opts), cond));
      worst = Math.max(worst, maxAbsDiff(cameraFromYawPitch(c.view[0], c.view[1], opts), view));
    }
    console.log(`cameras vs eg3d-tiny fixtures: max abs err ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(2e-6);
  });
});

import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SafetensorsFile } from '../io/safetensors.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { FFHQ_RIG, cameraAt, focalFromFov, frontalCamera } from './cameras.ts';

const FIXTURES = join(__dirname, '..', '..', '..', 'shared', 'fixtures');

describe('EG3D cameras', () => {
  // The fixture was made with gen_samples' FOV 18.837° intrinsics.
  const rig = { ...FFHQ_RIG, focal: focalFromFov(18.837) };
  it('reproduces the official LookAtPoseSampler cameras recorded in the tiny fixture', async () => {
    const ref = await SafetensorsFile.open(await NodeFileByteSource.open(join(FIXTURES, 'eg3d-tiny.reference.safetensors')));
    const cases: [string, [number, number]][] = [
      ['case0', [0, 0]],
      ['case1', [0.4, -0.2]],
      ['case2', [-0.35, 0.15]],
    ];
    for (const [name, [yaw, pitch]] of cases) {
      const want = (await ref.readFloat32(`${name}.c_view`)).data;
      const got = cameraAt(yaw, pitch, rig);
      for (let i = 0; i < 25; i++) expect(got[i]).toBeCloseTo(want[i], 4);
    }
    const cond = (await ref.readFloat32('case0.c_cond')).data;
    frontalCamera(rig).forEach((x, i) => expect(x).toBeCloseTo(cond[i], 4));
  });
});

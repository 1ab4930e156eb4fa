import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { FIXTURES, tinyGenerator } from '../testing/fixtures.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { decodeAtPoints, gridPoint, sampleDensityGrid, TRIMMED_VALUE } from './density-grid.ts';
import type { EG3DGenerator } from './generator.ts';

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  let mag = 0;
  for (let i = 0; i < b.length; i++) {
    e = Math.max(e, Math.abs(a[i] - b[i]));
    mag = Math.max(mag, Math.abs(b[i]));
  }
  return e / mag;
}

describeBackends('density grid (gen_samples --shapes sampling)', (suite) => {
  let gen: EG3DGenerator;
  let planes: tf.Tensor;

  it('reproduces the fixture points checks (points.sigma, points.rgb of eg3d-tiny case 0)', async () => {
    gen = await tinyGenerator();
    const ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}eg3d-tiny.reference.safetensors`));
    const read = async (k: string) => (await ref.readFloat32(k)).data;
    const z = tf.tensor2d(await read('case0.z'), [1, 512]);
    const cCond = tf.tensor2d(await read('case0.c_cond'), [1, 25]);
    planes = tf.tidy(() => gen.planes(gen.mapping(z, cCond, { psi: 1, cutoff: null }), { noiseMode: 'const' }));
    tf.dispose([z, cCond]);
    const before = tf.memory().numTensors;
    const xyz = await read('points.xyz');
    // small chunks: the chunk seams are exercised too
    const out = await decodeAtPoints(planes, gen.weights, xyz, { boxWarp: gen.config.rendering.boxWarp, lrMul: gen.config.decoder.lrMul, chunkPoints: 1000 });
    const refRgb = await read('points.rgb');
    const rgb3 = new Float32Array(4096 * 3);
    for (let i = 0; i < 4096; i++) for (let c = 0; c < 3; c++) rgb3[i * 3 + c] = refRgb[i * 32 + c];
    const errs = { sigma: relErr(out.sigma, await read('points.sigma')), rgb: relErr(out.rgb, rgb3) };
    console.log(`[${suite.backend}] decodeAtPoints vs fixture: sigma ${errs.sigma.toExponential(2)}, rgb ${errs.rgb.toExponential(2)}`);
    expect(errs.sigma).toBeLessThan(1e-4);
    expect(errs.rgb).toBeLessThan(1e-4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('samples the official grid (cube of side box_warp, x fastest) with the σ-only decoder, and trims the border', async () => {
    const n = 24;
    const boxWarp = gen.config.rendering.boxWarp;
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const grid = await sampleDensityGrid(planes, gen.weights, {
      resolution: n,
      boxWarp,
      lrMul: gen.config.decoder.lrMul,
      trimBorder: false,
      chunkPoints: 5000,
      onProgress: (done) => void progress.push(done),
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(progress[progress.length - 1]).toBe(n ** 3);
    expect(progress.length).toBe(Math.ceil(n ** 3 / 5000));
    expect(grid.origin).toEqual([-boxWarp / 2, -boxWarp / 2, -boxWarp / 2]);
    expect(grid.spacing).toBeCloseTo(boxWarp / (n - 1), 12);
    // the same points through the full decoder
    const picks = [[0, 0, 0], [n - 1, 0, 0], [0, n - 1, 0], [0, 0, n - 1], [3, 17, 9], [n - 1, n - 1, n - 1], [12, 5, 20]];
    const xyz = new Float32Array(picks.flatMap(([x, y, z]) => gridPoint(x, y, z, n, boxWarp)));
    const full = await decodeAtPoints(planes, gen.weights, xyz, { boxWarp, lrMul: gen.config.decoder.lrMul });
    const fromGrid = picks.map(([x, y, z]) => grid.values[x + n * (y + n * z)]);
    expect(relErr(fromGrid, full.sigma)).toBeLessThan(1e-5);
    // the corners of the cube are ±box_warp/2
    expect(gridPoint(n - 1, 0, n - 1, n, boxWarp)).toEqual([boxWarp / 2, -boxWarp / 2, boxWarp / 2]);

    const trimmed = await sampleDensityGrid(planes, gen.weights, { resolution: n, boxWarp, lrMul: gen.config.decoder.lrMul });
    const pad = Math.floor((30 * n) / 256); // 2 at 24³
    expect(pad).toBe(2);
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const i = x + n * (y + n * z);
          const border = [x, y, z].some((c) => c < pad || c >= n - pad);
          if (border) expect(trimmed.values[i]).toBe(TRIMMED_VALUE);
          else if (trimmed.values[i] !== grid.values[i]) throw new Error(`interior point ${x},${y},${z} changed by the trim`);
        }
  });

  it('stops between chunks with a cancelled error, freeing its tensors', async () => {
    const before = tf.memory().numTensors;
    let calls = 0;
    await expect(
      sampleDensityGrid(planes, gen.weights, { resolution: 16, boxWarp: 1, lrMul: 1, chunkPoints: 512, onProgress: () => void calls++, shouldStop: () => calls >= 2 }),
    ).rejects.toMatchObject({ kind: 'cancelled' });
    expect(calls).toBe(2);
    expect(tf.memory().numTensors).toBe(before);
    await expect(sampleDensityGrid(planes, gen.weights, { resolution: 4, boxWarp: 1, lrMul: 1 })).rejects.toMatchObject({ kind: 'bad-settings' });
    planes.dispose();
    gen.dispose();
  });
});

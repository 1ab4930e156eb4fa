import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { Random } from '../core/random.ts';
import { createTriplaneSampler, sampleTriplanes, TriplaneError } from './triplane.ts';
import { decodeTriplaneFeatures } from './decoder.ts';
import { EG3DGenerator } from './generator.ts';

const FIXTURES = '../shared/fixtures';

/** Independent float64 grid_sample(bilinear, zeros, align_corners=False) with EG3D's plane axes. */
function reference(planes: Float32Array, n: number, h: number, w: number, c: number, p: [number, number, number], boxWarp: number): Float64Array {
  const [x, y, z] = p.map((v) => (v * 2) / boxWarp);
  const uv: [number, number][] = [[x, y], [x, z], [z, x]];
  const out = new Float64Array(c);
  uv.forEach(([u, v], plane) => {
    const ix = ((u + 1) * w - 1) / 2;
    const iy = ((v + 1) * h - 1) / 2;
    const x0 = Math.floor(ix);
    const y0 = Math.floor(iy);
    for (const [row, col, wt] of [
      [y0, x0, (x0 + 1 - ix) * (y0 + 1 - iy)],
      [y0, x0 + 1, (ix - x0) * (y0 + 1 - iy)],
      [y0 + 1, x0, (x0 + 1 - ix) * (iy - y0)],
      [y0 + 1, x0 + 1, (ix - x0) * (iy - y0)],
    ]) {
      if (row < 0 || row >= h || col < 0 || col >= w) continue;
      for (let ch = 0; ch < c; ch++) out[ch] += (wt * planes[(((n * 3 + plane) * h + row) * w + col) * c + ch]) / 3;
    }
  });
  return out;
}

describeBackends('tri-plane sampling (plain TS on CPU-side backends, the WGSL kernel on webgpu)', (suite) => {
  it('matches a float64 grid_sample reference inside, on the border and outside the box', async () => {
    const rng = new Random(1);
    const [n, h, w, c] = [2, 6, 9, 5];
    const data = rng.normalArray(n * 3 * h * w * c);
    const planes = tf.tensor5d(data, [n, 3, h, w, c]);
    for (const boxWarp of [1, 1.7]) {
      const m = 300;
      // Points spread over [−0.7, 0.7]·box so that some taps fall outside (zero padding).
      const xyz = rng.uniformArray(n * m * 3).map((v) => (v - 0.5) * 1.4 * boxWarp);
      xyz.set([0.5 * boxWarp, -0.5 * boxWarp, 0], 0); // exactly on the box faces
      const got = (await sampleTriplanes(planes, tf.tensor3d(xyz, [n, m, 3]), boxWarp, 'auto').data()) as Float32Array;
      let worst = 0;
      for (let b = 0; b < n; b++) {
        for (let i = 0; i < m; i++) {
          const o = (b * m + i) * 3;
          const ref = reference(data, b, h, w, c, [xyz[o], xyz[o + 1], xyz[o + 2]], boxWarp);
          for (let ch = 0; ch < c; ch++) worst = Math.max(worst, Math.abs(got[(b * m + i) * c + ch] - ref[ch]));
        }
      }
      // Plain TS weighs the taps in float64 (one rounding at the end); the WGSL kernel computes the tap
      // coordinates and weights in float32 (ulp of ix ≈ 5e-7 at these plane sizes, values up to ~4):
      // 1e-5, as the kernel's own test (triplane-webgpu.test.ts) allows against plain TS.
      const tol = suite.isWebGPU ? 1e-5 : 1e-6;
      suite.record({ fixture: suite.backend, tensor: `features vs float64 (box_warp ${boxWarp})`, maxAbs: worst, rel: worst, tol, pass: worst < tol, note: 'abs' });
      expect(worst).toBeLessThan(tol);
    }
    planes.dispose();
  });

  it("uses EG3D's released projections (x,y), (x,z), (z,x)", async () => {
    // Plane p holds a ramp along its width (u) axis only; sampling reveals which coordinate is u.
    const [h, w] = [4, 8];
    const data = new Float32Array(3 * h * w);
    for (let p = 0; p < 3; p++) for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) data[(p * h + r) * w + col] = p === 0 ? col : 0;
    const planes = tf.tensor5d(data, [1, 3, h, w, 1]);
    const at = async (pt: [number, number, number]) => (await sampleTriplanes(planes, tf.tensor3d(pt, [1, 1, 3]), 1, 'cpu').data())[0];
    // u of plane 0 is x: moving x changes the value, moving y or z does not (within the interior).
    const base = await at([0, 0.1, 0.1]);
    expect(await at([0.2, 0.1, 0.1])).toBeCloseTo(base + (0.4 * w) / 2 / 3, 5);
    expect(await at([0, -0.2, 0.3])).toBeCloseTo(base, 5);
    // Plane 2's u axis is z: a ramp there responds to z.
    data.fill(0);
    for (let r = 0; r < h; r++) for (let col = 0; col < w; col++) data[(2 * h + r) * w + col] = col;
    const planes2 = tf.tensor5d(data, [1, 3, h, w, 1]);
    const at2 = async (pt: [number, number, number]) => (await sampleTriplanes(planes2, tf.tensor3d(pt, [1, 1, 3]), 1, 'cpu').data())[0];
    expect((await at2([0.1, 0.1, 0.2])) - (await at2([0.1, 0.1, 0]))).toBeCloseTo((0.4 * w) / 2 / 3, 5);
    expect((await at2([0.3, -0.2, 0])) - (await at2([0.1, 0.1, 0]))).toBeCloseTo(0, 5);
    tf.dispose([planes, planes2]);
  });

  it('validates its inputs', () => {
    const planes = tf.zeros([1, 3, 4, 4, 2]);
    expect(() => createTriplaneSampler(tf.zeros([1, 2, 4, 4, 2]), 1)).toThrow(TriplaneError);
    expect(() => createTriplaneSampler(planes, 0)).toThrow(/box_warp/);
    const s = createTriplaneSampler(planes, 1);
    expect(() => s.sample(1, tf.zeros([3, 3]) as tf.Tensor2D)).toThrow(/batch index/);
    expect(() => s.sample(0, tf.zeros([3, 2]) as tf.Tensor2D)).toThrow(/\[P, 3\]/);
    s.dispose();
    planes.dispose();
  });

  // On webgpu the same rows (points.features / sigma / rgb, case 0 planes) are checked by the EG3D
  // conformance test (src/conformance/eg3d.webgpu.test.ts), which needs the same backbone forward:
  // running it twice would cost ~5 min of SwiftShader time.
  it.skipIf(suite.isWebGPU)('reproduces points.features / sigma / rgb of the eg3d-tiny fixture (case 0 planes, noise const)', async () => {
    const gen = await EG3DGenerator.fromPickle(await NodeFileByteSource.open(`${FIXTURES}/eg3d-tiny.pkl`));
    const ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}/eg3d-tiny.reference.safetensors`));
    const read = async (k: string) => (await ref.readFloat32(k)).data;
    const before = tf.memory().numTensors;
    const z = tf.tensor2d(await read('case0.z'), [1, 512]);
    const cCond = tf.tensor2d(await read('case0.c_cond'), [1, 25]);
    const ws = gen.mapping(z, cCond, { psi: 1, cutoff: null });
    const planes = gen.planes(ws, { noiseMode: 'const' });
    const xyz = tf.tensor3d(await read('points.xyz'), [1, 4096, 3]);
    const feats = sampleTriplanes(planes, xyz, gen.config.rendering.boxWarp);
    const flat = feats.reshape([4096, -1]) as tf.Tensor2D;
    const dec = decodeTriplaneFeatures(flat, gen.weights, { lrMul: gen.config.decoder.lrMul });
    const rel = (a: ArrayLike<number>, b: Float32Array) => {
      let e = 0;
      let mag = 0;
      for (let i = 0; i < b.length; i++) {
        e = Math.max(e, Math.abs(a[i] - b[i]));
        mag = Math.max(mag, Math.abs(b[i]));
      }
      return e / mag;
    };
    const errs = {
      features: rel(await feats.data(), await read('points.features')),
      sigma: rel(await dec.sigma.data(), await read('points.sigma')),
      rgb: rel(await dec.rgb.data(), await read('points.rgb')),
    };
    console.log(`points vs fixture (rel. max abs err): features ${errs.features.toExponential(2)}, sigma ${errs.sigma.toExponential(2)}, rgb ${errs.rgb.toExponential(2)}`);
    expect(errs.features).toBeLessThan(1e-4);
    expect(errs.sigma).toBeLessThan(1e-4);
    expect(errs.rgb).toBeLessThan(1e-4);
    tf.dispose([z, cCond, ws, planes, xyz, feats, flat, dec.sigma, dec.rgb]);
    expect(tf.memory().numTensors).toBe(before);
    gen.dispose();
  });
});

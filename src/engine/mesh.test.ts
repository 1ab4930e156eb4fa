import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { openEmbeddedFile } from '../platform/node-embedded.ts';
import { cameraFromYawPitch } from '../eg3d/camera.ts';
import { pixelRay } from '../evaluate/geometry.ts';
import { marchingCubes } from '../mesh/marching-cubes.ts';
import { LocalEngine } from './local-engine.ts';
import { featureColours, meshConsistency } from './mesh.ts';
import type { MeshRequest } from './types.ts';

describe('meshConsistency', () => {
  it('rasterises a mesh into the render camera: a sphere against its exact ray-cast depth', () => {
    const n = 48;
    const r = 0.3;
    const h = 1 / (n - 1);
    const values = new Float32Array(n ** 3);
    for (let z = 0; z < n; z++) for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) values[x + n * (y + n * z)] = r - Math.hypot(-0.5 + x * h, -0.5 + y * h, -0.5 + z * h);
    const mesh = marchingCubes({ values, dims: [n, n, n], origin: [-0.5, -0.5, -0.5], spacing: [h, h, h] }, 0);
    const camera = cameraFromYawPitch(0.3, -0.1);
    const res = 64;
    // exact depth: ray–sphere intersection; the backdrop far behind (as a render's far end)
    const exact = new Float32Array(res * res);
    for (let i = 0; i < res; i++)
      for (let j = 0; j < res; j++) {
        const { origin: o, dir: d } = pixelRay(camera, res, i, j);
        const b = o[0] * d[0] + o[1] * d[1] + o[2] * d[2];
        const c = o[0] ** 2 + o[1] ** 2 + o[2] ** 2 - r * r;
        const disc = b * b - c;
        exact[i * res + j] = disc >= 0 ? -b - Math.sqrt(disc) : 3.3;
      }
    const k = meshConsistency(mesh, camera, exact, res);
    console.log(`sphere mesh vs exact depth: mean |Δ| ${k.meanError.toExponential(2)} (${k.meanErrorPct.toFixed(2)} % of ${k.headDepth.toFixed(3)}), ${k.pixels} px, coverage ${k.coverage.toFixed(3)}`);
    expect(k.pixels).toBeGreaterThan(200);
    expect(k.coverage).toBeGreaterThan(0.97);
    expect(k.meanError).toBeLessThan(2e-3);
    expect(Math.abs(k.bias)).toBeLessThan(2e-3);
    // a mesh shifted 5 cm away from the camera shows up as ≈ 5 cm
    const moved = mesh.positions.slice();
    const dir = pixelRay(camera, res, res / 2, res / 2).dir;
    for (let v = 0; v < moved.length; v += 3) for (let a = 0; a < 3; a++) moved[v + a] += 0.05 * dir[a];
    const far = meshConsistency({ positions: moved, indices: mesh.indices }, camera, exact, res);
    expect(far.meanError).toBeGreaterThan(0.04);
    expect(far.meanError).toBeLessThan(0.06);
    expect(far.residual).toBeLessThan(0.01); // a shift is all bias
    // a mirrored mesh (x → −x) is caught by the residual even when the bias is small
    const mirrored = mesh.positions.map((v, i) => (i % 3 === 0 ? -v + 0.15 : v));
    expect(meshConsistency({ positions: mirrored, indices: mesh.indices }, camera, exact, res).residual).toBeGreaterThan(0.01);
  });

  it('converts raw RGB features as the viewer converts image_raw', () => {
    expect(Array.from(featureColours(new Float32Array([0, 0.5, 1, -0.001, 1.001])))).toEqual([1, 128, 255, 0, 255]);
  });
});

describe('LocalEngine.extractMesh on the embedded demo generator', () => {
  it('extracts a coloured, closed-enough head whose depth matches the render; files; cancel; no tensor growth', async () => {
    await initNodeBackend('wasm');
    const engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }), openEmbeddedFile });
    await engine.loadGenerator({ kind: 'embedded' });
    const request: MeshRequest = { seed: 3, psi: 0.7, weights: 'source', resolution: 64, formats: ['glb', 'ply'] };
    const progress: string[] = [];
    engine.subscribe((e) => {
      if (e.type === 'mesh-progress') progress.push(`${e.stage}:${e.done}/${e.total}`);
    });
    // warm-up (first-use kernels) before counting tensors
    await engine.extractMesh({ ...request, resolution: 8, consistency: true });
    const before = tf.memory().numTensors;
    progress.length = 0;
    const m = await engine.extractMesh(request);
    expect(tf.memory().numTensors).toBe(before);
    console.log(
      `demo seed 3 at 64³: ${m.vertices} vertices, ${m.faces} faces, ${m.seconds.total.toFixed(2)} s (density ${m.seconds.density.toFixed(2)}); ` +
        `consistency ${m.consistency!.meanError.toFixed(4)} (${m.consistency!.meanErrorPct.toFixed(2)} % of head depth), bias ${m.consistency!.bias.toFixed(4)}, residual ${m.consistency!.residual.toFixed(4)}, coverage ${m.consistency!.coverage.toFixed(3)}`,
    );
    expect(m.level).toBe(10);
    expect(m.vertices).toBeGreaterThan(2000);
    expect(m.positions.length).toBe(m.vertices * 3);
    expect(m.colors.length).toBe(m.vertices * 3);
    // inside the trimmed box (30/256 of each side)
    for (let a = 0; a < 3; a++) {
      expect(m.bounds.min[a]).toBeGreaterThan(-0.5 + 0.1);
      expect(m.bounds.max[a]).toBeLessThan(0.5 - 0.1);
    }
    // colours vary (a face, not a constant)
    const reds = new Set(Array.from(m.colors.filter((_, i) => i % 3 === 0)));
    expect(reds.size).toBeGreaterThan(30);
    // the mesh is the rendered head: it covers ≥ 90 % of the render's foreground; its depth differs by a
    // near-uniform offset (the level-10 surface lies in front of the expected termination, ≈ 2.4 cm with
    // the camera 2.7 away) with a residual under 1 cm (a misplaced or mirrored mesh gives several cm)
    expect(m.consistency!.coverage).toBeGreaterThan(0.9);
    expect(m.consistency!.meanError).toBeLessThan(0.04);
    expect(m.consistency!.bias).toBeLessThan(0);
    expect(m.consistency!.residual).toBeLessThan(0.01);
    expect(new TextDecoder().decode(m.files.glb!.subarray(0, 4))).toBe('glTF');
    expect(new TextDecoder().decode(m.files.ply!.subarray(0, 3))).toBe('ply');
    expect(progress[progress.length - 1]).toBe('consistency:1/1');
    expect(progress.filter((p) => p.startsWith('density')).length).toBe(Math.ceil(64 ** 3 / 65536));

    // decimation (cells of 2 grid steps) keeps the head with a fraction of the faces
    const full32 = await engine.extractMesh({ ...request, resolution: 32, consistency: false, formats: [] });
    const dec32 = await engine.extractMesh({ ...request, resolution: 32, consistency: false, formats: [], decimate: 2 });
    expect(dec32.faces).toBeLessThan(full32.faces / 2);
    expect(dec32.faces).toBeGreaterThan(full32.faces / 8);
    expect(dec32.colors.length).toBe(dec32.vertices * 3);
    await expect(engine.extractMesh({ ...request, decimate: 0.5 })).rejects.toMatchObject({ code: 'bad-settings' });

    // cancel during the density sampling
    const running = engine.extractMesh({ ...request, resolution: 96 });
    await new Promise<void>((resolve) => {
      const off = engine.subscribe((e) => {
        if (e.type === 'mesh-progress') {
          off();
          void engine.cancelMesh().then(resolve);
        }
      });
    });
    await expect(running).rejects.toMatchObject({ code: 'cancelled' });
    expect(tf.memory().numTensors).toBe(before);
    await expect(engine.extractMesh({ ...request, weights: 'adapted' })).rejects.toMatchObject({ code: 'not-ready' });
    await expect(engine.extractMesh({ ...request, resolution: 4 })).rejects.toMatchObject({ code: 'bad-settings' });
    await engine.dispose();
  }, 120_000);
});

import { afterAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import { FIXTURES, tinyPickleBytes } from '../../src/testing/fixtures.ts';
import { initNodeBackend } from '../../src/platform/node-backend.ts';
import { MemoryByteSource } from '../../src/io/byte-source.ts';
import { sha256OfSource } from '../../src/io/sha256.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../../src/adapter/export.ts';
import { parseMeshArgs, run } from './mesh.ts';

const dir = mkdtempSync(join(tmpdir(), 'mesh-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function runCli(argv: string[]): Promise<string> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await run(argv);
    return log.mock.calls.map((c) => String(c[0])).join('\n');
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe('mesh CLI', () => {
  it('parses arguments: defaults, the format from --out, errors', () => {
    const a = parseMeshArgs(['--seed', '3', '--out', 'head.GLB', '--yaw', '-0.3']);
    expect([a.generator, a.adapted, a.seed, a.resolution, a.psi, a.smooth, a.level, a.yaw, a.consistency, a.format]).toEqual(['embedded', '', 3, 128, 0.7, 0, null, -0.3, true, 'glb']);
    expect(parseMeshArgs(['--seed', '0', '--out', 'x.ply', '--level', '2.5', '--no-consistency']).format).toBe('ply');
    expect(parseMeshArgs(['--seed', '0', '--out', 'x.ply', '--decimate', '2', '--smooth', '3'])).toMatchObject({ decimate: 2, smooth: 3 });
    expect(() => parseMeshArgs(['--out', 'x.ply'])).toThrow(/--seed is required/);
    expect(() => parseMeshArgs(['--seed', '1'])).toThrow(/--out is required/);
    expect(() => parseMeshArgs(['--seed', '1', '--out', 'x.obj'])).toThrow(/\.glb or \.ply/);
    expect(() => parseMeshArgs(['--seed', '1', '--out', 'x.ply', '--resolution', '4'])).toThrow(/integer ≥ 8/);
    expect(() => parseMeshArgs(['--seed', '1', '--out', 'x.ply', '--bogus'])).toThrow(/unknown argument/);
  });

  it('writes the tiny fixture\'s source and adapted meshes (PLY) and prints counts, times and the consistency', async () => {
    await initNodeBackend('wasm');
    // a delta whose Tri-D output layer is shifted: the adapted density (and so the mesh) differs
    const bytes = tinyPickleBytes();
    const sha = await sha256OfSource(new MemoryByteSource(bytes, 'eg3d-tiny.pkl'));
    const gen = await EG3DGenerator.fromPickle(new MemoryByteSource(bytes, 'eg3d-tiny.pkl'));
    const weights = new Map<string, tf.Tensor>();
    for (const [k, t] of gen.weights) if (isTrainableKey(k)) weights.set(k, k === 'decoder.net.2.bias' ? tf.add(t, 0.3) : t);
    const delta = join(dir, 'delta.safetensors');
    writeFileSync(delta, writeAdaptedSafetensors(weights, { baseGeneratorSha256: sha, baseGeneratorName: 'eg3d-tiny.pkl', encoders: [], settings: {}, seed: 0, iterations: { triD: 1, g2: 0 }, lossHistory: [], createdAt: '' }));
    weights.get('decoder.net.2.bias')!.dispose();
    gen.dispose();

    // the fixture's random weights keep σ in ≈ 0…2: level 1 instead of the official 10
    const common = ['--generator', `${FIXTURES}eg3d-tiny.pkl`, '--seed', '0', '--resolution', '24', '--level', '1'];
    const source = await runCli([...common, '--out', join(dir, 'source.ply')]);
    const adapted = await runCli([...common, '--adapted', delta, '--out', join(dir, 'adapted.ply')]);
    const count = (s: string) => Number(/^(\d+) vertices, (\d+) faces \(24³ grid, level 1, (source|adapted) weights\)/m.exec(s)?.[1]);
    expect(count(source)).toBeGreaterThan(100);
    expect(source).toMatch(/consistency \(64² depth, \d+ foreground px/);
    expect(source).toMatch(/^time [\d.]+ s: density grid/m);
    expect(adapted).toMatch(/adapted weights/);
    const load = (f: string) => {
      const b = readFileSync(join(dir, f));
      return new PLYLoader().parse(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
    };
    expect(load('source.ply').getAttribute('position').count).toBe(count(source));
    expect(load('adapted.ply').getAttribute('position').count).toBe(count(adapted));
    expect(count(adapted)).not.toBe(count(source));

    // the official level on these weights: no surface, said so
    const none = await runCli([...common.slice(0, -2), '--no-consistency', '--out', join(dir, 'none.glb')]);
    expect(none).toMatch(/^0 vertices/m);
    expect(none).toMatch(/no surface: σ inside the grid spans .* never crossing level 10/);
  }, 120_000);
});

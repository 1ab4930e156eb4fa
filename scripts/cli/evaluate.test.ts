import { afterAll, describe, expect, it, vi } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decode as decodePng, encode as encodePng } from 'fast-png';
import { FIXTURES, stripedReference, tinyPickleBytes } from '../../src/testing/fixtures.ts';
import { initNodeBackend } from '../../src/platform/node-backend.ts';
import { MemoryByteSource } from '../../src/io/byte-source.ts';
import { sha256OfSource } from '../../src/io/sha256.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../../src/adapter/export.ts';
import { parseEvaluateArgs, run } from './evaluate.ts';

const dir = mkdtempSync(join(tmpdir(), 'evaluate-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('evaluate CLI', () => {
  it('parses arguments with defaults', () => {
    const a = parseEvaluateArgs(['--adapted', 'd.safetensors', '--clip', 'a.pt', '--clip', 'b.pt', '--latents', '8', '--seed', '3', '--samples', '6,6', '--no-face']);
    expect(a.generator).toBe('embedded');
    expect(a.clips).toEqual(['a.pt', 'b.pt']);
    expect([a.latents, a.seed, a.psi]).toEqual([8, 3, 0.7]);
    expect(a.samples).toEqual([6, 6]);
    expect(a.face).toBe(false);
    expect(a.texture).toBe(true);
    expect(a.paletteReference).toBe('face-box');
    expect(parseEvaluateArgs(['--adapted', 'x', '--palette-reference', 'image']).paletteReference).toBe('image');
    expect(() => parseEvaluateArgs(['--adapted', 'x', '--palette-reference', 'face'])).toThrow(/face-box or image/);
    expect(() => parseEvaluateArgs(['--latents', '4'])).toThrow(/--adapted is required/);
    expect(() => parseEvaluateArgs(['--adapted', 'x', '--latents', '0'])).toThrow(/integer ≥ 1/);
    expect(() => parseEvaluateArgs(['--adapted', 'x', '--bogus'])).toThrow(/unknown argument/);
  });

  it('evaluates a delta on the tiny fixture: table, JSON and grid', async () => {
    // A delta whose Tri-D weights are scaled: the adapted generator differs from the base.
    await initNodeBackend('wasm');
    const bytes = tinyPickleBytes();
    const sha = await sha256OfSource(new MemoryByteSource(bytes, 'eg3d-tiny.pkl'));
    const gen = await EG3DGenerator.fromPickle(new MemoryByteSource(bytes, 'eg3d-tiny.pkl'));
    const weights = new Map<string, tf.Tensor>();
    for (const [k, t] of gen.weights) if (isTrainableKey(k)) weights.set(k, k.startsWith('decoder.') && k.endsWith('.weight') ? tf.mul(t, 2) : t);
    const delta = join(dir, 'delta.safetensors');
    writeFileSync(
      delta,
      writeAdaptedSafetensors(weights, { baseGeneratorSha256: sha, baseGeneratorName: 'eg3d-tiny.pkl', encoders: [], settings: {}, seed: 0, iterations: { triD: 1, g2: 0 }, lossHistory: [], createdAt: '' }),
    );
    for (const [k, t] of weights) if (k.startsWith('decoder.') && k.endsWith('.weight')) t.dispose();
    gen.dispose();
    const ref = stripedReference(48);
    const refPath = join(dir, 'ref.png');
    writeFileSync(refPath, encodePng({ width: 48, height: 48, data: new Uint8Array(ref.data.buffer), channels: 4, depth: 8 }));

    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let printed = '';
    try {
      await run([
        '--generator', `${FIXTURES}eg3d-tiny.pkl`, '--adapted', delta, '--reference', refPath, '--latents', '1', '--seed', '1',
        '--render-resolution', '32', '--samples', '6,6', '--json', join(dir, 'out.json'), '--grid', join(dir, 'grid.png'),
      ]);
      printed = log.mock.calls.map((c) => String(c[0])).join('\n');
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    expect(printed).toMatch(/identity \(crop\)/);
    expect(printed).toMatch(/^mean /m);
    expect(printed).toMatch(/stand-in for ArcFace/);
    const json = JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8'));
    expect(json.generatorSha256).toBe(sha);
    expect(json.rows).toHaveLength(1);
    expect(json.rows[0].thumbnails.source).toHaveLength(5);
    expect(json.rows[0].thumbnails.adapted[2]).toMatch(/^data:image\/png;base64,/);
    expect(json.means.identity).toBeGreaterThan(-1);
    expect(json.means.identity).toBeLessThan(1);
    expect(json.means.depthDiff).toBeGreaterThan(0);
    expect(json.means.palette.source).toBeGreaterThan(0);
    expect(json.means.texture.source).toBeGreaterThan(0);
    const grid = decodePng(readFileSync(join(dir, 'grid.png')));
    // rows: source / adapted per latent; columns: the 5 yaws
    expect([grid.width, grid.height]).toEqual([5 * 64, 2 * 64]);
  }, 300_000);
});

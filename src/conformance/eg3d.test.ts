import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../platform/node-backend.ts';
import { runEg3dConformance } from './eg3d.ts';
import { formatTable } from './report.ts';

const TINY = fileURLToPath(new URL('../../../shared/fixtures/eg3d-tiny.json', import.meta.url));

describe('EG3D conformance, tiny fixture, wasm', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('every case, the points and every gradient pass', async () => {
    const before = tf.memory().numTensors;
    const r = await runEg3dConformance(TINY, { gradBudgetGflop: 100, log: () => {} });
    console.log(formatTable(r));
    expect(r.skipped).toEqual([]);
    const names = r.rows.map((row) => row.tensor);
    for (const k of ['case0.image', 'case1.image', 'case2.image', 'case2.image_depth', 'points.rgb', 'grad.loss', 'grad.decoder.net.0.weight', 'grad.superresolution.block1.conv0.weight']) {
      expect(names).toContain(k);
    }
    expect(names.filter((n) => n.startsWith('grad.')).length).toBe(29);
    expect(r.rows.filter((row) => !row.pass)).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports gradients over budget as skipped', async () => {
    const r = await runEg3dConformance(TINY, { gradBudgetGflop: 1, log: () => {}, maxCases: 1, skipPoints: true });
    expect(r.rows.some((row) => row.tensor.startsWith('grad.'))).toBe(false);
    expect(r.skipped).toHaveLength(1);
    expect(r.skipped[0].why).toMatch(/GFLOP exceeds the gradient budget/);
  });
});

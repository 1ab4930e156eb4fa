import { describe, it, expect, beforeAll } from 'vitest';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../platform/node-backend.ts';
import { runEg3dConformance } from './eg3d.ts';
import { formatTable } from './report.ts';

const TINY = fileURLToPath(new URL('../../../shared/fixtures/eg3d-tiny.json', import.meta.url));

// WebGPU through Dawn (SwiftShader on GPU-less machines): slow, so only the forward of case 0.
describe('EG3D conformance, tiny fixture, webgpu (Node/Dawn)', () => {
  beforeAll(async () => {
    await initNodeBackend('webgpu');
  });

  it('case 0 forward (ws, planes, image_raw, depth, image) and the points pass', async () => {
    const r = await runEg3dConformance(TINY, { gradBudgetGflop: 0, log: (m) => console.log(m), maxCases: 1 });
    console.log(formatTable(r));
    const names = r.rows.map((row) => row.tensor);
    expect(names).toEqual(expect.arrayContaining(['case0.ws', 'case0.planes_stride8', 'case0.image_raw', 'case0.image_depth', 'case0.image', 'points.features']));
    expect(r.rows.filter((row) => !row.pass)).toEqual([]);
  });
});

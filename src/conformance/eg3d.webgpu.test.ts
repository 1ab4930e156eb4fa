import { it, expect } from 'vitest';
import { fileURLToPath } from 'node:url';
import { describeBackends } from '../testing/backends.ts';
import { runEg3dConformance } from './eg3d.ts';
import { formatTable } from './report.ts';

const TINY = fileURLToPath(new URL('../../../shared/fixtures/eg3d-tiny.json', import.meta.url));

// WebGPU through Dawn (SwiftShader on GPU-less machines): slow, so case 0 only — the whole network's
// forward, the points, and the loss + every decoder / superresolution gradient (the wasm leg runs
// every case: src/conformance/eg3d.test.ts).
describeBackends('EG3D conformance, tiny fixture (Node/Dawn)', (suite) => {
  it('case 0 forward (ws, planes, image_raw, depth, image), the points and the gradients pass', async () => {
    const r = await runEg3dConformance(TINY, { gradBudgetGflop: 100, log: (m) => console.log(m), maxCases: 1 });
    r.rows.forEach((row) => suite.record(row));
    console.log(formatTable(r));
    const names = r.rows.map((row) => row.tensor);
    expect(names).toEqual(expect.arrayContaining(['case0.ws', 'case0.planes_stride8', 'case0.image_raw', 'case0.image_depth', 'case0.image', 'points.features', 'grad.loss', 'grad.decoder.net.0.weight']));
    expect(r.skipped).toEqual([]);
    expect(names.filter((n) => n.startsWith('grad.')).length).toBe(29);
    expect(r.rows.filter((row) => !row.pass)).toEqual([]);
  }, 1_800_000); // ~4 min of CPU on SwiftShader; 15 min wall on this 2-core VM when it is shared
}, { only: ['webgpu'], reason: 'the wasm leg runs every case in eg3d.test.ts' });

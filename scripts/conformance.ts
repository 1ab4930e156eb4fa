/**
 * npm run conformance -- <dir> [--only eg3d|clip] [--grad-budget GFLOP] [--full] [--backend wasm|cpu|webgpu]
 * Checks every eg3d-*.json and clip-*.json fixture in <dir> against the TypeScript ports; exits 1 on any failure.
 */
import { readdirSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { initNodeBackend, type NodeBackendName } from '../src/platform/node-backend.ts';
import { formatTable, type ConformanceResult } from '../src/conformance/report.ts';

export interface ConformanceOptions {
  gradBudgetGflop: number;
  backend: NodeBackendName;
  log: (msg: string) => void;
}

function parseArgs(argv: string[]) {
  const args = { dir: '', only: '' as '' | 'eg3d' | 'clip', gradBudget: 100, backend: 'wasm' as NodeBackendName };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--only') args.only = argv[++i] as 'eg3d' | 'clip';
    else if (a === '--grad-budget') args.gradBudget = Number(argv[++i]);
    else if (a === '--full') args.gradBudget = Infinity;
    else if (a === '--backend') args.backend = argv[++i] as NodeBackendName;
    else if (!a.startsWith('--')) args.dir = a;
    else throw new Error(`unknown option ${a}`);
  }
  if (!args.dir) throw new Error('usage: npm run conformance -- <fixtures dir> [--only eg3d|clip] [--grad-budget GFLOP] [--full] [--backend wasm|cpu|webgpu]');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = resolve(args.dir);
  if (!existsSync(dir)) throw new Error(`fixtures directory not found: ${dir}`);
  await initNodeBackend(args.backend);
  const opts: ConformanceOptions = { gradBudgetGflop: args.gradBudget, backend: args.backend, log: (m) => console.log(m) };
  const files = readdirSync(dir).sort();
  const total: ConformanceResult = { rows: [], skipped: [] };
  const eg3d = files.filter((f) => /^eg3d-.*\.json$/.test(f));
  const clip = files.filter((f) => /^clip-.*\.json$/.test(f));
  if (args.only !== 'clip') {
    const { runEg3dConformance } = await import('../src/conformance/eg3d.ts');
    for (const f of eg3d) {
      const r = await runEg3dConformance(join(dir, f), opts);
      total.rows.push(...r.rows);
      total.skipped.push(...r.skipped);
    }
  }
  if (args.only !== 'eg3d') {
    const { runClipConformance } = await import('../src/conformance/clip.ts');
    for (const f of clip) {
      const r = await runClipConformance(join(dir, f), opts);
      total.rows.push(...r.rows);
      total.skipped.push(...r.skipped);
    }
  }
  if (total.rows.length === 0) throw new Error(`no fixtures checked in ${dir}`);
  console.log(`backend: ${args.backend}`);
  console.log(formatTable(total));
  process.exit(total.rows.every((r) => r.pass) ? 0 : 1);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

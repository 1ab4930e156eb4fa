/**
 * npm run bench [-- --only <section>] [--backends wasm,webgpu,cpu]
 * Each section lives in scripts/bench/<section>.ts and exports
 * `run(ctx: BenchContext): Promise<void>`; figures are printed as markdown table rows to paste
 * into docs/benchmarks.md. Sections run in a fresh process per backend so backends do not interfere.
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { initNodeBackend, type NodeBackendName } from '../src/platform/node-backend.ts';

export interface BenchContext {
  backend: NodeBackendName;
  fixturesDir: string;
  /** Prints one markdown row: | section | case | backend | value | unit | */
  report: (caseName: string, value: number, unit: string, note?: string) => void;
}

const here = dirname(fileURLToPath(import.meta.url));

async function child(section: string, backend: NodeBackendName) {
  await initNodeBackend(backend);
  const mod = (await import(join(here, 'bench', `${section}.ts`))) as { run: (ctx: BenchContext) => Promise<void> };
  await mod.run({
    backend,
    fixturesDir: join(here, '..', '..', 'shared', 'fixtures'),
    report: (c, v, u, n) => console.log(`| ${section} | ${c} | ${backend} | ${Number(v.toPrecision(4))} | ${u} | ${n ?? ''} |`),
  });
}

async function main() {
  const argv = process.argv.slice(2);
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (get('--child')) {
    await child(get('--child')!, get('--backend') as NodeBackendName);
    process.exit(0);
  }
  const sections = readdirSync(join(here, 'bench'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => f.replace(/\.ts$/, ''))
    .filter((s) => !get('--only') || get('--only')!.split(',').includes(s));
  const backends = (get('--backends') ?? 'wasm,webgpu').split(',') as NodeBackendName[];
  console.log(`machine: ${os.cpus().length}× ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
  console.log('| section | case | backend | value | unit | note |');
  console.log('|---|---|---|---|---|---|');
  let failed = false;
  for (const s of sections) {
    for (const b of backends) {
      const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', s, '--backend', b], { stdio: 'inherit' });
      if (r.status !== 0) {
        console.log(`| ${s} | (failed) | ${b} | | | exit ${r.status} |`);
        failed = true;
      }
    }
  }
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

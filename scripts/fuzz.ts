/**
 * npm run fuzz -- <fixtures dir> [--cases N] [--seed S] [--only <target>[,<target>...]] [--case I] [--timeout MS] [--large-cases N] [--show-typed]
 * Feeds truncated and mutated copies of every fixture format through the studio's readers and prints
 * counts by outcome; exits 1 when any case ends in something other than a typed format error.
 * Targets: eg3d-pkl, clip-pt, clip-hf, clip-openclip, adapted, checkpoint, eg3d-pkl-large (truncations only).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { runFuzz } from './fuzz/runner.ts';

const USAGE = 'usage: npm run fuzz -- <fixtures dir> [--cases N] [--seed S] [--only <target>[,...]] [--case I] [--timeout MS] [--large-cases N] [--show-typed]';

function parseArgs(argv: string[]) {
  const a = { dir: '', cases: 200, seed: 1, only: [] as string[], caseIndex: undefined as number | undefined, timeoutMs: 5000, largeCases: undefined as number | undefined, showTyped: false };
  const num = (v: string | undefined, what: string) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < 0) throw new Error(`${what} needs a non-negative integer\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    if (x === '--cases') a.cases = num(argv[++i], '--cases');
    else if (x === '--seed') a.seed = num(argv[++i], '--seed');
    else if (x === '--only') a.only.push(...(argv[++i] ?? '').split(',').filter(Boolean));
    else if (x === '--case') a.caseIndex = num(argv[++i], '--case');
    else if (x === '--timeout') a.timeoutMs = num(argv[++i], '--timeout');
    else if (x === '--large-cases') a.largeCases = num(argv[++i], '--large-cases');
    else if (x === '--show-typed') a.showTyped = true;
    else if (!x.startsWith('--') && !a.dir) a.dir = x;
    else throw new Error(`unknown argument ${x}\n${USAGE}`);
  }
  if (!a.dir) throw new Error(USAGE);
  return a;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const dir = resolve(args.dir);
  if (!existsSync(dir)) throw new Error(`fixtures directory not found: ${dir}`);
  const t0 = performance.now();
  console.log(`fuzz: ${args.cases} cases per target, seed ${args.seed}, ${args.timeoutMs} ms per case, fixtures ${dir}`);
  const report = await runFuzz({ dir: args.dir, cases: args.cases, seed: args.seed, only: args.only, caseIndex: args.caseIndex, timeoutMs: args.timeoutMs, largeCases: args.largeCases, showTyped: args.showTyped });
  const failed = report.failures.length;
  console.log(`fuzz: ${report.targets.reduce((s, r) => s + r.cases, 0)} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${failed ? `${failed} FAILED` : 'all ended in a load or a typed format error'}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});

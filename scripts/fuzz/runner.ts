/**
 * The loader fuzzer: for every target, loads the pristine fixture once (it must load), then `cases`
 * seeded mutations of it, each in a child process with a time bound. Outcomes are counted as ok /
 * typed format error by kind and class / failure by type. A failure is anything that is not an
 * AppError of kind 'corrupt-file' or 'incompatible-file': a TypeError, a RangeError, another error
 * kind, a hang beyond the time bound, a crash (e.g. out of memory), an allocation beyond the budget
 * a file of that size justifies, or tfjs tensors left behind.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { CaseOutcome, ChildReply, ChildRequest } from './protocol.ts';

export interface FuzzOptions {
  dir: string;
  /** Mutated cases per target. */
  cases: number;
  seed: number;
  /** Target names to run (default: all). */
  only?: string[];
  /** Run only this case index (replay). */
  caseIndex?: number;
  /** Per-case time bound (default 5 s). */
  timeoutMs?: number;
  /** Cases for the large EG3D fixture (truncations only); default max(2, cases / 100). 0 skips it. */
  largeCases?: number;
  /** Module exporting TARGETS (and optionally LARGE_TARGET); default ./targets.ts. */
  targetsModule?: string;
  /** Also log the first message of each typed-error type (to review what users would read). */
  showTyped?: boolean;
  log?: (line: string) => void;
}

export interface TargetReport {
  target: string;
  cases: number;
  ok: number;
  typed: Record<string, number>;
  failures: Record<string, number>;
  totalMs: number;
}

export interface FuzzReport {
  targets: TargetReport[];
  failures: CaseOutcome[];
  passed: boolean;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const DEFAULT_TARGETS = fileURLToPath(new URL('./targets.ts', import.meta.url));
/** Preparing a target (reading and re-writing fixtures) and the pristine load may take longer than a case. */
const PREPARE_TIMEOUT_MS = 180_000;

class Child {
  private proc: ChildProcess | null = null;
  private pending: { resolve: (r: ChildReply) => void; reject: (e: Error) => void } | null = null;
  targets: string[] = [];
  large: string | null = null;

  constructor(
    private readonly dir: string,
    private readonly targetsModule: string,
  ) {}

  get running(): boolean {
    return this.proc !== null;
  }

  async start(): Promise<void> {
    const proc = fork(CHILD, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=3072'],
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    proc.on('message', (m) => {
      if (this.proc !== proc) return;
      const p = this.pending;
      this.pending = null;
      p?.resolve(m as ChildReply);
    });
    proc.on('exit', (code, signal) => {
      // A child killed on purpose (timeout) was already replaced; only a child that died by itself fails the request.
      if (this.proc !== proc) return;
      this.proc = null;
      const p = this.pending;
      this.pending = null;
      p?.reject(new Error(`child exited (code ${code}, signal ${signal})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
    });
    this.proc = proc;
    const ready = await this.request({ type: 'init', dir: this.dir, targetsModule: this.targetsModule }, PREPARE_TIMEOUT_MS);
    if (ready.type !== 'ready') throw new Error(`fuzz child failed to start: ${ready.type === 'fatal' ? ready.message : ready.type}`);
    this.targets = ready.targets;
    this.large = ready.large;
  }

  /** Sends one request; rejects with 'timeout' after `ms` (the child is killed) or when it dies. */
  request(req: ChildRequest, ms: number): Promise<ChildReply> {
    const proc = this.proc;
    if (!proc) return Promise.reject(new Error('child not running'));
    return new Promise<ChildReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = null;
        this.kill();
        reject(new Error('timeout'));
      }, ms);
      this.pending = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      proc.send(req);
    });
  }

  kill(): void {
    const p = this.proc;
    this.proc = null;
    p?.kill('SIGKILL');
  }
}

function count(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

export function replayCommand(dir: string, o: CaseOutcome, runSeed: number): string {
  return `npm run fuzz -- ${dir} --only ${o.target} --seed ${runSeed} --case ${o.index}`;
}

export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const timeoutMs = opts.timeoutMs ?? 5000;
  const child = new Child(opts.dir, opts.targetsModule ?? DEFAULT_TARGETS);
  await child.start();
  const all = [...child.targets, ...(child.large ? [child.large] : [])];
  const names = opts.only?.length ? opts.only.filter((t, i) => all.includes(t) && opts.only!.indexOf(t) === i) : all;
  const unknown = (opts.only ?? []).filter((t) => !all.includes(t));
  if (unknown.length) {
    child.kill();
    throw new Error(`unknown fuzz target(s) ${unknown.join(', ')} (known: ${all.join(', ')})`);
  }
  const reports: TargetReport[] = [];
  const failures: CaseOutcome[] = [];
  try {
    for (const target of names) {
      const report: TargetReport = { target, cases: 0, ok: 0, typed: {}, failures: {}, totalMs: 0 };
      reports.push(report);
      let warm = false;
      const pristine = async () => {
        if (!child.running) await child.start();
        const r = await child.request({ type: 'case', target, runSeed: opts.seed, index: -1, pristine: true }, PREPARE_TIMEOUT_MS);
        if (r.type !== 'result') throw new Error(`fuzz: preparing ${target} failed: ${r.type === 'fatal' ? r.message : r.type}`);
        if (r.result.outcome !== 'ok') {
          throw new Error(`fuzz: the pristine ${target} fixture does not load (${r.result.type}: ${r.result.message}); fix that first`);
        }
        warm = true;
      };
      const n = target === child.large ? (opts.largeCases ?? Math.max(2, Math.round(opts.cases / 100))) : opts.cases;
      const indices = opts.caseIndex !== undefined ? [opts.caseIndex] : [...Array(n).keys()];
      for (const index of indices) {
        if (!warm || !child.running) await pristine();
        let outcome: CaseOutcome;
        const t0 = performance.now();
        try {
          const r = await child.request({ type: 'case', target, runSeed: opts.seed, index }, timeoutMs);
          if (r.type !== 'result') throw new Error(r.type === 'fatal' ? r.message : r.type);
          outcome = r.result;
        } catch (e) {
          const msg = (e as Error).message;
          const hang = msg === 'timeout';
          outcome = {
            target,
            index,
            seed: 0,
            steps: [],
            ms: performance.now() - t0,
            outcome: 'failure',
            type: hang ? 'hang' : /heap out of memory|Allocation failed|ERR_WORKER_OUT_OF_MEMORY/i.test(msg) ? 'out-of-memory' : 'crash',
            message: hang ? `no outcome within ${timeoutMs} ms` : msg,
          };
          warm = false;
        }
        report.cases++;
        report.totalMs += outcome.ms;
        if (outcome.outcome === 'ok') report.ok++;
        else if (outcome.outcome === 'typed') {
          if (opts.showTyped && (report.typed[outcome.type] ?? 0) < 5) log(`  ${target} #${index} ${outcome.type}: ${outcome.message} [${outcome.steps.join('; ')}]`);
          count(report.typed, outcome.type);
        }
        else {
          count(report.failures, outcome.type);
          failures.push(outcome);
          log(`FAIL ${target} #${index} ${outcome.type}: ${outcome.message ?? ''}`);
          if (outcome.steps.length) log(`  mutation (seed ${outcome.seed}): ${outcome.steps.join('; ')}`);
          if (outcome.stack) log(`  ${outcome.stack.split('\n').slice(1, 4).map((s) => s.trim()).join(' < ')}`);
          log(`  replay: ${replayCommand(opts.dir, outcome, opts.seed)}`);
        }
      }
      log(formatReport(report));
    }
  } finally {
    child.kill();
  }
  return { targets: reports, failures, passed: failures.length === 0 };
}

export function formatReport(r: TargetReport): string {
  const typedTotal = Object.values(r.typed).reduce((a, b) => a + b, 0);
  const failTotal = Object.values(r.failures).reduce((a, b) => a + b, 0);
  const list = (rec: Record<string, number>) =>
    Object.entries(rec)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
  return (
    `${r.target.padEnd(16)} ${String(r.cases).padStart(5)} cases  ok ${r.ok}  typed ${typedTotal}` +
    (typedTotal ? ` (${list(r.typed)})` : '') +
    `  failures ${failTotal}` +
    (failTotal ? ` (${list(r.failures)})` : '') +
    `  ${(r.totalMs / Math.max(1, r.cases)).toFixed(1)} ms/case`
  );
}

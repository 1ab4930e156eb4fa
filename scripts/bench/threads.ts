/**
 * One thread vs every core for the CPU fallback: the studio's browser set-up (tfjs-wasm threaded SIMD in
 * a module worker, the page cross-origin isolated by vite.config.ts' headers) measured in headless
 * Chromium on the same machine in the same run. The bench page (scripts/bench/threads/) is built with
 * the studio's vite.config.ts and served by `vite preview` (so the COOP/COEP headers under test are the
 * real ones); each configuration runs in a fresh worker and the two alternate for
 * BENCH_THREADS_ROUNDS rounds (default 3), so a change in machine load hits both. Workload per worker
 * (after one warm-up of each): BENCH_THREADS_REPS (default 2) demo-generator forwards at batch 1 and
 * step-1 (Tri-D) iterations at batch 1 with the embedded MobileNetV2 encoder, and a lone 3×3 conv2d
 * (an op XNNPACK parallelises) three times per rep. Reports each configuration's median, the median
 * over rounds of the 1-thread / N-thread time ratio, and where one forward's kernel time goes.

 *
 * Runs once, in the wasm leg (the browser picks its backend itself; Node's backend is irrelevant).
 * Node's own wasm backend stays single-threaded: see src/platform/node-backend.ts.
 */
import type { BenchContext } from '../bench.ts';
import { loadAverage as load, median, openBenchPage } from './common/browser-page.ts';
import type { ThreadsBenchRequest, ThreadsBenchResult } from './threads/worker.ts';

export async function run(ctx: BenchContext): Promise<void> {
  if (ctx.backend !== 'wasm') {
    console.log(`| threads | (browser worker) | ${ctx.backend} | | | skipped: measured once, in the wasm leg (headless Chromium picks its own backend) |`);
    return;
  }
  const rounds = Number(process.env.BENCH_THREADS_ROUNDS ?? 3);
  const reps = Number(process.env.BENCH_THREADS_REPS ?? 2);
  const { page, browser, url, close } = await openBenchPage('threads', { port: 4273, publicDir: true });
  try {
    const res = await fetch(url);
    const coop = res.headers.get('cross-origin-opener-policy');
    const coep = res.headers.get('cross-origin-embedder-policy');
    const { isolated, cores } = await page.evaluate(() => ({ isolated: globalThis.crossOriginIsolated, cores: navigator.hardwareConcurrency }));
    console.log(`threads bench: ${url} COOP=${coop} COEP=${coep}; page crossOriginIsolated=${isolated}; navigator.hardwareConcurrency=${cores}; load average before: ${load()}`);
    if (!isolated) throw new Error(`the bench page is not cross-origin isolated (COOP=${coop}, COEP=${coep}): wasm threads cannot start`);
    if (cores < 2) throw new Error(`this machine reports ${cores} core(s): nothing to compare`);

    const runIn = (threads: number): Promise<ThreadsBenchResult> =>
      page.evaluate((req: ThreadsBenchRequest) => (globalThis as unknown as { runThreads: (r: ThreadsBenchRequest) => Promise<ThreadsBenchResult> }).runThreads(req), { threads, reps });
    const results = new Map<number, ThreadsBenchResult[]>([
      [1, []],
      [cores, []],
    ]);
    const forwardRatios: number[] = [];
    const stepRatios: number[] = [];
    const convRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? [1, cores] : [cores, 1];
      const round = new Map<number, ThreadsBenchResult>();
      for (const n of order) {
        const res = await runIn(n);
        if (!res.workerIsolated) throw new Error('the bench worker is not cross-origin isolated');
        if (res.capabilities.threads !== n) throw new Error(`asked the wasm backend for ${n} thread(s), it runs ${res.capabilities.threads}: ${res.capabilities.summary}`);
        console.log(`threads bench round ${r + 1}/${rounds}, ${n} thread(s): forward ${res.forwardMs.map((x) => x.toFixed(0)).join(', ')} ms; step 1 ${res.stepMs.map((x) => x.toFixed(0)).join(', ')} ms; conv ${res.convMs.map((x) => x.toFixed(0)).join(', ')} ms; load ${load()}`);
        round.set(n, res);
        results.get(n)!.push(res);
      }
      forwardRatios.push(median(round.get(1)!.forwardMs) / median(round.get(cores)!.forwardMs));
      stepRatios.push(median(round.get(1)!.stepMs) / median(round.get(cores)!.stepMs));
      convRatios.push(median(round.get(1)!.convMs) / median(round.get(cores)!.convMs));
    }
    // Where a forward's time goes, per kernel, with 1 and N threads (medians over rounds): which kernels the pool speeds up.
    const kernelMs = (n: number, name: string) => median(results.get(n)!.map((x) => x.forwardKernelsMs[name] ?? 0));
    const names = Object.keys(results.get(1)![0].forwardKernelsMs).sort((a, b) => kernelMs(1, b) - kernelMs(1, a));
    const total1 = names.reduce((a, k) => a + kernelMs(1, k), 0);
    console.log(`threads bench: forward kernel time, 1 thread → ${cores} threads (ms, share of the 1-thread total ${total1.toFixed(0)} ms):`);
    for (const k of names.slice(0, 12)) console.log(`  ${k}: ${kernelMs(1, k).toFixed(0)} → ${kernelMs(cores, k).toFixed(0)} (${((100 * kernelMs(1, k)) / total1).toFixed(0)} %)`);
    const browserVersion = browser.version();
    const note = (n: number) => `Chromium ${browserVersion} worker, tfjs-wasm threaded SIMD, ${n} thread(s); median of ${rounds} × ${reps} runs; load avg ${load()}`;
    for (const [n, rs] of results) {
      ctx.report(`demo forward (batch 1), ${n} thread${n === 1 ? '' : 's'}`, median(rs.flatMap((x) => x.forwardMs)), 'ms', note(n));
      ctx.report(`demo step-1 iteration (batch 1), ${n} thread${n === 1 ? '' : 's'}`, median(rs.flatMap((x) => x.stepMs)), 'ms', note(n));
    }
    const ratioNote = (rs: number[]) => `1 thread / ${cores} threads time, median over ${rounds} alternating rounds (${rs.map((x) => x.toFixed(2)).join(', ')})`;
    ctx.report(`demo forward speed-up, ${cores} threads vs 1`, median(forwardRatios), '×', ratioNote(forwardRatios));
    ctx.report(`demo step-1 iteration speed-up, ${cores} threads vs 1`, median(stepRatios), '×', ratioNote(stepRatios));
    ctx.report(`conv2d 3×3 64²×128→128 speed-up, ${cores} threads vs 1`, median(convRatios), '×', ratioNote(convRatios));
  } finally {
    await close();
  }
}

/**
 * The threads bench page (scripts/bench/threads.ts drives it in headless Chromium): `runThreads(n)`
 * starts a fresh module worker — a fresh tfjs-wasm instance, since the thread count is fixed when the
 * backend initialises — runs the workload there with n threads and resolves with its timings.
 */
import type { ThreadsBenchRequest, ThreadsBenchResult } from './worker.ts';

function runThreads(request: ThreadsBenchRequest): Promise<ThreadsBenchResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: `threads-bench-${request.threads}` });
    worker.onmessage = (e: MessageEvent<ThreadsBenchResult | { error: string }>) => {
      worker.terminate();
      if ('error' in e.data) reject(new Error(e.data.error));
      else resolve(e.data);
    };
    worker.onerror = (e) => {
      worker.terminate();
      reject(new Error(`threads bench worker failed: ${e.message}`));
    };
    worker.postMessage(request);
  });
}

Object.assign(globalThis, { runThreads, benchPageReady: true });

/**
 * Backend-parameterised numeric suites (after tfjs' `describeWithFlags`). A test run is one *leg*:
 * the backend every `describeBackends` suite of the run computes on, chosen by the `TEST_BACKEND`
 * environment variable — `wasm` by default (`vitest run`), `webgpu` for `npm run test:webgpu`
 * (vitest.webgpu.config.ts sets it; Node + Dawn, SwiftShader on GPU-less machines). The oracle is the
 * pure-JS `cpu` backend (`suite.oracle(fn)` runs `fn` there and switches back) or the fixtures.
 *
 * Every comparison made through `suite.check` is recorded, and the worst error of each suite is
 * printed when the suite ends, as the conformance runner prints its rows:
 *   `[webgpu] conv2d with custom filter gradient: worst rel 3.1e-7 (tol 1e-4) at gw (stride 2 …)`.
 * Tolerances are the suites' own (written for float32 on wasm against float32 on cpu or float64 in
 * TS); the webgpu leg runs them unchanged unless a comparison says otherwise with a reason.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { compareArrays, type ConformanceRow } from './compare.ts';

export type TestBackend = 'wasm' | 'webgpu';
export const TEST_BACKENDS: readonly TestBackend[] = ['wasm', 'webgpu'];

/** The backend of this test run's leg (`TEST_BACKEND`, default wasm). */
export function testBackend(): TestBackend {
  const b = process.env.TEST_BACKEND ?? 'wasm';
  if (!(TEST_BACKENDS as readonly string[]).includes(b)) throw new Error(`TEST_BACKEND must be one of ${TEST_BACKENDS.join(', ')} (got '${b}')`);
  return b as TestBackend;
}

export interface CheckOptions {
  /** `rel` (default): max |a − r| / max |r| ≤ tol, as compareArrays; `abs`: max |a − r| ≤ tol. */
  mode?: 'rel' | 'abs';
}

export interface BackendSuite {
  /** The backend this suite's tests compute on. */
  readonly backend: TestBackend;
  readonly isWebGPU: boolean;
  /** Runs `fn` on the cpu backend (the oracle), then switches back to the suite's backend. */
  oracle<T>(fn: () => T | Promise<T>): Promise<T>;
  /** (Re)activates the suite's backend, e.g. after a test switched to another one. */
  activate(): Promise<void>;
  /** Compares, records the figure for the suite's summary line, and asserts it is within `tol`. */
  check(tensor: string, actual: ArrayLike<number>, reference: ArrayLike<number>, tol: number, opts?: CheckOptions): ConformanceRow;
  /** Records a figure measured by the test itself (asserted there), for the summary line. */
  record(row: ConformanceRow): void;
}

export interface DescribeBackendsOptions {
  /** Backends this suite runs on (default: all). Other legs register it as skipped, with `reason`. */
  only?: readonly TestBackend[];
  reason?: string;
}

function formatWorst(title: string, backend: TestBackend, rows: ConformanceRow[]): string {
  if (rows.length === 0) return `[${backend}] ${title}: no array comparisons recorded`;
  const worst = rows.reduce((a, r) => (!(r.rel / r.tol <= a.rel / a.tol) ? r : a));
  const failed = rows.filter((r) => !r.pass).length;
  return `[${backend}] ${title}: ${rows.length} comparisons, worst ${worst.rel.toExponential(2)} (tol ${worst.tol.toExponential(0)}, max abs ${worst.maxAbs.toExponential(2)}) at ${worst.tensor}${failed ? `, ${failed} FAILED` : ''}`;
}

/**
 * `describe(title)` on this leg's backend: the backend is initialised before the suite's tests
 * (after any file-level hooks) and the worst recorded error is printed after them.
 */
export function describeBackends(title: string, fn: (suite: BackendSuite) => void, opts: DescribeBackendsOptions = {}): void {
  const backend = testBackend();
  const skipped = opts.only !== undefined && !opts.only.includes(backend);
  const rows: ConformanceRow[] = [];
  const activate = async () => {
    await initNodeBackend(backend);
  };
  const suite: BackendSuite = {
    backend,
    isWebGPU: backend === 'webgpu',
    async oracle(run) {
      await initNodeBackend('cpu');
      try {
        return await run();
      } finally {
        await activate();
      }
    },
    activate,
    check(tensor, actual, reference, tol, o = {}) {
      let row = compareArrays(backend, tensor, actual, reference, tol);
      if (o.mode === 'abs') row = { ...row, rel: row.maxAbs, pass: row.maxAbs <= tol, note: 'abs' };
      rows.push(row);
      expect(row.pass, `${tensor}: ${o.mode === 'abs' ? 'max abs' : 'rel'} error ${row.rel} > ${tol} (max abs ${row.maxAbs})`).toBe(true);
      return row;
    },
    record(row) {
      rows.push(row);
    },
  };
  if (skipped) {
    // Registered (so the run lists its tests as skipped) but never run on this leg.
    describe.skip(`${title} [${opts.only!.join('/')} only${opts.reason ? `: ${opts.reason}` : ''}]`, () => fn(suite));
    return;
  }
  describe(`${title} [${backend}]`, () => {
    beforeAll(activate);
    afterAll(() => {
      console.log(formatWorst(title, backend, rows));
    });
    fn(suite);
  });
}

/**
 * Reads tensors (async: tfjs-webgpu's `dataSync` needs `OffscreenCanvas`, which Node lacks) and
 * disposes them. Values keep their keys; `number[]` for a list.
 */
export async function readAll<K extends string>(tensors: Record<K, tf.Tensor>): Promise<Record<K, Float32Array>> {
  const out = {} as Record<K, Float32Array>;
  try {
    for (const k of Object.keys(tensors) as K[]) out[k] = Float32Array.from((await tensors[k].data()) as ArrayLike<number>);
  } finally {
    tf.dispose(Object.values(tensors) as tf.Tensor[]);
  }
  return out;
}

/** Reads a scalar (async) and disposes it. */
export async function readScalar(t: tf.Tensor): Promise<number> {
  try {
    return (await t.data())[0];
  } finally {
    t.dispose();
  }
}

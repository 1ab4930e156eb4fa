/** How a fuzz case ends, decided in the child process (kept free of side effects so tests can import it). */
import { AppError } from '../../src/core/errors.ts';
import type { CaseOutcome } from './protocol.ts';

/** Largest single allocation a load of `inputBytes` may make: fp16 → f32 doubles, tfjs copies once more. */
export function allocationBudget(inputBytes: number): number {
  return 4 * inputBytes + 64 * 1024 * 1024;
}

/** Typed: an AppError of kind corrupt-file / incompatible-file. Anything else is a failure, by its type. */
export function classify(error: unknown): Pick<CaseOutcome, 'outcome' | 'type' | 'message' | 'stack'> {
  if (error instanceof AppError && (error.kind === 'corrupt-file' || error.kind === 'incompatible-file')) {
    return { outcome: 'typed', type: `${error.kind}:${error.name}`, message: error.message };
  }
  const e = error as { name?: string; message?: string; stack?: string };
  const type = error instanceof AppError ? `AppError(${error.kind}):${error.name}` : typeof e?.name === 'string' ? e.name : typeof error;
  return { outcome: 'failure', type, message: String(e?.message ?? error), stack: e?.stack };
}

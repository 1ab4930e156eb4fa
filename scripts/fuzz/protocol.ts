/** Messages between the fuzz runner and its child process. */

export type ChildRequest =
  | { type: 'init'; dir: string; targetsModule: string }
  | { type: 'case'; target: string; runSeed: number; index: number; pristine?: boolean };

export interface CaseOutcome {
  target: string;
  index: number;
  /** Seed of the mutation (derived from the run seed, the target and the index). */
  seed: number;
  steps: string[];
  ms: number;
  /** ok: loaded; typed: an AppError of kind corrupt-file / incompatible-file; failure: anything else. */
  outcome: 'ok' | 'typed' | 'failure';
  /** 'ok', '<kind>:<ErrorClass>' for typed errors, or the failure type (TypeError, hang, huge-allocation, crash, ...). */
  type: string;
  message?: string;
  stack?: string;
}

export type ChildReply =
  | { type: 'ready'; targets: string[]; large: string | null }
  | { type: 'result'; result: CaseOutcome }
  | { type: 'fatal'; message: string };

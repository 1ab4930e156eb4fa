/**
 * Evaluate slice: the evaluation report as the studio sees it — start (source vs the engine's current
 * adapted weights over N held-out latents), progress, cancel, and the result, which belongs to the
 * weights it was made for: a new run, an import or another generator marks it stale.
 */
import type { EngineEvaluation, EvaluationProgressEvent } from '../../engine/types.ts';
import { errorKind, errorMessage, type SliceContext } from './slice-context.ts';
import { isActive, type StudioState } from './studio-store.ts';

/** Held-out latents of a studio evaluation unless the user picks another number (5 views each). */
export const DEFAULT_EVALUATION_LATENTS = 8;
export const MAX_EVALUATION_LATENTS = 64;

export type EvaluationStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface EvaluationState {
  status: EvaluationStatus;
  /** Held-out latents the next evaluation uses. */
  latents: number;
  /** The engine's last progress event of the evaluation in progress. */
  progress: Omit<EvaluationProgressEvent, 'type'> | null;
  /** The last finished (or stopped early) evaluation. */
  report: EngineEvaluation | null;
  /** The weights the report was made for: `weightsVersion` and generator id when it started. */
  reportWeights: { weightsVersion: number; generatorId: string | null } | null;
  error: string | null;
}

export function initialEvaluation(): EvaluationState {
  return { status: 'idle', latents: DEFAULT_EVALUATION_LATENTS, progress: null, report: null, reportWeights: null, error: null };
}

/** True when the report was made for other weights than the engine holds now (a new run, an import, another generator). */
export function isReportStale(s: StudioState): boolean {
  const w = s.evaluation.reportWeights;
  if (!s.evaluation.report || !w) return false;
  return w.weightsVersion !== s.weightsVersion || w.generatorId !== (s.generator?.id ?? null) || !s.adaptedAvailable;
}

/** Whether "Evaluate adaptation" can start now: adapted weights exist, nothing else is running. */
export function canEvaluate(s: StudioState): boolean {
  return s.adaptedAvailable && s.generator !== null && s.loading === null && !isActive(s.run.state) && s.evaluation.status !== 'running' && s.video.status !== 'running';
}

export class EvaluateSlice {
  constructor(private readonly ctx: SliceContext) {}

  private patch(p: Partial<EvaluationState>): void {
    this.ctx.set({ evaluation: { ...this.ctx.s.evaluation, ...p } });
  }

  setLatents(n: number): void {
    const latents = Number.isFinite(n) ? Math.min(MAX_EVALUATION_LATENTS, Math.max(1, Math.round(n))) : DEFAULT_EVALUATION_LATENTS;
    this.patch({ latents });
  }

  onProgress(e: EvaluationProgressEvent): void {
    if (this.ctx.s.evaluation.status !== 'running') return;
    const { type: _, ...progress } = e;
    this.patch({ progress });
  }

  /** Runs the evaluation over `latents` held-out latents; the report replaces the previous one when it finishes. */
  async start(): Promise<void> {
    const { ctx } = this;
    const s = ctx.s;
    if (!canEvaluate(s)) {
      this.patch({ error: s.adaptedAvailable ? 'Wait for the running adaptation or evaluation to finish.' : 'There are no adapted weights to evaluate yet: run an adaptation or load adapted weights.' });
      return;
    }
    const weights = { weightsVersion: s.weightsVersion, generatorId: s.generator?.id ?? null };
    this.patch({ status: 'running', progress: null, error: null });
    try {
      const report = await ctx.engine.evaluate({ latents: s.evaluation.latents });
      this.patch({ status: report.result.stopped ? 'cancelled' : 'done', progress: null, report, reportWeights: weights });
    } catch (e) {
      if (errorKind(e) === 'cancelled') this.patch({ status: 'cancelled', progress: null });
      else this.patch({ status: 'error', progress: null, error: errorMessage(e) });
    }
  }

  /** Stops after the current latent; the rows done so far are kept as the report. */
  async cancel(): Promise<void> {
    try {
      await this.ctx.engine.cancelEvaluation();
    } catch (e) {
      this.patch({ error: errorMessage(e) });
    }
  }
}

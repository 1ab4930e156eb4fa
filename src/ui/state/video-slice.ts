/**
 * Video slice: the orbit video as the studio sees it — what it shows (source, adapted, side by side),
 * which latents, frames and length; start, progress, cancel, and the last clip (its bytes, for the
 * download and the preview). The engine renders and encodes it in the worker (renderVideo).
 */
import { parseVideoSeeds, VIDEO_LIMITS, type VideoContent, type VideoProgressEvent, type VideoResult } from '../../engine/types.ts';
import { errorKind, errorMessage, type SliceContext } from './slice-context.ts';
import { isActive, type StudioState } from './studio-store.ts';

export const DEFAULT_VIDEO_FRAMES = 60;
export const DEFAULT_VIDEO_SECONDS = 4;
export const MAX_VIDEO_FRAMES = VIDEO_LIMITS.frames;
export const MAX_VIDEO_SEEDS = VIDEO_LIMITS.seeds;

export type VideoStatus = 'idle' | 'running' | 'done' | 'cancelled' | 'error';

export interface VideoState {
  status: VideoStatus;
  content: VideoContent;
  /** Latent seeds, one row of the clip each. */
  seeds: number[];
  frames: number;
  seconds: number;
  /** The engine's last progress event of the clip in progress. */
  progress: Omit<VideoProgressEvent, 'type'> | null;
  /** The last finished clip and the seeds it shows. */
  result: VideoResult | null;
  resultSeeds: number[];
  error: string | null;
}

export function initialVideo(): VideoState {
  return { status: 'idle', content: 'side-by-side', seeds: [7], frames: DEFAULT_VIDEO_FRAMES, seconds: DEFAULT_VIDEO_SECONDS, progress: null, result: null, resultSeeds: [], error: null };
}

/** The content a clip can show now: adapted needs adapted weights. */
export function videoContentAvailable(s: StudioState, content: VideoContent): boolean {
  return content === 'source' || s.adaptedAvailable;
}

/** Whether "Make video" can start now: a generator, nothing else running, the content's weights there. */
export function canMakeVideo(s: StudioState): boolean {
  return (
    s.generator !== null &&
    s.loading === null &&
    !isActive(s.run.state) &&
    s.evaluation.status !== 'running' &&
    s.video.status !== 'running' &&
    videoContentAvailable(s, s.video.content)
  );
}

export class VideoSlice {
  constructor(private readonly ctx: SliceContext) {}

  private patch(p: Partial<VideoState>): void {
    this.ctx.set({ video: { ...this.ctx.s.video, ...p } });
  }

  setContent(content: VideoContent): void {
    this.patch({ content });
  }

  /** Sets the seeds from text; a malformed list is reported and leaves the seeds as they were. */
  setSeeds(text: string): boolean {
    const seeds = parseVideoSeeds(text);
    if (!seeds) {
      this.patch({ error: `Seeds: 1 to ${MAX_VIDEO_SEEDS} non-negative integers, e.g. "7" or "7, 11" or "3-6".` });
      return false;
    }
    this.patch({ seeds, error: null });
    return true;
  }

  setFrames(n: number): void {
    this.patch({ frames: Number.isFinite(n) ? Math.min(MAX_VIDEO_FRAMES, Math.max(2, Math.round(n))) : DEFAULT_VIDEO_FRAMES });
  }

  setSeconds(x: number): void {
    this.patch({ seconds: Number.isFinite(x) && x > 0 ? Math.min(120, Math.round(x * 10) / 10) : DEFAULT_VIDEO_SECONDS });
  }

  onProgress(e: VideoProgressEvent): void {
    if (this.ctx.s.video.status !== 'running') return;
    this.patch({ progress: { done: e.done, total: e.total } });
  }

  /** Renders and encodes the clip; it replaces the previous one when it finishes. */
  async start(): Promise<void> {
    const { ctx } = this;
    const s = ctx.s;
    if (!canMakeVideo(s)) {
      this.patch({
        error: !videoContentAvailable(s, s.video.content)
          ? 'There are no adapted weights yet: run an adaptation or load adapted weights, or make a video of the source.'
          : 'Wait for the running adaptation, evaluation or video to finish.',
      });
      return;
    }
    const { content, seeds, frames, seconds } = s.video;
    this.patch({ status: 'running', progress: null, error: null });
    try {
      const result = await ctx.engine.renderVideo({ content, seeds, frames, seconds, psi: s.viewer.psi });
      this.patch({ status: 'done', progress: null, result, resultSeeds: seeds });
    } catch (e) {
      if (errorKind(e) === 'cancelled') this.patch({ status: 'cancelled', progress: null });
      else this.patch({ status: 'error', progress: null, error: errorMessage(e) });
    }
  }

  /** Stops after the current frame; no file is made. */
  async cancel(): Promise<void> {
    try {
      await this.ctx.engine.cancelVideo();
    } catch (e) {
      this.patch({ error: errorMessage(e) });
    }
  }
}

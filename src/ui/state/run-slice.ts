/**
 * Run slice: the adaptation run as the studio sees it — its settings, start / pause / resume / stop,
 * resuming from a checkpoint (after a reload, a stop, a lost GPU device or a stopped engine worker), regular checkpoint requests,
 * the engine's run events turned into store updates, and the adapted weights' export and import.
 */
import { EngineError, type AdaptSettings, type EngineEvent } from '../../engine/types.ts';
import { appendLosses, emptyHistory } from './loss-history.ts';
import type { PersistenceSlice } from './persistence-slice.ts';
import { mergeSettings, PRESETS, validateSettings } from './settings.ts';
import { errorKind, errorMessage, type SliceContext } from './slice-context.ts';
import { initialRun, isActive, type StudioState } from './studio-store.ts';

/** Minimum time between automatic checkpoint requests during a run. */
export const CHECKPOINT_INTERVAL_MS = 30_000;

/** What the run needs of the engine slice: replacing an engine whose GPU device was lost. */
export interface EngineRestarter {
  readonly canRestart: boolean;
  restart(): Promise<boolean>;
}

export class RunSlice {
  private readonly checkpointInterval: number;
  private checkpointInFlight = false;
  private lastCheckpointRequest = -Infinity;
  /** Before a zero-shot run (settings.text): gives the engine CLIP's BPE vocabulary again if it was replaced (zero-shot-slice.ts). */
  beforeZeroShot: (() => Promise<void>) | null = null;

  constructor(
    private readonly ctx: SliceContext,
    private readonly persistence: PersistenceSlice,
    private readonly restarter: EngineRestarter,
    opts: { checkpointIntervalMs?: number } = {},
  ) {
    this.checkpointInterval = opts.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS;
  }

  // ---------------------------------------------------------------- engine events

  /** A run event from the engine (state, progress, μ_s, preview, checkpoint, error) into the store. */
  onEvent(e: Exclude<EngineEvent, { type: 'load-progress' }>): void {
    const { ctx } = this;
    const s = ctx.s;
    switch (e.type) {
      case 'state': {
        const patch: Partial<StudioState> = { run: { ...s.run, state: e.state, message: e.message } };
        if (e.state === 'done') patch.weightsVersion = s.weightsVersion + 1;
        if (e.state === 'error' && e.message) patch.engineError = s.engineError ?? { code: 'internal', message: e.message };
        ctx.set(patch);
        return;
      }
      case 'progress': {
        // μ_s progress carries placeholder zero losses: nothing is trained yet, so nothing is charted.
        const losses = e.losses && e.phase !== 'mean-embedding' ? appendLosses(s.losses, e.globalIteration, e.phase, e.losses) : s.losses;
        ctx.set({
          run: {
            ...s.run,
            phase: e.phase,
            iteration: e.iteration,
            phaseIterations: e.phaseIterations,
            globalIteration: e.globalIteration,
            totalIterations: e.totalIterations,
            itPerSec: e.itPerSec,
            etaSeconds: e.etaSeconds,
          },
          losses,
          adaptedAvailable: s.adaptedAvailable || (e.phase !== 'mean-embedding' && e.globalIteration > 0),
        });
        return;
      }
      case 'preview':
        ctx.set({ preview: e, adaptedAvailable: true, weightsVersion: s.weightsVersion + 1 });
        // The engine checkpoints on request only; ask regularly so a reload or a lost device costs little
        // (not before the first iteration: there is nothing to save yet).
        if (e.globalIteration > 0) this.requestCheckpoint(false);
        return;
      case 'checkpoint':
        this.persistence.saveCheckpoint(e.globalIteration, e.bytes);
        return;
      case 'mean-embedding': {
        const { type: _, ...report } = e;
        ctx.set({ meanEmbeddings: [...s.meanEmbeddings.filter((m) => m.encoder !== e.encoder), report] });
        return;
      }
      case 'error':
        ctx.set({ engineError: e.error, engineLost: e.error.code === 'device-lost' || e.error.fatal === true || s.engineLost });
        return;
    }
  }

  /** Asks the engine for a 'checkpoint' event (at most one request in flight, rate-limited unless forced). */
  private requestCheckpoint(force: boolean): void {
    const { ctx } = this;
    if (this.checkpointInFlight) return;
    const now = ctx.now();
    if (!force && now - this.lastCheckpointRequest < this.checkpointInterval) return;
    this.checkpointInFlight = true;
    this.lastCheckpointRequest = now;
    ctx.engine
      .checkpoint()
      .catch((e) => {
        // 'not-ready' = nothing trained yet, nothing to save; anything else is worth telling.
        if (errorKind(e) !== 'not-ready') ctx.set({ notice: `Could not take a checkpoint: ${errorMessage(e)}` });
      })
      .finally(() => {
        this.checkpointInFlight = false;
      });
  }

  // ---------------------------------------------------------------- settings

  async updateSettings(patch: Partial<AdaptSettings>): Promise<void> {
    const settings = { ...this.ctx.s.settings, ...patch };
    let settingsError: string | null = null;
    try {
      validateSettings(settings);
    } catch (e) {
      settingsError = errorMessage(e);
    }
    this.ctx.set({ settings, settingsError });
    if (!settingsError) await this.persistence.saveSettings(settings);
  }

  async applyPreset(id: string): Promise<void> {
    const p = PRESETS.find((x) => x.id === id);
    if (p) await this.updateSettings(p.apply(this.ctx.s.settings));
  }

  // ---------------------------------------------------------------- run control

  async start(): Promise<void> {
    const { ctx } = this;
    let settings: AdaptSettings;
    try {
      settings = validateSettings(ctx.s.settings);
    } catch (e) {
      ctx.set({ settingsError: errorMessage(e) });
      return;
    }
    if (!ctx.s.reference && !settings.text) {
      ctx.set({ engineError: { code: 'bad-reference', message: 'Choose a reference image first (or describe the target domain: zero-shot).' } });
      return;
    }
    await this.persistence.saveSettings(settings);
    // A fresh run replaces the previous checkpoint.
    await this.persistence.deleteCheckpoint();
    ctx.set({
      losses: emptyHistory(),
      preview: null,
      checkpoint: null,
      engineError: null,
      engineLost: false,
      notice: null,
      meanEmbeddings: [],
      run: { ...initialRun(), state: 'preparing', totalIterations: settings.iterations[0] + settings.iterations[1] },
    });
    await this.runEngine(async () => {
      if (settings.text) await this.beforeZeroShot?.();
      await ctx.engine.start(settings);
    });
  }

  /** Continues from the last checkpoint (after a reload, a stop, a lost GPU device or a stopped worker: a fresh engine first). */
  async resumeFromCheckpoint(): Promise<void> {
    const { ctx } = this;
    const saved = await this.persistence.savedCheckpoint();
    if (!saved) {
      ctx.set({ engineError: { code: 'not-ready', message: 'There is no saved checkpoint to resume from.' } });
      return;
    }
    if (!ctx.s.reference && !(saved.settings as { text?: unknown } | null)?.text) {
      ctx.set({ engineError: { code: 'bad-reference', message: 'The reference image is missing; choose it again to resume.' } });
      return;
    }
    if (ctx.s.engineLost && this.restarter.canRestart && !(await this.restarter.restart())) {
      ctx.set({ engineError: { code: ctx.s.engineError?.code ?? 'device-lost', message: 'The engine could not be restarted; reload the page to resume.' } });
      return;
    }
    const settings = mergeSettings(saved.settings);
    ctx.set({
      settings,
      engineError: null,
      engineLost: false,
      notice: null,
      losses: saved.losses ?? ctx.s.losses,
      meanEmbeddings: [],
      run: { ...initialRun(), state: 'preparing', globalIteration: saved.globalIteration, totalIterations: saved.totalIterations },
    });
    await this.runEngine(async () => {
      if (settings.text) await this.beforeZeroShot?.();
      await ctx.engine.start(settings, saved.bytes);
    });
  }

  private async runEngine(op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (e) {
      const code = errorKind(e) ?? 'internal';
      this.ctx.set({
        engineError: { code, message: errorMessage(e) },
        engineLost: code === 'device-lost' || (e instanceof EngineError && e.fatal) || this.ctx.s.engineLost,
        run: { ...this.ctx.s.run, state: code === 'cancelled' ? 'cancelled' : 'error' },
      });
    }
  }

  async pause(): Promise<void> {
    await this.runEngine(() => this.ctx.engine.pause());
    // A paused run is a natural point to save: a reload then restores exactly this state.
    this.requestCheckpoint(true);
  }

  async resume(): Promise<void> {
    await this.runEngine(() => this.ctx.engine.resume());
  }

  async stop(): Promise<void> {
    await this.runEngine(() => this.ctx.engine.cancel());
  }

  // ---------------------------------------------------------------- adapted weights

  async exportSafetensors(): Promise<Uint8Array> {
    return this.ctx.engine.exportSafetensors();
  }

  async exportPickle(): Promise<Uint8Array> {
    return this.ctx.engine.exportPickle();
  }

  async importAdapted(file: Blob, name: string): Promise<void> {
    const { ctx } = this;
    if (isActive(ctx.s.run.state)) {
      ctx.set({ engineError: { code: 'not-ready', message: 'Stop the running adaptation before loading adapted weights.' } });
      return;
    }
    try {
      await ctx.engine.importAdapted(file);
      ctx.set({ adaptedAvailable: true, weightsVersion: ctx.s.weightsVersion + 1, engineError: null, notice: `Loaded adapted weights from ${name}.` });
    } catch (e) {
      ctx.set({ engineError: { code: errorKind(e) ?? 'internal', message: `Could not load ${name}: ${errorMessage(e)}` } });
    }
  }
}

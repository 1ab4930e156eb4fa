/**
 * Engine slice: the engine in use and its compute backend — the backend preference (forced for this
 * page load, else stored, else 'auto'), probing the device, listening to the engine's events, and
 * starting a fresh engine after a lost GPU device or a stopped engine worker, with the models and
 * reference the user had.
 */
import type { AdapterEngine, BackendPreference, EngineEvent } from '../../engine/types.ts';
import type { ModelsSlice } from './models-slice.ts';
import type { PersistenceSlice } from './persistence-slice.ts';
import type { ReferenceSlice } from './reference-slice.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';

export interface EngineSliceOptions {
  /** Makes a fresh engine (a new worker) to replace one whose GPU device was lost. */
  createEngine?: () => AdapterEngine;
  /** Compute backend for this page load, over the stored preference (URL `?backend=`). */
  backendPreference?: BackendPreference | null;
}

export class EngineSlice {
  private unsubscribe: (() => void) | null = null;
  private readonly createEngine: (() => AdapterEngine) | null;
  /** A preference forced for this page load (e.g. `?backend=wasm`), over the stored one. */
  private forcedBackend: BackendPreference | null;

  constructor(
    private readonly ctx: SliceContext,
    private readonly persistence: PersistenceSlice,
    private readonly models: ModelsSlice,
    private readonly reference: ReferenceSlice,
    private readonly onEvent: (e: EngineEvent) => void,
    opts: EngineSliceOptions = {},
  ) {
    this.createEngine = opts.createEngine ?? null;
    this.forcedBackend = opts.backendPreference ?? null;
  }

  /** Whether a lost engine can be replaced by a fresh one. */
  get canRestart(): boolean {
    return this.createEngine !== null;
  }

  /** Starts listening to the engine in use. */
  listen(): void {
    this.unsubscribe?.();
    this.unsubscribe = this.ctx.engine.subscribe((e) => this.onEvent(e));
  }

  stopListening(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  /** The compute backend to start: forced for this page load, else stored, else 'auto'. */
  async backendPreference(): Promise<BackendPreference> {
    if (this.forcedBackend) return this.forcedBackend;
    return (await this.persistence.storedBackend()) ?? 'auto';
  }

  /** Probes the device with the preference in the store; a failure is reported, not thrown. */
  async probe(): Promise<void> {
    const { ctx } = this;
    try {
      ctx.set({ capabilities: await ctx.engine.probe(ctx.s.backendPreference), probeError: null });
    } catch (e) {
      ctx.set({ probeError: errorMessage(e) });
    }
  }

  /**
   * Stores the compute backend for the next start. The backend cannot change under loaded models, so
   * the UI reloads the page afterwards (reference, settings and checkpoint are restored).
   */
  async chooseBackend(preference: BackendPreference): Promise<void> {
    await this.persistence.saveBackend(preference);
    this.forcedBackend = null;
    this.ctx.set({ backendPreference: preference });
  }

  /**
   * After a lost GPU device or a stopped worker the engine cannot be trusted: start a fresh engine and bring back
   * the generator, encoders and reference the user had. Returns whether a generator is loaded again.
   */
  async restart(): Promise<boolean> {
    if (!this.createEngine) return false;
    const { ctx } = this;
    const old = ctx.engine;
    this.stopListening();
    // The old engine may be unusable; its disposal is best effort and must not block the restart.
    void old.dispose().catch(() => undefined);
    ctx.engine = this.createEngine();
    this.listen();
    const generator = ctx.s.generator;
    const encoders = ctx.s.encoders;
    ctx.set({ generator: null, encoders: [], notice: 'Restarting the engine…' });
    await this.probe();
    if (generator?.origin === 'file') await this.models.loadCached(generator);
    if (!ctx.s.generator) await this.models.loadEmbeddedGenerator();
    for (const e of encoders) {
      if (e.origin === 'file') await this.models.loadCached(e);
      else await this.models.loadEmbeddedEncoder();
    }
    if (ctx.s.encoders.length === 0) await this.models.loadEmbeddedEncoder();
    if (ctx.s.reference) await this.reference.apply(true);
    ctx.set({ notice: null });
    return ctx.s.generator !== null;
  }
}

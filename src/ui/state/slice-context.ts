/**
 * What the controller's slices share: the zustand store (the one source of UI truth), browser storage,
 * the image pipeline, the clock, and the engine in use (replaced by the engine slice after a lost GPU
 * device, so every slice reads it here rather than keeping its own reference).
 */
import { AppError, type ErrorKind } from '../../core/errors.ts';
import type { AdapterEngine } from '../../engine/types.ts';
import type { KeyValueStore } from '../persist/kv-store.ts';
import type { ImageToolkit } from '../reference/image-toolkit.ts';
import type { StudioState, StudioStore } from './studio-store.ts';

export class SliceContext {
  constructor(
    /** The engine in use; only the engine slice replaces it. */
    public engine: AdapterEngine,
    readonly store: StudioStore,
    readonly kv: KeyValueStore,
    readonly images: ImageToolkit,
    readonly now: () => number,
  ) {}

  get s(): StudioState {
    return this.store.getState();
  }

  set(patch: Partial<StudioState>): void {
    this.store.setState(patch);
  }
}

export function errorMessage(e: unknown): string {
  if (e instanceof AppError) return e.message;
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

/** The AppError kind of what was thrown (EngineErrors from the worker client carry theirs); undefined for anything else. */
export function errorKind(e: unknown): ErrorKind | undefined {
  return e instanceof AppError ? e.kind : undefined;
}

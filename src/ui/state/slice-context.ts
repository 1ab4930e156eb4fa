/**
 * What the controller's slices share: the zustand store (the one source of UI truth), browser storage,
 * the image pipeline, the clock, and the engine in use (replaced by the engine slice after a lost GPU
 * device, so every slice reads it here rather than keeping its own reference).
 */
import { EngineError, type AdapterEngine } from '../../engine/types.ts';
import type { KeyValueStore } from '../persist/kv-store.ts';
import { ReferenceImageError, type ImageToolkit } from '../reference/image-toolkit.ts';
import { SettingsError } from './settings.ts';
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
  if (e instanceof EngineError || e instanceof ReferenceImageError || e instanceof SettingsError) return e.message;
  if (e && typeof e === 'object' && 'message' in e && typeof (e as { message: unknown }).message === 'string') {
    return (e as { message: string }).message;
  }
  return String(e);
}

export function errorCode(e: unknown): string | undefined {
  if (e && typeof e === 'object' && 'code' in e) return String((e as { code: unknown }).code);
  return undefined;
}

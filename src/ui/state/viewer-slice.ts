/** Viewer slice: the orbit view's pose, display and strip latents, clamped to EG3D-safe values and remembered. */
import type { PersistenceSlice } from './persistence-slice.ts';
import type { SliceContext } from './slice-context.ts';
import { PITCH_LIMIT, YAW_LIMIT, type ViewerState } from './studio-store.ts';

export class ViewerSlice {
  constructor(
    private readonly ctx: SliceContext,
    private readonly persistence: PersistenceSlice,
  ) {}

  update(patch: Partial<ViewerState>): void {
    const v = { ...this.ctx.s.viewer, ...patch };
    v.yaw = Math.max(-YAW_LIMIT, Math.min(YAW_LIMIT, v.yaw));
    v.pitch = Math.max(-PITCH_LIMIT, Math.min(PITCH_LIMIT, v.pitch));
    v.zoom = Math.max(1, Math.min(3, v.zoom));
    v.split = Math.max(0, Math.min(1, v.split));
    v.strength = Math.max(0, Math.min(1, v.strength));
    this.ctx.set({ viewer: v });
    this.persistence.saveViewer(v);
  }

  /** New latents for the multi-view strip (the orbit view shows the first). */
  rerollFaces(random: () => number = Math.random): void {
    const seeds = this.ctx.s.viewer.stripSeeds.map(() => Math.floor(random() * 1_000_000));
    this.update({ stripSeeds: seeds, seed: seeds[0] });
  }
}

/**
 * Render scheduling for the viewer. The worker renders one image at a time (and shares its time with
 * training), so the viewer must never queue a backlog: while a render is in flight only the LATEST
 * request per slot is kept, older pending ones are dropped. Results for requests whose inputs are
 * unchanged are served from a small cache (source renders never change during training).
 */
import type { RenderRequest, RgbaImage } from '../../engine/types.ts';

export type RenderFn = (r: RenderRequest) => Promise<RgbaImage>;

export function requestKey(r: RenderRequest, weightsVersion: number): string {
  // Source renders (strength 0) do not depend on the adapted weights.
  const v = r.strength === 0 ? 'src' : String(weightsVersion);
  return [r.seed, r.yaw.toFixed(4), r.pitch.toFixed(4), r.psi, r.mode, r.strength.toFixed(3), v].join('|');
}

interface Pending {
  request: RenderRequest;
  version: number;
  resolve: (img: RgbaImage | null) => void;
}

export class RenderQueue {
  private pending = new Map<string, Pending>();
  private order: string[] = [];
  private lowSlots = new Set<string>();
  private busy = false;
  private cache = new Map<string, RgbaImage>();
  private disposed = false;

  constructor(
    private readonly render: RenderFn,
    private readonly cacheSize = 48,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /**
   * Requests a render for `slot` (e.g. "main-source"). Resolves with the image, or null when a newer
   * request for the same slot superseded this one before it started.
   */
  request(slot: string, request: RenderRequest, weightsVersion: number, priority: 'high' | 'low' = 'high'): Promise<RgbaImage | null> {
    const hit = this.cache.get(requestKey(request, weightsVersion));
    if (hit) {
      // A cached answer also supersedes any older pending request for the slot.
      this.pending.get(slot)?.resolve(null);
      this.pending.delete(slot);
      this.order = this.order.filter((s) => s !== slot);
      return Promise.resolve(hit);
    }
    return new Promise((resolve) => {
      const prev = this.pending.get(slot);
      if (prev) prev.resolve(null);
      else if (priority === 'high') {
        // Interactive views go ahead of background work (the multi-view strip), in request order.
        const firstLow = this.order.findIndex((s) => this.lowSlots.has(s));
        if (firstLow < 0) this.order.push(slot);
        else this.order.splice(firstLow, 0, slot);
      } else this.order.push(slot);
      if (priority === 'low') this.lowSlots.add(slot);
      else this.lowSlots.delete(slot);
      this.pending.set(slot, { request, version: weightsVersion, resolve });
      void this.pump();
    });
  }

  /** Number of requests waiting (not counting the one in flight). */
  get waiting(): number {
    return this.pending.size;
  }

  private async pump(): Promise<void> {
    if (this.busy || this.disposed) return;
    this.busy = true;
    try {
      while (this.order.length > 0 && !this.disposed) {
        const slot = this.order.shift()!;
        const p = this.pending.get(slot)!;
        this.pending.delete(slot);
        const key = requestKey(p.request, p.version);
        try {
          const cached = this.cache.get(key);
          const img = cached ?? (await this.render(p.request));
          if (!cached) this.remember(key, img);
          p.resolve(img);
        } catch (e) {
          p.resolve(null);
          this.onError(e);
        }
      }
    } finally {
      this.busy = false;
    }
  }

  private remember(key: string, img: RgbaImage): void {
    this.cache.set(key, img);
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** Withdraws pending (not yet started) requests whose slot matches; they resolve with null. */
  cancel(match: (slot: string) => boolean): void {
    for (const [slot, p] of [...this.pending]) {
      if (!match(slot)) continue;
      p.resolve(null);
      this.pending.delete(slot);
      this.lowSlots.delete(slot);
    }
    this.order = this.order.filter((s) => this.pending.has(s));
  }

  /** Drops cached adapted renders (e.g. after a new base generator is loaded). */
  clearCache(): void {
    this.cache.clear();
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
    this.order = [];
  }
}

/**
 * Render scheduling for the viewer. The worker renders one image at a time (and shares its time with
 * training), so the viewer must never queue a backlog: while a render is in flight only the LATEST
 * request per slot is kept, older pending ones are dropped. Results for requests whose inputs are
 * unchanged are served from a small cache (source renders never change during training).
 *
 * Every render belongs to a generator: the queue follows the generator the store shows (followGenerator)
 * and, when it changes, drops its cache, its pending requests and the result of the render in flight, and
 * refuses requests made for any other generator — so no view ever shows the previous generator's faces.
 */
import type { RenderRequest, RgbaImage } from '../../engine/types.ts';
import type { StudioStore } from '../state/studio-store.ts';

export type RenderFn = (r: RenderRequest) => Promise<RgbaImage>;

/** What a render depends on besides its request: the base generator and the adapted weights' version. */
export interface RenderContext {
  generatorId: string;
  weightsVersion: number;
}

export function requestKey(r: RenderRequest, context: RenderContext): string {
  // Source renders (strength 0) do not depend on the adapted weights.
  const v = r.strength === 0 ? 'src' : String(context.weightsVersion);
  return [context.generatorId, r.seed, r.yaw.toFixed(4), r.pitch.toFixed(4), r.psi, r.mode, r.strength.toFixed(3), v].join('|');
}

interface Pending {
  request: RenderRequest;
  context: RenderContext;
  resolve: (img: RgbaImage | null) => void;
}

export class RenderQueue {
  private pending = new Map<string, Pending>();
  private order: string[] = [];
  private lowSlots = new Set<string>();
  private busy = false;
  private cache = new Map<string, RgbaImage>();
  private disposed = false;
  /** The generator whose renders are wanted now (null: none loaded). */
  private generatorId: string | null = null;
  /** Bumped on a generator change: a render started before it is not delivered nor cached. */
  private epoch = 0;

  constructor(
    private readonly render: RenderFn,
    private readonly cacheSize = 48,
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  /**
   * Requests a render for `slot` (e.g. "main-source"). Resolves with the image, or null when a newer
   * request for the same slot superseded this one before it started, or when it is for a generator other
   * than the current one (or the generator changed before its result arrived).
   */
  request(slot: string, request: RenderRequest, context: RenderContext, priority: 'high' | 'low' = 'high'): Promise<RgbaImage | null> {
    if (context.generatorId !== this.generatorId || this.disposed) return Promise.resolve(null);
    const hit = this.cache.get(requestKey(request, context));
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
      this.pending.set(slot, { request, context, resolve });
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
        const key = requestKey(p.request, p.context);
        const epoch = this.epoch;
        try {
          const cached = this.cache.get(key);
          const img = cached ?? (await this.render(p.request));
          // Rendered by a generator that is no longer shown: neither delivered nor remembered.
          if (epoch !== this.epoch) {
            p.resolve(null);
            continue;
          }
          if (!cached) this.remember(key, img);
          p.resolve(img);
        } catch (e) {
          p.resolve(null);
          if (epoch === this.epoch) this.onError(e);
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

  /**
   * Switches to another generator (null: none): the cache, the pending requests and the render in flight
   * belong to the previous one and are dropped. The same id again changes nothing.
   */
  setGenerator(id: string | null): void {
    if (id === this.generatorId) return;
    this.generatorId = id;
    this.epoch++;
    this.cache.clear();
    this.cancel(() => true);
  }

  dispose(): void {
    this.disposed = true;
    for (const p of this.pending.values()) p.resolve(null);
    this.pending.clear();
    this.order = [];
  }
}

/** Keeps the queue on the generator the store shows, from now on; returns the unsubscribe function. */
export function followGenerator(queue: RenderQueue, store: StudioStore): () => void {
  queue.setGenerator(store.getState().generator?.id ?? null);
  return store.subscribe((s) => queue.setGenerator(s.generator?.id ?? null));
}

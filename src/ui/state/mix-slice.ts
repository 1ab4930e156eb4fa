/**
 * Mix slice: mixing adapted domains in the studio. Adapted-weights files dropped here become parts of a
 * mix with one weight each (equal weights when a part is added); the engine blends them
 * (AdapterEngine.mixAdapted) into the adapted weights the viewer, the multi-view strip, the evaluation and
 * the export use. Weight changes are coalesced: while the engine blends, only the latest weights are sent
 * next. The files stay here, so a fresh engine (after a lost GPU device) gets them again.
 */
import type { MixInfo, MixPartRequest } from '../../engine/types.ts';
import { errorKind, errorMessage, type SliceContext } from './slice-context.ts';
import { isActive } from './studio-store.ts';

export interface MixPartState {
  id: string;
  name: string;
  weight: number;
  iterations: { triD: number; g2: number };
  prompt?: string;
}

export interface MixState {
  parts: MixPartState[];
  busy: boolean;
  error: string | null;
  /** `weightsVersion` when the engine last installed the mix; another value means a run or an import replaced it. */
  installedVersion: number | null;
  /** The base generator the parts were made for; another generator empties the mix (mixParts). */
  generatorId: string | null;
}

const NO_PARTS: MixPartState[] = [];

/** The parts of the mix for the generator loaded now (none after a switch of base generator; a stable empty list for selectors). */
export function mixParts(s: { mix: MixState; generator: { id: string } | null }): MixPartState[] {
  return s.generator && s.mix.generatorId === s.generator.id ? s.mix.parts : NO_PARTS;
}

export function initialMix(): MixState {
  return { parts: [], busy: false, error: null, installedVersion: null, generatorId: null };
}

/** The slider range of a part's weight (the engine accepts up to ±4; the studio offers extrapolation to 1.5). */
export const MIX_WEIGHT_MIN = -0.5;
export const MIX_WEIGHT_MAX = 1.5;

export class MixSlice {
  private readonly files = new Map<string, Blob>();
  /** Parts the engine holds (sent with their file once). */
  private readonly sent = new Set<string>();
  private nextId = 1;
  private inFlight: Promise<void> | null = null;
  private again = false;

  constructor(private readonly ctx: SliceContext) {}

  private patch(p: Partial<MixState>): void {
    this.ctx.set({ mix: { ...this.ctx.s.mix, ...p } });
  }

  private refusal(): string | null {
    const s = this.ctx.s;
    if (!s.generator) return 'Load a base generator first.';
    if (isActive(s.run.state)) return 'Stop the running adaptation before mixing.';
    if (s.evaluation.status === 'running') return 'Wait for the evaluation to finish before mixing.';
    return null;
  }

  /** Adds adapted-weights files as parts; every part then weighs 1/n. */
  async add(files: { file: Blob; name: string }[]): Promise<void> {
    const why = this.refusal();
    if (why) return this.patch({ error: why });
    this.followGenerator();
    const before = this.ctx.s.mix.parts;
    const added: string[] = [];
    const parts = [...before];
    for (const f of files) {
      const id = `part-${this.nextId++}`;
      this.files.set(id, f.file);
      added.push(id);
      parts.push({ id, name: f.name, weight: 0, iterations: { triD: 0, g2: 0 } });
    }
    const equal = 1 / parts.length;
    this.patch({ parts: parts.map((p) => ({ ...p, weight: equal })), error: null });
    await this.sync();
    // A refused file (another base, a damaged file) leaves the engine's mix as it was: so does the panel.
    if (added.some((id) => !this.sent.has(id))) {
      for (const id of added) this.files.delete(id);
      this.patch({ parts: before });
    }
  }

  /** Parts belong to one base generator: after a switch the mix starts empty (the engine dropped its parts too). */
  private followGenerator(): void {
    const id = this.ctx.s.generator?.id ?? null;
    if (this.ctx.s.mix.generatorId === id) return;
    this.files.clear();
    this.sent.clear();
    this.patch({ parts: [], installedVersion: null, generatorId: id });
  }

  setWeight(id: string, weight: number): void {
    if (!Number.isFinite(weight)) return;
    const w = Math.min(MIX_WEIGHT_MAX, Math.max(MIX_WEIGHT_MIN, weight));
    this.patch({ parts: this.ctx.s.mix.parts.map((p) => (p.id === id ? { ...p, weight: w } : p)) });
    void this.sync();
  }

  async remove(id: string): Promise<void> {
    this.files.delete(id);
    this.patch({ parts: this.ctx.s.mix.parts.filter((p) => p.id !== id) });
    await this.sync();
  }

  /** Sends the current parts and weights; calls made meanwhile are folded into one follow-up. */
  sync(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.inFlight = (async () => {
      try {
        do {
          this.again = false;
          await this.send();
        } while (this.again);
      } finally {
        this.inFlight = null;
      }
    })();
    return this.inFlight;
  }

  /** Resolves when the engine has the latest parts and weights (tests, the e2e journey). */
  settled(): Promise<void> {
    return this.inFlight ?? Promise.resolve();
  }

  private request(withAllFiles: boolean): MixPartRequest[] {
    return this.ctx.s.mix.parts.map((p) => (withAllFiles || !this.sent.has(p.id) ? { id: p.id, weight: p.weight, name: p.name, file: this.files.get(p.id) } : { id: p.id, weight: p.weight }));
  }

  private async send(): Promise<void> {
    const { ctx } = this;
    const engine = ctx.engine;
    const why = this.refusal();
    if (why) return this.patch({ error: why });
    this.patch({ busy: true });
    const request = this.request(false);
    let info: MixInfo;
    try {
      try {
        info = await engine.mixAdapted(request);
      } catch (e) {
        // A fresh engine (after a lost device) holds no parts: send them all again once.
        if (errorKind(e) !== 'not-ready' || this.ctx.s.mix.parts.length === 0) throw e;
        this.sent.clear();
        info = await engine.mixAdapted(this.request(true));
      }
    } catch (e) {
      this.patch({ busy: false, error: errorMessage(e) });
      return;
    }
    this.sent.clear();
    for (const p of info.parts) this.sent.add(p.id);
    const wasMix = ctx.s.mix.installedVersion === ctx.s.weightsVersion;
    const byId = new Map(info.parts.map((p) => [p.id, p]));
    const parts = ctx.s.mix.parts.filter((p) => byId.has(p.id)).map((p) => ({ ...p, name: byId.get(p.id)!.name, iterations: byId.get(p.id)!.iterations, ...(byId.get(p.id)!.prompt !== undefined ? { prompt: byId.get(p.id)!.prompt } : {}) }));
    const weightsVersion = ctx.s.weightsVersion + 1;
    if (info.parts.length === 0) {
      // The engine dropped the blend: the adapted weights are gone only if the mix was what it held.
      ctx.set({ weightsVersion, adaptedAvailable: wasMix ? false : ctx.s.adaptedAvailable, mix: { ...ctx.s.mix, parts, busy: false, error: null, installedVersion: null } });
      return;
    }
    ctx.set({ weightsVersion, adaptedAvailable: true, mix: { ...ctx.s.mix, parts, busy: false, error: null, installedVersion: weightsVersion } });
  }
}

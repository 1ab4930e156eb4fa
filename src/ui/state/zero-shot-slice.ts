/**
 * Zero-shot slice: the text target of a run (kept in `settings.text`, so it is saved and restored with
 * the other settings) and CLIP's BPE vocabulary the text tower needs (the product does not ship it: the
 * user drops bpe_simple_vocab_16e6.txt.gz or a model's merges.txt). The vocabulary file stays here, so
 * a fresh engine (after a lost GPU device) gets it again before a run.
 */
import type { AdapterEngine, ModelInfo, TextTarget, VocabularyInfo } from '../../engine/types.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';
import type { StudioState } from './studio-store.ts';

export const DEFAULT_SOURCE_PROMPT = 'photo';
/** The text's share of the direction when a reference image is used too. */
export const DEFAULT_TEXT_WEIGHT = 0.5;

export interface ZeroShotState {
  vocabulary: VocabularyInfo | null;
  vocabularyBusy: boolean;
  vocabularyError: string | null;
}

export function initialZeroShot(): ZeroShotState {
  return { vocabulary: null, vocabularyBusy: false, vocabularyError: null };
}

/** Encoders a run would use (the selected ones, or every loaded one). */
function runEncoders(s: Pick<StudioState, 'encoders' | 'settings'>): ModelInfo[] {
  const ids = s.settings.encoders;
  return ids.length ? s.encoders.filter((e) => ids.includes(e.id)) : s.encoders;
}

/** Why zero-shot cannot run now (null when it can): a CLIP with a text tower and the vocabulary are needed. */
export function zeroShotUnavailable(s: Pick<StudioState, 'encoders' | 'settings' | 'zeroShot'>): string | null {
  if (!runEncoders(s).some((e) => e.textTower)) {
    return s.encoders.some((e) => e.textTower)
      ? 'Select a CLIP encoder with a text tower for this run.'
      : 'Zero-shot needs a CLIP file with a text tower (an OpenAI .pt or a Hugging Face CLIPModel; load it in Models): the embedded MobileNetV2 encoder has no text tower, so it cannot tell which way a description points.';
  }
  if (!s.zeroShot.vocabulary) return "Load CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz from OpenAI's CLIP, or the model's merges.txt): the text tower needs it to read the description.";
  return null;
}

/** A text target that can run: a description, a text tower and the vocabulary. */
export function zeroShotReady(s: Pick<StudioState, 'encoders' | 'settings' | 'zeroShot'>): boolean {
  const t = s.settings.text;
  return !!t && t.prompt.trim() !== '' && zeroShotUnavailable(s) === null;
}

export class ZeroShotSlice {
  private file: { blob: Blob; name: string } | null = null;
  /** The engine that has the vocabulary. */
  private loadedOn: AdapterEngine | null = null;

  constructor(
    private readonly ctx: SliceContext,
    private readonly saveText: (text: TextTarget | undefined) => Promise<void>,
  ) {}

  private patch(p: Partial<ZeroShotState>): void {
    this.ctx.set({ zeroShot: { ...this.ctx.s.zeroShot, ...p } });
  }

  /** Turns the text target on (empty description, source "photo") or off. */
  async enable(on: boolean): Promise<void> {
    if (!on) return this.saveText(undefined);
    const current = this.ctx.s.settings.text;
    await this.saveText(current ?? { prompt: '', sourcePrompt: DEFAULT_SOURCE_PROMPT, weight: DEFAULT_TEXT_WEIGHT });
  }

  async update(patch: Partial<TextTarget>): Promise<void> {
    const current = this.ctx.s.settings.text ?? { prompt: '', sourcePrompt: DEFAULT_SOURCE_PROMPT, weight: DEFAULT_TEXT_WEIGHT };
    const next = { ...current, ...patch };
    if (typeof next.weight !== 'number' || !Number.isFinite(next.weight)) next.weight = current.weight;
    next.weight = Math.min(1, Math.max(0, next.weight));
    await this.saveText(next);
  }

  async loadVocabulary(blob: Blob, name: string): Promise<void> {
    const engine = this.ctx.engine;
    this.patch({ vocabularyBusy: true, vocabularyError: null });
    try {
      const info = await engine.loadVocabulary(blob, name);
      this.file = { blob, name };
      this.loadedOn = engine;
      this.patch({ vocabulary: info, vocabularyBusy: false });
    } catch (e) {
      this.patch({ vocabularyBusy: false, vocabularyError: `Could not read ${name}: ${errorMessage(e)}` });
    }
  }

  /** Before a zero-shot run: a replaced engine gets the vocabulary again. */
  async ensureOnEngine(): Promise<void> {
    const engine = this.ctx.engine;
    if (!this.file || this.loadedOn === engine) return;
    await engine.loadVocabulary(this.file.blob, this.file.name);
    this.loadedOn = engine;
  }
}

import { describe, expect, it } from 'vitest';
import { EngineError, type AdaptSettings, type VocabularyInfo } from '../../engine/types.ts';
import { boot, FakeEngine, model } from './controller.test-doubles.ts';
import { canStart } from './studio-store.ts';
import { zeroShotReady, zeroShotUnavailable } from './zero-shot-slice.ts';

class TextEngine extends FakeEngine {
  vocabularies: string[] = [];
  async loadVocabulary(file: Blob, name: string): Promise<VocabularyInfo> {
    this.calls.push(['loadVocabulary', [name]]);
    if ((await file.text()) !== 'merges') throw new EngineError('incompatible-file', `${name} is not CLIP's BPE vocabulary`);
    this.vocabularies.push(name);
    return { name, sha256: 'a'.repeat(64), tokens: 49408 };
  }
}

const clipWithText = { ...model('clip-b32', 'encoder', 'file'), textTower: true };

describe('zero-shot slice', () => {
  it('says why the mode is unavailable: no CLIP with a text tower, then no vocabulary; a description makes the run startable without a reference', async () => {
    const { c, store } = await boot(undefined, new TextEngine());
    await c.zeroShot.enable(true);
    let s = store.getState();
    expect(s.settings.text).toEqual({ prompt: '', sourcePrompt: 'photo', weight: 0.5 });
    expect(zeroShotUnavailable(s)).toMatch(/embedded MobileNetV2 encoder has no text tower/);
    expect(canStart(s)).toBe(false);

    store.setState({ encoders: [...s.encoders, clipWithText] });
    expect(zeroShotUnavailable(store.getState())).toMatch(/BPE vocabulary/);
    await c.zeroShot.loadVocabulary(new Blob(['not it']), 'notes.txt');
    expect(store.getState().zeroShot.vocabularyError).toMatch(/notes\.txt is not CLIP's BPE vocabulary/);
    await c.zeroShot.loadVocabulary(new Blob(['merges']), 'bpe_simple_vocab_16e6.txt.gz');
    s = store.getState();
    expect(s.zeroShot.vocabulary?.tokens).toBe(49408);
    expect(zeroShotUnavailable(s)).toBeNull();
    expect(zeroShotReady(s)).toBe(false); // no description yet
    await c.zeroShot.update({ prompt: 'a pencil sketch' });
    s = store.getState();
    expect(s.reference).toBeNull();
    expect(canStart(s)).toBe(true);
    // Only a selected encoder counts.
    store.setState({ settings: { ...s.settings, encoders: ['mobilenet'] } });
    expect(zeroShotUnavailable(store.getState())).toMatch(/Select a CLIP encoder/);
  });

  it('starts the engine with the text target, giving a replaced engine the vocabulary first; off again needs a reference', async () => {
    const engine = new TextEngine();
    const { c, store } = await boot(undefined, engine);
    store.setState({ encoders: [...store.getState().encoders, clipWithText] });
    await c.zeroShot.loadVocabulary(new Blob(['merges']), 'merges.txt');
    await c.zeroShot.enable(true);
    await c.zeroShot.update({ prompt: 'ukiyo-e woodblock print', weight: 7 });
    expect(store.getState().settings.text!.weight).toBe(1);
    await c.run.start();
    const started = engine.callsOf('start')[0][0] as AdaptSettings;
    expect(started.text).toEqual({ prompt: 'ukiyo-e woodblock print', sourcePrompt: 'photo', weight: 1 });
    expect(engine.vocabularies).toEqual(['merges.txt']);

    // A fresh engine (after a lost device) gets the vocabulary before the next run.
    const fresh = new TextEngine();
    (c as unknown as { ctx: { engine: FakeEngine } }).ctx.engine = fresh;
    await c.run.start();
    expect(fresh.vocabularies).toEqual(['merges.txt']);
    expect(fresh.callsOf('start')).toHaveLength(1);

    await c.zeroShot.enable(false);
    expect(store.getState().settings.text).toBeUndefined();
    expect(canStart(store.getState())).toBe(false);
  });
});

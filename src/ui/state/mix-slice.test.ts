import { describe, expect, it } from 'vitest';
import { EngineError, type MixInfo, type MixPartRequest } from '../../engine/types.ts';
import { boot, FakeEngine, tick } from './controller.test-doubles.ts';
import { mixParts } from './mix-slice.ts';

/** FakeEngine with mixAdapted: holds parts by id, refuses files whose text is 'other-base', can be gated. */
class MixEngine extends FakeEngine {
  held = new Map<string, string>();
  gate: Promise<void> | null = null;
  async mixAdapted(parts: MixPartRequest[]): Promise<MixInfo> {
    this.calls.push(['mixAdapted', [parts.map((p) => ({ ...p }))]]);
    if (this.gate) await this.gate;
    for (const p of parts) {
      if (p.file && (await p.file.text()) === 'other-base') throw new EngineError('incompatible-file', `${p.name} was adapted from a different base generator`);
      if (!p.file && !this.held.has(p.id)) throw new EngineError('not-ready', `the mix part ${p.id} has not been loaded`);
    }
    for (const p of parts) if (p.file) this.held.set(p.id, p.name ?? p.id);
    for (const id of [...this.held.keys()]) if (!parts.some((p) => p.id === id)) this.held.delete(id);
    return { parts: parts.map((p) => ({ id: p.id, name: this.held.get(p.id)!, weight: p.weight, iterations: { triD: 3, g2: 1 }, createdAt: '' })) };
  }
}

const file = (text: string, name: string) => ({ file: new Blob([text]), name });

describe('mix slice', () => {
  it('adds parts with equal weights, sends each file once, re-blends on weight changes and bumps the weights version', async () => {
    const { c, store, engine } = await boot(undefined, new MixEngine());
    const e = engine as MixEngine;
    const v0 = store.getState().weightsVersion;
    await c.mix.add([file('a', 'a.safetensors'), file('b', 'b.safetensors')]);
    let s = store.getState();
    expect(mixParts(s).map((p) => [p.name, p.weight])).toEqual([
      ['a.safetensors', 0.5],
      ['b.safetensors', 0.5],
    ]);
    expect(s.adaptedAvailable).toBe(true);
    expect(s.weightsVersion).toBe(v0 + 1);
    expect(s.mix.installedVersion).toBe(s.weightsVersion);
    const first = e.callsOf('mixAdapted')[0][0] as MixPartRequest[];
    expect(first.every((p) => p.file instanceof Blob)).toBe(true);

    c.mix.setWeight(mixParts(s)[0].id, 0.8);
    await c.mix.settled();
    const second = e.callsOf('mixAdapted').at(-1)![0] as MixPartRequest[];
    expect(second.map((p) => [p.weight, p.file])).toEqual([
      [0.8, undefined],
      [0.5, undefined],
    ]);
    s = store.getState();
    expect(s.weightsVersion).toBe(v0 + 2);
    // Out-of-range weights are clamped to the slider's range.
    c.mix.setWeight(mixParts(s)[1].id, 7);
    await c.mix.settled();
    expect(mixParts(store.getState())[1].weight).toBe(1.5);
  });

  it('folds weight changes made while the engine blends into one follow-up call with the latest weights', async () => {
    const { c, store, engine } = await boot(undefined, new MixEngine());
    const e = engine as MixEngine;
    await c.mix.add([file('a', 'a.safetensors')]);
    const id = mixParts(store.getState())[0].id;
    let release!: () => void;
    e.gate = new Promise((r) => (release = r));
    const before = e.callsOf('mixAdapted').length;
    c.mix.setWeight(id, 0.1);
    await tick();
    c.mix.setWeight(id, 0.2);
    c.mix.setWeight(id, 0.3);
    expect(store.getState().mix.busy).toBe(true);
    e.gate = null;
    release();
    await c.mix.settled();
    const calls = e.callsOf('mixAdapted').slice(before).map((c) => (c[0] as MixPartRequest[])[0].weight);
    expect(calls).toEqual([0.1, 0.3]);
    expect(store.getState().mix.busy).toBe(false);
  });

  it('a refused file (another base) leaves the mix as it was and says why', async () => {
    const { c, store } = await boot(undefined, new MixEngine());
    await c.mix.add([file('a', 'a.safetensors')]);
    const version = store.getState().weightsVersion;
    await c.mix.add([file('other-base', 'ffhq.safetensors')]);
    const s = store.getState();
    expect(mixParts(s).map((p) => [p.name, p.weight])).toEqual([['a.safetensors', 1]]);
    expect(s.mix.error).toMatch(/ffhq\.safetensors was adapted from a different base generator/);
    expect(s.weightsVersion).toBe(version);
  });

  it('removing the last part drops the adapted weights it had installed; a fresh engine gets the files again', async () => {
    const { c, store, engine } = await boot(undefined, new MixEngine());
    const e = engine as MixEngine;
    await c.mix.add([file('a', 'a.safetensors'), file('b', 'b.safetensors')]);
    // A new engine (after a lost device) holds nothing: the slice resends every file once.
    e.held.clear();
    const [a, b] = mixParts(store.getState());
    c.mix.setWeight(a.id, 0.25);
    await c.mix.settled();
    expect(store.getState().mix.error).toBeNull();
    const last = e.callsOf('mixAdapted').at(-1)![0] as MixPartRequest[];
    expect(last.every((p) => p.file instanceof Blob)).toBe(true);
    await c.mix.remove(a.id);
    await c.mix.remove(b.id);
    const s = store.getState();
    expect(mixParts(s)).toEqual([]);
    expect(s.adaptedAvailable).toBe(false);
    expect(s.mix.installedVersion).toBeNull();
  });

  it('refuses while a run is active, and a run or import that replaces the weights marks the mix as not current', async () => {
    const { c, store, engine } = await boot(undefined, new MixEngine());
    await c.mix.add([file('a', 'a.safetensors')]);
    await c.run.importAdapted(new Blob(['w']), 'imported.safetensors');
    const s = store.getState();
    expect(s.mix.installedVersion).not.toBe(s.weightsVersion);
    store.setState({ run: { ...s.run, state: 'running' } });
    const n = (engine as MixEngine).callsOf('mixAdapted').length;
    c.mix.setWeight(mixParts(s)[0].id, 0.5);
    await c.mix.settled();
    expect((engine as MixEngine).callsOf('mixAdapted')).toHaveLength(n);
    expect(store.getState().mix.error).toMatch(/Stop the running adaptation/);
  });
});

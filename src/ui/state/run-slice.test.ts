import { describe, expect, it } from 'vitest';
import { EngineError, type EngineEvent } from '../../engine/types.ts';
import { MemoryStore } from '../persist/kv-store.ts';
import { KEYS, StudioController, type PersistedCheckpoint } from './controller.ts';
import { boot, FakeEngine, FakeImages, progress, tick } from './controller.test-doubles.ts';
import { canStart, createStudioStore } from './studio-store.ts';

describe('run slice', () => {
  it('requests checkpoints on previews (rate-limited) and when pausing', async () => {
    let now = 0;
    const engine = new FakeEngine();
    const store = createStudioStore();
    const c = new StudioController(engine, store, new MemoryStore(), new FakeImages(), { now: () => now, checkpointIntervalMs: 1000 });
    await c.init();
    await c.reference.useExample('sketch');
    await c.run.start();
    engine.checkpointBytes = new Uint8Array([7]);
    const preview: EngineEvent = { type: 'preview', globalIteration: 1, source: [], adapted: [], yaws: [0], seeds: [1] };
    engine.emit(preview);
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(1);
    expect(store.getState().checkpoint?.globalIteration).toBe(1);
    now = 500;
    engine.emit(preview);
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(1); // too soon
    now = 1500;
    engine.emit(preview);
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(2);
    await c.run.pause();
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(3); // forced on pause
  });

  it('no checkpoint is requested for the preview before the first iteration', async () => {
    const { c, engine } = await boot();
    await c.reference.useExample('sketch');
    engine.emit({ type: 'preview', globalIteration: 0, source: [], adapted: [], yaws: [0], seeds: [1] });
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(0);
  });

  it('a not-ready checkpoint answer (nothing trained yet) is not an error', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    await c.run.pause();
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(1);
    expect(store.getState().notice).toBeNull();
  });

  it('invalid settings block Start with a message', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('cartoon');
    await c.run.updateSettings({ iterations: [0, 0] });
    expect(store.getState().settingsError).toMatch(/at least one step/);
    await c.run.start();
    expect(engine.callsOf('start')).toHaveLength(0);
  });

  it('tracks a run: progress, losses, previews, checkpoints persisted', async () => {
    const { c, store, engine, kv } = await boot();
    await c.reference.useExample('sketch');
    await c.run.updateSettings({ iterations: [3, 2] });
    await c.run.start();
    expect(engine.callsOf('start')[0][0]).toMatchObject({ iterations: [3, 2] });
    expect(store.getState().run.totalIterations).toBe(5);
    engine.emit({ ...progress(0), phase: 'mean-embedding' } as EngineEvent);
    expect(store.getState().losses.total).toEqual([]);
    expect(store.getState().adaptedAvailable).toBe(false);
    engine.emit({ type: 'state', state: 'running' });
    engine.emit(progress(1));
    engine.emit(progress(2));
    let s = store.getState();
    expect(s.run.globalIteration).toBe(2);
    expect(s.losses.total.map((p) => p.value)).toEqual([9, 8]);
    expect(s.adaptedAvailable).toBe(true);
    const v = s.weightsVersion;
    engine.emit({ type: 'preview', globalIteration: 2, source: [], adapted: [], yaws: [0], seeds: [1] });
    expect(store.getState().weightsVersion).toBe(v + 1);
    engine.emit({ type: 'checkpoint', globalIteration: 2, bytes: new Uint8Array([9, 9]) });
    // Shown at once, marked stored only when the browser has it (a reload before that would not bring it back).
    expect(store.getState().checkpoint).toMatchObject({ globalIteration: 2, stored: false });
    await c.flush();
    const saved = await kv.get<PersistedCheckpoint>(KEYS.checkpoint);
    expect(saved).toMatchObject({ globalIteration: 2, totalIterations: 5, generatorId: 'demo-gen' });
    expect([...saved!.bytes]).toEqual([9, 9]);
    expect(saved!.losses.total).toHaveLength(2);
    s = store.getState();
    expect(s.checkpoint).toMatchObject({ globalIteration: 2, restored: false, stored: true });
  });

  it('device loss is reported and training resumes from the last checkpoint', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    await c.run.start();
    engine.emit(progress(2));
    engine.emit({ type: 'checkpoint', globalIteration: 2, bytes: new Uint8Array([4]) });
    await c.flush();
    engine.emit({ type: 'error', error: { code: 'device-lost', message: 'GPU device was lost' } });
    engine.emit({ type: 'state', state: 'error', message: 'GPU device was lost' });
    let s = store.getState();
    expect(s.engineLost).toBe(true);
    expect(s.engineError?.code).toBe('device-lost');
    expect(canStart(s)).toBe(true);
    await c.run.resumeFromCheckpoint();
    s = store.getState();
    expect(s.engineLost).toBe(false);
    expect(s.engineError).toBeNull();
    expect([...(engine.callsOf('start').at(-1)![1] as Uint8Array)]).toEqual([4]);
  });

  it('a rejected start (engine error) shows its code and message', async () => {
    const engine = new FakeEngine();
    engine.start = async () => {
      throw new EngineError('out-of-memory', 'Ran out of memory: batch too large');
    };
    const { c, store } = await boot(new MemoryStore(), engine);
    await c.reference.useExample('sketch');
    await c.run.start();
    expect(store.getState().engineError).toEqual({ code: 'out-of-memory', message: 'Ran out of memory: batch too large' });
    expect(store.getState().run.state).toBe('error');
  });

  it('imports adapted weights, refusing incompatible ones with the engine message', async () => {
    const { c, store, engine } = await boot();
    await c.run.importAdapted(new Blob(['st']), 'mine.safetensors');
    expect(store.getState().adaptedAvailable).toBe(true);
    engine.rejectImport = true;
    await c.run.importAdapted(new Blob(['st']), 'other.safetensors');
    expect(store.getState().engineError).toEqual({
      code: 'incompatible-file',
      message: 'Could not load other.safetensors: made for another base generator',
    });
  });
});

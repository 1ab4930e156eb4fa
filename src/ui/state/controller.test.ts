import { describe, expect, it } from 'vitest';
import { EngineError, type AdaptSettings, type GeneratorSource } from '../../engine/types.ts';
import { MemoryStore } from '../persist/kv-store.ts';
import { KEYS, StudioController } from './controller.ts';
import { boot, FakeEngine, FakeImages, progress } from './controller.test-doubles.ts';
import { canStart, createStudioStore } from './studio-store.ts';

/** A controller that can start fresh engines (as after a lost device or a dead worker), with every engine it made. */
async function restartableController(): Promise<{ engines: FakeEngine[]; store: ReturnType<typeof createStudioStore>; c: StudioController }> {
  const engines: FakeEngine[] = [];
  const make = () => {
    const e = new FakeEngine();
    engines.push(e);
    return e;
  };
  const store = createStudioStore();
  const c = new StudioController(make(), store, new MemoryStore(), new FakeImages(), { createEngine: make });
  await c.init();
  return { engines, store, c };
}

describe('StudioController (start-up, reload, engine restart)', () => {
  it('starts up: probe, embedded generator and encoder, no reference yet', async () => {
    const { store, engine } = await boot();
    const s = store.getState();
    expect(s.capabilities?.backend).toBe('wasm');
    expect(s.generator?.id).toBe('demo-gen');
    expect(s.encoders.map((e) => e.id)).toEqual(['mobilenet']);
    expect(engine.callsOf('loadGenerator')[0][0]).toEqual({ kind: 'embedded' });
    expect(canStart(s)).toBe(false);
  });

  it('starts the stored compute backend; a page-load override wins; a new choice is stored', async () => {
    const { engine } = await boot();
    expect(engine.callsOf('probe')[0]).toEqual(['auto']);

    const kv = new MemoryStore();
    await kv.set(KEYS.backend, 'wasm');
    const stored = await boot(kv);
    expect(stored.engine.callsOf('probe')[0]).toEqual(['wasm']);
    expect(stored.store.getState().backendPreference).toBe('wasm');

    const forced = new StudioController(new FakeEngine(), createStudioStore(), kv, new FakeImages(), { backendPreference: 'webgpu' });
    await forced.init();
    expect((forced.engine as FakeEngine).callsOf('probe')[0]).toEqual(['webgpu']);

    await stored.c.backend.chooseBackend('cpu');
    expect(await kv.get(KEYS.backend)).toBe('cpu');
    expect(stored.store.getState().backendPreference).toBe('cpu');

    // A stored value that is not a backend is ignored.
    await kv.set(KEYS.backend, 'quantum');
    expect((await boot(kv)).engine.callsOf('probe')[0]).toEqual(['auto']);
  });

  it('a checkpoint made on a cached generator reloads that generator first', async () => {
    const first = await boot();
    await first.c.models.loadModelFile(new Blob(['pkl']), 'ffhq.pkl');
    await first.c.reference.useExample('sketch');
    first.engine.emit({ type: 'checkpoint', globalIteration: 1, bytes: new Uint8Array([1]) });
    await first.c.flush();
    const second = await boot(first.kv);
    expect(second.store.getState().generator?.id).toBe('ffhq.pkl');
    expect(second.store.getState().checkpoint?.restored).toBe(true);
  });

  it('a reload restores reference, settings and the last checkpoint (weights re-imported)', async () => {
    const first = await boot();
    await first.c.reference.setReferenceFile(new Blob(['640x480']), 'ref.png');
    first.c.reference.previewCrop({ x: 20, y: 10, size: 400 });
    await first.c.reference.commitCrop();
    await first.c.run.updateSettings({ iterations: [4, 4], seed: 77 });
    await first.c.run.start();
    first.engine.emit(progress(3));
    first.engine.emit({ type: 'checkpoint', globalIteration: 3, bytes: new Uint8Array([1, 2, 3]) });
    await first.c.flush();
    first.c.dispose();

    const second = await boot(first.kv);
    const s = second.store.getState();
    expect(s.reference?.crop).toEqual({ x: 20, y: 10, size: 400 });
    expect(s.reference?.applied).toBe(true);
    expect(second.engine.references).toHaveLength(1);
    expect(s.settings.seed).toBe(77);
    expect(s.settings.iterations).toEqual([4, 4]);
    expect(s.checkpoint).toMatchObject({ globalIteration: 3, restored: true });
    expect(s.losses.total).toHaveLength(1);
    expect(s.adaptedAvailable).toBe(true);
    expect(second.engine.imported).toHaveLength(1);
    expect(s.notice).toMatch(/iteration 3 of 5/); // the total reported by the engine

    await second.c.run.resumeFromCheckpoint();
    const [settings, bytes] = second.engine.callsOf('start')[0] as [AdaptSettings, Uint8Array];
    expect(settings.seed).toBe(77);
    expect([...bytes]).toEqual([1, 2, 3]);
  });

  it('a checkpoint the engine cannot preview still allows resuming', async () => {
    const first = await boot();
    await first.c.reference.useExample('sketch');
    first.engine.emit({ type: 'checkpoint', globalIteration: 1, bytes: new Uint8Array([5]) });
    await first.c.flush();
    const engine = new FakeEngine();
    engine.rejectImport = true;
    const second = await boot(first.kv, engine);
    expect(second.store.getState().adaptedAvailable).toBe(false);
    expect(second.store.getState().notice).toMatch(/could not be previewed.*resume/);
  });

  it('after a lost device, resuming restarts the engine and restores models and reference', async () => {
    const { engines, store, c } = await restartableController();
    await c.models.loadModelFile(new Blob(['pkl']), 'ffhq.pkl');
    await c.reference.useExample('sketch');
    await c.run.start();
    engines[0].emit({ type: 'checkpoint', globalIteration: 2, bytes: new Uint8Array([8]) });
    await c.flush();
    engines[0].emit({ type: 'error', error: { code: 'device-lost', message: 'lost' } });
    await c.run.resumeFromCheckpoint();
    expect(engines).toHaveLength(2);
    expect(c.engine).toBe(engines[1]);
    const fresh = engines[1];
    expect(fresh.callsOf('probe')).toHaveLength(1);
    expect((fresh.callsOf('loadGenerator')[0][0] as GeneratorSource).kind).toBe('file');
    expect(fresh.callsOf('loadEncoder')).toHaveLength(1);
    expect(fresh.references).toHaveLength(1);
    expect([...(fresh.callsOf('start')[0][1] as Uint8Array)]).toEqual([8]);
    expect(store.getState().generator?.id).toBe('ffhq.pkl');
    // Events of the new engine reach the store; the old one is no longer listened to.
    fresh.emit(progress(3));
    expect(store.getState().run.globalIteration).toBe(3);
    engines[0].emit(progress(1));
    expect(store.getState().run.globalIteration).toBe(3);
  });

  it('after the engine worker dies mid-run, its start rejects and resuming runs on a fresh engine', async () => {
    const { engines, store, c } = await restartableController();
    await c.reference.useExample('sketch');
    // The worker client rejects the pending start with a fatal error when its worker dies.
    engines[0].start = async () => {
      engines[0].emit({ type: 'checkpoint', globalIteration: 1, bytes: new Uint8Array([6]) });
      throw new EngineError('out-of-memory', 'The engine worker stopped: Out of memory', { fatal: true });
    };
    await c.run.start();
    await c.flush();
    let s = store.getState();
    expect(s.engineLost).toBe(true);
    expect(s.engineError?.code).toBe('out-of-memory');
    expect(s.run.state).toBe('error');
    await c.run.resumeFromCheckpoint();
    expect(engines).toHaveLength(2);
    expect(c.engine).toBe(engines[1]);
    expect(engines[1].references).toHaveLength(1);
    expect([...(engines[1].callsOf('start')[0][1] as Uint8Array)]).toEqual([6]);
    s = store.getState();
    expect(s.engineLost).toBe(false);
    expect(s.engineError).toBeNull();
  });

  it('a non-fatal engine error does not restart the engine', async () => {
    const { engines, store, c } = await restartableController();
    await c.reference.useExample('sketch');
    engines[0].emit({ type: 'error', error: { code: 'internal', message: 'a kernel failed' } });
    expect(store.getState().engineLost).toBe(false);
    engines[0].emit({ type: 'error', error: { code: 'internal', message: 'The engine worker stopped', fatal: true } });
    expect(store.getState().engineLost).toBe(true);
  });
});

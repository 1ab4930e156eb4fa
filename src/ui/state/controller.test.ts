import { describe, expect, it } from 'vitest';
import {
  EngineError,
  type AdaptSettings,
  type AdapterEngine,
  type BackendPreference,
  type EngineEvent,
  type GeneratorSource,
  type ModelInfo,
  type RgbaImage,
} from '../../engine/types.ts';
import { MemoryStore } from '../persist/kv-store.ts';
import { ReferenceImageError, type DecodedImage, type ImageToolkit } from '../reference/image-toolkit.ts';
import { KEYS, modelFileKey, StudioController, type PersistedCheckpoint } from './controller.ts';
import { createStudioStore, canStart } from './studio-store.ts';

// ---- test doubles -------------------------------------------------------------------------------

const model = (id: string, kind: 'generator' | 'encoder', origin: 'embedded' | 'file' = 'embedded'): ModelInfo => ({
  id,
  kind,
  name: id,
  origin,
  sha256: id.padEnd(64, '0'),
  summary: `${kind} ${id}`,
  parameters: 1000,
});

/** An in-memory engine that records calls and lets the test emit events. */
class FakeEngine implements AdapterEngine {
  calls: Array<[string, unknown[]]> = [];
  listeners = new Set<(e: EngineEvent) => void>();
  references: RgbaImage[] = [];
  imported: Blob[] = [];
  failNextGenerator: EngineError | null = null;
  rejectImport = false;

  emit(e: EngineEvent) {
    for (const l of this.listeners) l(e);
  }
  private log(name: string, ...args: unknown[]) {
    this.calls.push([name, args]);
  }
  callsOf(name: string) {
    return this.calls.filter((c) => c[0] === name).map((c) => c[1]);
  }
  async probe(preference?: BackendPreference) {
    this.log('probe', preference);
    return { backend: 'wasm' as const, summary: 'No WebGPU adapter: training runs on the CPU (slow).' };
  }
  async loadGenerator(source: GeneratorSource) {
    this.log('loadGenerator', source);
    if (this.failNextGenerator) {
      const e = this.failNextGenerator;
      this.failNextGenerator = null;
      throw e;
    }
    if (source.kind === 'embedded') return model('demo-gen', 'generator');
    if (source.kind === 'file') return model(source.name, 'generator', 'file');
    return model(source.id, 'generator', 'file');
  }
  async loadEncoder() {
    this.log('loadEncoder');
    return model('mobilenet', 'encoder');
  }
  async unloadEncoder(id: string) {
    this.log('unloadEncoder', id);
  }
  async setReference(image: RgbaImage) {
    this.log('setReference', image);
    this.references.push(image);
  }
  async start(settings: AdaptSettings, resumeFrom?: Uint8Array) {
    this.log('start', settings, resumeFrom);
  }
  async pause() {
    this.log('pause');
  }
  async resume() {
    this.log('resume');
  }
  async cancel() {
    this.log('cancel');
  }
  checkpointBytes: Uint8Array | null = null;
  async checkpoint() {
    this.log('checkpoint');
    if (!this.checkpointBytes) throw new EngineError('not-ready', 'there are no adapted weights to checkpoint yet');
    this.emit({ type: 'checkpoint', globalIteration: 1, bytes: this.checkpointBytes });
  }
  async exportSafetensors() {
    return new Uint8Array([1, 2, 3]);
  }
  async exportPickle(): Promise<Uint8Array> {
    throw new EngineError('not-ready', 'the base generator did not come from a pickle');
  }
  async importAdapted(file: Blob) {
    this.log('importAdapted', file);
    if (this.rejectImport) throw new EngineError('incompatible-file', 'made for another base generator');
    this.imported.push(file);
  }
  async render(): Promise<RgbaImage> {
    return { width: 1, height: 1, data: new Uint8ClampedArray(4) };
  }
  subscribe(l: (e: EngineEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async dispose() {}
}

/** Images are "decoded" from blobs whose text is `WxH`; anything else is not an image. */
class FakeImages implements ImageToolkit {
  released: DecodedImage[] = [];
  /** When set, decoding waits for this promise (a slow, huge image). */
  decodeGate: Promise<void> | null = null;
  async decode(file: Blob, name: string): Promise<DecodedImage> {
    if (this.decodeGate) await this.decodeGate;
    const m = /^(\d+)x(\d+)$/.exec(await file.text());
    if (!m) throw new ReferenceImageError('not-image', `${name} is not an image`);
    const w = Number(m[1]), h = Number(m[2]);
    return { name, width: w, height: h, originalWidth: w, originalHeight: h, scaled: false, bitmap: null };
  }
  crop(_img: DecodedImage, crop: { x: number; y: number; size: number }, outSize: number): RgbaImage {
    const size = Math.min(outSize, crop.size);
    const data = new Uint8ClampedArray(size * size * 4).fill(crop.x % 256);
    return { width: size, height: size, data };
  }
  async encode(img: DecodedImage): Promise<Blob> {
    return new Blob([`${img.width}x${img.height}`]);
  }
  async example(id: string): Promise<DecodedImage> {
    return { name: id, width: 512, height: 512, originalWidth: 512, originalHeight: 512, scaled: false, bitmap: null };
  }
  release(img: DecodedImage) {
    this.released.push(img);
  }
}

async function boot(kv = new MemoryStore(), engine = new FakeEngine()) {
  const store = createStudioStore();
  const c = new StudioController(engine, store, kv, new FakeImages(), { now: () => 1234 });
  await c.init();
  return { c, store, engine, kv };
}

const progress = (globalIteration: number, phase: 'tri-d' | 'g2' = 'tri-d'): EngineEvent => ({
  type: 'progress',
  phase,
  iteration: globalIteration,
  phaseIterations: 3,
  globalIteration,
  totalIterations: 5,
  losses: { total: 10 - globalIteration, dir: 1, dis: 2, imageStructure: 3, featureStructure: 4 },
  itPerSec: 0.5,
  etaSeconds: 8,
});

const tick = () => new Promise((r) => setTimeout(r, 0));

// ---- tests --------------------------------------------------------------------------------------

describe('StudioController', () => {
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

    await stored.c.chooseBackend('cpu');
    expect(await kv.get(KEYS.backend)).toBe('cpu');
    expect(stored.store.getState().backendPreference).toBe('cpu');

    // A stored value that is not a backend is ignored.
    await kv.set(KEYS.backend, 'quantum');
    expect((await boot(kv)).engine.callsOf('probe')[0]).toEqual(['auto']);
  });

  it('a dropped image becomes a centred square reference sent to the engine', async () => {
    const { c, store, engine, kv } = await boot();
    await c.setReferenceFile(new Blob(['800x600']), 'photo.png');
    const r = store.getState().reference!;
    expect(r.crop).toEqual({ x: 100, y: 0, size: 600 });
    expect(r.applied).toBe(true);
    expect(engine.references.at(-1)!.width).toBe(512);
    expect((await kv.get<{ name: string }>(KEYS.reference))?.name).toBe('photo.png');
    expect(canStart(store.getState())).toBe(true);
  });

  it('a non-image gives an error and keeps the previous reference', async () => {
    const { c, store, engine } = await boot();
    await c.useExample('sketch');
    const before = store.getState().reference;
    await c.setReferenceFile(new Blob(['%PDF-1.7']), 'notes.pdf');
    expect(store.getState().referenceError).toMatch(/notes\.pdf is not an image/);
    expect(store.getState().reference).toBe(before);
    expect(engine.references).toHaveLength(1);
  });

  it('a drop during a slow decode is not ignored: the newest drop wins, also when it fails', async () => {
    const images = new FakeImages();
    const store = createStudioStore();
    const c = new StudioController(new FakeEngine(), store, new MemoryStore(), images, { now: () => 1234 });
    await c.init();
    let open!: () => void;
    images.decodeGate = new Promise((r) => (open = r));
    const slow = c.setReferenceFile(new Blob(['8000x8000']), 'huge.png');
    expect(store.getState().referenceBusy).toBe(true);
    images.decodeGate = null;
    await c.setReferenceFile(new Blob(['truncated']), 'cut.png');
    expect(store.getState().referenceError).toMatch(/cut\.png/);
    open();
    await slow;
    // The older request finished last but is dropped: no reference, the newer error stays.
    expect(store.getState().reference).toBeNull();
    expect(store.getState().referenceError).toMatch(/cut\.png/);
    expect(images.released.map((i) => i.name)).toEqual(['huge.png']);
    expect(store.getState().referenceBusy).toBe(false);
  });

  it('moving the crop re-sends the reference only on commit', async () => {
    const { c, store, engine } = await boot();
    await c.setReferenceFile(new Blob(['800x600']), 'a.png');
    c.previewCrop({ x: 900, y: 0, size: 300 });
    expect(store.getState().reference!.crop).toEqual({ x: 500, y: 0, size: 300 });
    expect(engine.references).toHaveLength(1);
    await c.commitCrop();
    expect(engine.references).toHaveLength(2);
    expect(engine.references[1].data[0]).toBe(500 % 256);
  });

  it('the reference cannot change during a run', async () => {
    const { c, store, engine } = await boot();
    await c.useExample('sketch');
    await c.start();
    engine.emit({ type: 'state', state: 'running' });
    const ref = store.getState().reference;
    await c.setReferenceFile(new Blob(['800x600']), 'b.png');
    c.previewCrop({ x: 10, y: 10, size: 100 });
    expect(store.getState().reference).toBe(ref);
    expect(store.getState().referenceError).toMatch(/Stop the running adaptation/);
    expect(engine.references).toHaveLength(1);
  });

  it('a failing generator file reports the error and keeps the previous generator', async () => {
    const { c, store, engine } = await boot();
    engine.failNextGenerator = new EngineError('corrupt-file', 'the pickle is truncated');
    await c.loadModelFile(new Blob(['x']), 'broken.pkl');
    const s = store.getState();
    expect(s.modelError).toMatch(/broken\.pkl: the pickle is truncated.*demo-gen.*still loaded/);
    expect(s.generator?.id).toBe('demo-gen');
    expect(s.loading).toBeNull();
  });

  it('caches file models (list + file) so a later visit loads them, and deletes them', async () => {
    const { c, store, engine, kv } = await boot();
    const file = new Blob(['pickle bytes']);
    await c.loadModelFile(file, 'ffhq.pkl');
    expect(store.getState().cachedModels.map((m) => m.id)).toEqual(['ffhq.pkl']);
    expect(await kv.get<ModelInfo[]>(KEYS.cachedModels)).toHaveLength(1);
    expect(await kv.get<Blob>(modelFileKey('ffhq.pkl'))).toBeInstanceOf(Blob);

    // Next visit: switch to it from the cached list without the user providing the file.
    const next = await boot(kv);
    expect(next.store.getState().generator?.id).toBe('demo-gen');
    await next.c.selectCachedModel('ffhq.pkl');
    const source = next.engine.callsOf('loadGenerator').at(-1)![0] as GeneratorSource;
    expect(source.kind).toBe('file');
    expect(next.store.getState().generator?.id).toBe('ffhq.pkl');

    await c.forgetCachedModel('ffhq.pkl');
    expect(await kv.get<ModelInfo[]>(KEYS.cachedModels)).toEqual([]);
    expect(await kv.get(modelFileKey('ffhq.pkl'))).toBeUndefined();
    expect(engine.callsOf('loadGenerator')).toHaveLength(2);
  });

  it('a checkpoint made on a cached generator reloads that generator first', async () => {
    const first = await boot();
    await first.c.loadModelFile(new Blob(['pkl']), 'ffhq.pkl');
    await first.c.useExample('sketch');
    first.engine.emit({ type: 'checkpoint', globalIteration: 1, bytes: new Uint8Array([1]) });
    await first.c.flush();
    const second = await boot(first.kv);
    expect(second.store.getState().generator?.id).toBe('ffhq.pkl');
    expect(second.store.getState().checkpoint?.restored).toBe(true);
  });

  it('requests checkpoints on previews (rate-limited) and when pausing', async () => {
    let now = 0;
    const engine = new FakeEngine();
    const store = createStudioStore();
    const c = new StudioController(engine, store, new MemoryStore(), new FakeImages(), { now: () => now, checkpointIntervalMs: 1000 });
    await c.init();
    await c.useExample('sketch');
    await c.start();
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
    await c.pause();
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(3); // forced on pause
  });

  it('no checkpoint is requested for the preview before the first iteration', async () => {
    const { c, engine } = await boot();
    await c.useExample('sketch');
    engine.emit({ type: 'preview', globalIteration: 0, source: [], adapted: [], yaws: [0], seeds: [1] });
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(0);
  });

  it('a not-ready checkpoint answer (nothing trained yet) is not an error', async () => {
    const { c, store, engine } = await boot();
    await c.useExample('sketch');
    await c.pause();
    await tick();
    expect(engine.callsOf('checkpoint')).toHaveLength(1);
    expect(store.getState().notice).toBeNull();
  });

  it('rejects unknown model file types without calling the engine', async () => {
    const { c, store, engine } = await boot();
    const n = engine.calls.length;
    await c.loadModelFile(new Blob(['x']), 'weights.onnx');
    expect(store.getState().modelError).toMatch(/not a model file/);
    expect(engine.calls.length).toBe(n);
  });

  it('invalid settings block Start with a message', async () => {
    const { c, store, engine } = await boot();
    await c.useExample('cartoon');
    await c.updateSettings({ iterations: [0, 0] });
    expect(store.getState().settingsError).toMatch(/at least one step/);
    await c.start();
    expect(engine.callsOf('start')).toHaveLength(0);
  });

  it('tracks a run: progress, losses, previews, checkpoints persisted', async () => {
    const { c, store, engine, kv } = await boot();
    await c.useExample('sketch');
    await c.updateSettings({ iterations: [3, 2] });
    await c.start();
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
    await c.flush();
    const saved = await kv.get<PersistedCheckpoint>(KEYS.checkpoint);
    expect(saved).toMatchObject({ globalIteration: 2, totalIterations: 5, generatorId: 'demo-gen' });
    expect([...saved!.bytes]).toEqual([9, 9]);
    expect(saved!.losses.total).toHaveLength(2);
    s = store.getState();
    expect(s.checkpoint).toMatchObject({ globalIteration: 2, restored: false });
  });

  it('a reload restores reference, settings and the last checkpoint (weights re-imported)', async () => {
    const first = await boot();
    await first.c.setReferenceFile(new Blob(['640x480']), 'ref.png');
    first.c.previewCrop({ x: 20, y: 10, size: 400 });
    await first.c.commitCrop();
    await first.c.updateSettings({ iterations: [4, 4], seed: 77 });
    await first.c.start();
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

    await second.c.resumeFromCheckpoint();
    const [settings, bytes] = second.engine.callsOf('start')[0] as [AdaptSettings, Uint8Array];
    expect(settings.seed).toBe(77);
    expect([...bytes]).toEqual([1, 2, 3]);
  });

  it('a checkpoint the engine cannot preview still allows resuming', async () => {
    const first = await boot();
    await first.c.useExample('sketch');
    first.engine.emit({ type: 'checkpoint', globalIteration: 1, bytes: new Uint8Array([5]) });
    await first.c.flush();
    const engine = new FakeEngine();
    engine.rejectImport = true;
    const second = await boot(first.kv, engine);
    expect(second.store.getState().adaptedAvailable).toBe(false);
    expect(second.store.getState().notice).toMatch(/could not be previewed.*resume/);
  });

  it('device loss is reported and training resumes from the last checkpoint', async () => {
    const { c, store, engine } = await boot();
    await c.useExample('sketch');
    await c.start();
    engine.emit(progress(2));
    engine.emit({ type: 'checkpoint', globalIteration: 2, bytes: new Uint8Array([4]) });
    await c.flush();
    engine.emit({ type: 'error', error: { code: 'device-lost', message: 'GPU device was lost' } });
    engine.emit({ type: 'state', state: 'error', message: 'GPU device was lost' });
    let s = store.getState();
    expect(s.deviceLost).toBe(true);
    expect(s.engineError?.code).toBe('device-lost');
    expect(canStart(s)).toBe(true);
    await c.resumeFromCheckpoint();
    s = store.getState();
    expect(s.deviceLost).toBe(false);
    expect(s.engineError).toBeNull();
    expect([...(engine.callsOf('start').at(-1)![1] as Uint8Array)]).toEqual([4]);
  });

  it('after a lost device, resuming restarts the engine and restores models and reference', async () => {
    const engines: FakeEngine[] = [];
    const make = () => {
      const e = new FakeEngine();
      engines.push(e);
      return e;
    };
    const store = createStudioStore();
    const kv = new MemoryStore();
    const c = new StudioController(make(), store, kv, new FakeImages(), { createEngine: make });
    await c.init();
    await c.loadModelFile(new Blob(['pkl']), 'ffhq.pkl');
    await c.useExample('sketch');
    await c.start();
    engines[0].emit({ type: 'checkpoint', globalIteration: 2, bytes: new Uint8Array([8]) });
    await c.flush();
    engines[0].emit({ type: 'error', error: { code: 'device-lost', message: 'lost' } });
    await c.resumeFromCheckpoint();
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

  it('a rejected start (engine error) shows its code and message', async () => {
    const engine = new FakeEngine();
    engine.start = async () => {
      throw new EngineError('out-of-memory', 'Ran out of memory: batch too large');
    };
    const { c, store } = await boot(new MemoryStore(), engine);
    await c.useExample('sketch');
    await c.start();
    expect(store.getState().engineError).toEqual({ code: 'out-of-memory', message: 'Ran out of memory: batch too large' });
    expect(store.getState().run.state).toBe('error');
  });

  it('imports adapted weights, refusing incompatible ones with the engine message', async () => {
    const { c, store, engine } = await boot();
    await c.importAdapted(new Blob(['st']), 'mine.safetensors');
    expect(store.getState().adaptedAvailable).toBe(true);
    engine.rejectImport = true;
    await c.importAdapted(new Blob(['st']), 'other.safetensors');
    expect(store.getState().engineError).toEqual({
      code: 'incompatible-file',
      message: 'Could not load other.safetensors: made for another base generator',
    });
  });

  it('clamps the viewer to EG3D-safe poses', async () => {
    const { c, store } = await boot();
    c.updateViewer({ yaw: 5, pitch: -5, zoom: 10, strength: 2 });
    expect(store.getState().viewer).toMatchObject({ yaw: 0.6, pitch: -0.35, zoom: 3, strength: 1 });
    c.rerollFaces(() => 0.5);
    expect(store.getState().viewer.stripSeeds).toEqual([500000, 500000, 500000]);
  });
});

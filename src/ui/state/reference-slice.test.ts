import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../persist/kv-store.ts';
import { KEYS, StudioController } from './controller.ts';
import { boot, FakeEngine, FakeImages } from './controller.test-doubles.ts';
import { canStart, createStudioStore } from './studio-store.ts';

describe('reference slice', () => {
  it('a dropped image becomes a centred square reference sent to the engine', async () => {
    const { c, store, engine, kv } = await boot();
    await c.reference.setReferenceFile(new Blob(['800x600']), 'photo.png');
    const r = store.getState().reference!;
    expect(r.crop).toEqual({ x: 100, y: 0, size: 600 });
    expect(r.applied).toBe(true);
    expect(engine.references.at(-1)!.width).toBe(512);
    expect((await kv.get<{ name: string }>(KEYS.reference))?.name).toBe('photo.png');
    expect(canStart(store.getState())).toBe(true);
  });

  it('a non-image gives an error and keeps the previous reference', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    const before = store.getState().reference;
    await c.reference.setReferenceFile(new Blob(['%PDF-1.7']), 'notes.pdf');
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
    const slow = c.reference.setReferenceFile(new Blob(['8000x8000']), 'huge.png');
    expect(store.getState().referenceBusy).toBe(true);
    images.decodeGate = null;
    await c.reference.setReferenceFile(new Blob(['truncated']), 'cut.png');
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
    await c.reference.setReferenceFile(new Blob(['800x600']), 'a.png');
    c.reference.previewCrop({ x: 900, y: 0, size: 300 });
    expect(store.getState().reference!.crop).toEqual({ x: 500, y: 0, size: 300 });
    expect(engine.references).toHaveLength(1);
    await c.reference.commitCrop();
    expect(engine.references).toHaveLength(2);
    expect(engine.references[1].data[0]).toBe(500 % 256);
  });

  it('the reference cannot change during a run', async () => {
    const { c, store, engine } = await boot();
    await c.reference.useExample('sketch');
    await c.run.start();
    engine.emit({ type: 'state', state: 'running' });
    const ref = store.getState().reference;
    await c.reference.setReferenceFile(new Blob(['800x600']), 'b.png');
    c.reference.previewCrop({ x: 10, y: 10, size: 100 });
    expect(store.getState().reference).toBe(ref);
    expect(store.getState().referenceError).toMatch(/Stop the running adaptation/);
    expect(engine.references).toHaveLength(1);
  });
});

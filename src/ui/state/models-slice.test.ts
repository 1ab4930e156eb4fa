import { describe, expect, it } from 'vitest';
import { EngineError, type GeneratorSource, type ModelInfo } from '../../engine/types.ts';
import { KEYS, modelFileKey } from './controller.ts';
import { boot } from './controller.test-doubles.ts';

describe('model library slice', () => {
  it('a failing generator file reports the error and keeps the previous generator', async () => {
    const { c, store, engine } = await boot();
    engine.failNextGenerator = new EngineError('corrupt-file', 'the pickle is truncated');
    await c.models.loadModelFile(new Blob(['x']), 'broken.pkl');
    const s = store.getState();
    expect(s.modelError).toMatch(/broken\.pkl: the pickle is truncated.*demo-gen.*still loaded/);
    expect(s.generator?.id).toBe('demo-gen');
    expect(s.loading).toBeNull();
  });

  it('caches file models (list + file) so a later visit loads them, and deletes them', async () => {
    const { c, store, engine, kv } = await boot();
    const file = new Blob(['pickle bytes']);
    await c.models.loadModelFile(file, 'ffhq.pkl');
    expect(store.getState().cachedModels.map((m) => m.id)).toEqual(['ffhq.pkl']);
    expect(await kv.get<ModelInfo[]>(KEYS.cachedModels)).toHaveLength(1);
    expect(await kv.get<Blob>(modelFileKey('ffhq.pkl'))).toBeInstanceOf(Blob);

    // Next visit: switch to it from the cached list without the user providing the file.
    const next = await boot(kv);
    expect(next.store.getState().generator?.id).toBe('demo-gen');
    await next.c.models.selectCachedModel('ffhq.pkl');
    const source = next.engine.callsOf('loadGenerator').at(-1)![0] as GeneratorSource;
    expect(source.kind).toBe('file');
    expect(next.store.getState().generator?.id).toBe('ffhq.pkl');

    await c.models.forgetCachedModel('ffhq.pkl');
    expect(await kv.get<ModelInfo[]>(KEYS.cachedModels)).toEqual([]);
    expect(await kv.get(modelFileKey('ffhq.pkl'))).toBeUndefined();
    expect(engine.callsOf('loadGenerator')).toHaveLength(2);
  });

  it('rejects unknown model file types without calling the engine', async () => {
    const { c, store, engine } = await boot();
    const n = engine.calls.length;
    await c.models.loadModelFile(new Blob(['x']), 'weights.onnx');
    expect(store.getState().modelError).toMatch(/not a model file/);
    expect(engine.calls.length).toBe(n);
  });
});

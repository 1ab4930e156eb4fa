import { describe, expect, it } from 'vitest';
import { CLIP_CONFIG_NEEDED, EngineError, type EncoderSource, type GeneratorSource, type ModelInfo } from '../../engine/types.ts';
import { KEYS, modelFileKey } from './controller.ts';
import { boot } from './controller.test-doubles.ts';
import { CONFIG_HINT, pairConfigs } from './models-slice.ts';
import { modelConfigKey } from './persistence-slice.ts';

const named = (name: string, text = name) => ({ file: new Blob([text]), name });
const encoderSources = (engine: Awaited<ReturnType<typeof boot>>['engine']) =>
  engine.callsOf('loadEncoder').map((a) => a[0] as EncoderSource | undefined).filter((x): x is EncoderSource & { kind: 'file' } => x?.kind === 'file');

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

  it('pairs a config .json with the CLIP weights dropped with it; the cached model keeps its config for the next visit', async () => {
    const { c, store, engine, kv } = await boot();
    const cfg = '{"model_cfg": {"vision_cfg": {"width": 1280, "head_width": 80}}}';
    await c.models.loadModelFiles([named('open_clip_config.json', cfg), named('open_clip_model.safetensors')]);
    const [src] = encoderSources(engine);
    expect(src.name).toBe('open_clip_model.safetensors');
    expect(src.config?.name).toBe('open_clip_config.json');
    expect(await src.config!.file.text()).toBe(cfg);
    expect(store.getState().modelError).toBeNull();
    expect(store.getState().encoders.map((m) => m.id)).toContain('open_clip_model.safetensors');
    // Cached with its config …
    const stored = await kv.get<{ file: Blob; name: string }>(modelConfigKey('open_clip_model.safetensors'));
    expect(stored?.name).toBe('open_clip_config.json');
    expect(await stored!.file.text()).toBe(cfg);

    // … so a later visit loads it the same way, config included.
    const next = await boot(kv);
    await next.c.models.selectCachedModel('open_clip_model.safetensors');
    const [again] = encoderSources(next.engine);
    expect(again.config?.name).toBe('open_clip_config.json');
    expect(await again.config!.file.text()).toBe(cfg);

    // Loaded again without a config: the stored config goes (the cache follows what was loaded); deleting drops both.
    await c.models.loadModelFiles([named('open_clip_model.safetensors')]);
    expect(await kv.get(modelConfigKey('open_clip_model.safetensors'))).toBeUndefined();
    await c.models.loadModelFiles([named('open_clip_model.safetensors'), named('open_clip_config.json', cfg)]);
    await c.models.forgetCachedModel('open_clip_model.safetensors');
    expect(await kv.get(modelConfigKey('open_clip_model.safetensors'))).toBeUndefined();
    expect(await kv.get(modelFileKey('open_clip_model.safetensors'))).toBeUndefined();
  });

  it('pairs by name when several weights come together, loads a generator dropped with them, and never guesses', async () => {
    const { c, store, engine } = await boot();
    await c.models.loadModelFiles([named('ViT-H-14.safetensors'), named('ViT-B-16.safetensors'), named('ViT-H-14.json'), named('ffhq.pkl')]);
    const sources = encoderSources(engine);
    expect(sources.map((x) => [x.name, x.config?.name])).toEqual([['ViT-H-14.safetensors', 'ViT-H-14.json'], ['ViT-B-16.safetensors', undefined]]);
    expect(store.getState().generator?.id).toBe('ffhq.pkl');

    // Two weights and a config named after neither: nothing is loaded, the message says why.
    const n = engine.calls.length;
    await c.models.loadModelFiles([named('a.safetensors'), named('b.safetensors'), named('config.json')]);
    expect(store.getState().modelError).toMatch(/Could not tell which weights config\.json belongs to/);
    expect(engine.calls.length).toBe(n);
    // Pure pairing: one config, one weights file, whatever the names.
    const w = named('model.safetensors');
    const cfg = named('config.json');
    expect(pairConfigs([w], [cfg]).pairs.get(w)).toBe(cfg);
    expect(pairConfigs([w], [cfg, named('other.json')]).unpaired).toHaveLength(2);
  });

  it('a config .json alone loads nothing and says to drop the weights with it', async () => {
    const { c, store, engine } = await boot();
    const n = engine.calls.length;
    await c.models.loadModelFiles([named('ViT-H-14.json')]);
    expect(store.getState().modelError).toMatch(/ViT-H-14\.json is a config file without weights: drop the CLIP weights \(\.safetensors \/ \.pt\) together with it/);
    expect(engine.calls.length).toBe(n);
    // The single-file path (the picker without multiple, older callers) says the same.
    await c.models.loadModelFile(new Blob(['{}']), 'config.json');
    expect(store.getState().modelError).toMatch(/config\.json is a config file without weights/);
    expect(engine.calls.length).toBe(n);
  });

  it('shows the config hint when the engine says the head count needs the config, and only then', async () => {
    const { c, store, engine } = await boot();
    engine.failNextEncoder = new EngineError('incompatible-file', `w96.safetensors: CLIP image tower: width 96 is not a multiple of 64. ${CLIP_CONFIG_NEEDED}`);
    await c.models.loadModelFiles([named('w96.safetensors')]);
    expect(store.getState().modelError).toMatch(/^Could not load w96\.safetensors: .*width 96.*loaded together with the weights\. The loaded encoders are unchanged\.$/);
    expect(store.getState().modelHint).toBe(CONFIG_HINT);
    expect(CONFIG_HINT).toMatch(/Drop the model's config JSON .* together with the weights/);

    // Another incompatible file (no marker): no hint; a successful load clears it.
    engine.failNextEncoder = new EngineError('incompatible-file', 'a ResNet CLIP is not supported');
    await c.models.loadModelFiles([named('rn50.pt')]);
    expect(store.getState().modelError).toMatch(/ResNet/);
    expect(store.getState().modelHint).toBeNull();
    engine.failNextEncoder = new EngineError('incompatible-file', `w96.safetensors: width 96. ${CLIP_CONFIG_NEEDED}`);
    await c.models.loadModelFiles([named('w96.safetensors')]);
    expect(store.getState().modelHint).toBe(CONFIG_HINT);
    await c.models.loadModelFiles([named('w96.safetensors'), named('w96.json')]);
    expect(store.getState().modelHint).toBeNull();
    expect(store.getState().modelError).toBeNull();
  });
});

/**
 * The CLIP config file through the engine: an encoder source with the model's config JSON loads with
 * the config's head count (said in ModelInfo.summary), a config of another model or a damaged one is
 * refused with the file kinds, and a file whose head count the weights cannot tell is refused with the
 * CLIP_CONFIG_NEEDED marker, then loads once its config comes with it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { Random } from '../core/random.ts';
import { FIXTURES } from '../testing/fixtures.ts';
import { LocalEngine } from './local-engine.ts';
import { CLIP_CONFIG_NEEDED, EngineError, needsClipConfig, type ModelConfigFile } from './types.ts';

const tiny = () => new Blob([readFileSync(`${FIXTURES}clip-tiny.hf.safetensors`)]);
const json = (v: unknown, name: string) => ({ file: new Blob([JSON.stringify(v)]), name });
const failureOf = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (e: unknown) => e as EngineError);

/** An open_clip-layout image tower (OpenAI names) of width 96 with seeded weights: 96 is not a multiple of 64. */
function width96OpenClip(): Uint8Array {
  const w = 96, p = 8, g = 2;
  const shapes: [string, number[]][] = [
    ['visual.class_embedding', [w]],
    ['visual.positional_embedding', [g * g + 1, w]],
    ['visual.proj', [w, 16]],
    ['visual.conv1.weight', [w, 3, p, p]],
    ['visual.ln_pre.weight', [w]], ['visual.ln_pre.bias', [w]],
    ['visual.transformer.resblocks.0.attn.in_proj_weight', [3 * w, w]], ['visual.transformer.resblocks.0.attn.in_proj_bias', [3 * w]],
    ['visual.transformer.resblocks.0.attn.out_proj.weight', [w, w]], ['visual.transformer.resblocks.0.attn.out_proj.bias', [w]],
    ['visual.transformer.resblocks.0.ln_1.weight', [w]], ['visual.transformer.resblocks.0.ln_1.bias', [w]],
    ['visual.transformer.resblocks.0.mlp.c_fc.weight', [4 * w, w]], ['visual.transformer.resblocks.0.mlp.c_fc.bias', [4 * w]],
    ['visual.transformer.resblocks.0.mlp.c_proj.weight', [w, 4 * w]], ['visual.transformer.resblocks.0.mlp.c_proj.bias', [w]],
    ['visual.transformer.resblocks.0.ln_2.weight', [w]], ['visual.transformer.resblocks.0.ln_2.bias', [w]],
    ['visual.ln_post.weight', [w]], ['visual.ln_post.bias', [w]],
  ];
  const rng = new Random(11);
  const tensors = new Map<string, TensorToWrite>();
  for (const [name, shape] of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape, data: Float32Array.from(rng.normalArray(n), (x) => (name.endsWith('ln_1.weight') || name.endsWith('ln_2.weight') || /ln_(pre|post)\.weight/.test(name) ? 1 : 0.05 * x)) });
  }
  return writeSafetensors(tensors);
}

let engine: LocalEngine;

beforeAll(async () => {
  await initNodeBackend('wasm');
  engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }) });
});

afterAll(async () => {
  await engine?.dispose();
});

describe('CLIP config files in the engine', () => {
  it('without a config the tiny CLIP says how its head count was found; with an HF config.json it uses the config’s', async () => {
    const plain = await engine.loadEncoder({ kind: 'file', file: tiny(), name: 'clip-tiny.hf.safetensors' });
    expect(plain.summary).toMatch(/3 blocks, 1 head: assumed 64-d heads .*config\.json/);

    const config = json({ model_type: 'clip', vision_config: { hidden_size: 64, num_attention_heads: 2, patch_size: 16 }, text_config: { hidden_size: 32, num_attention_heads: 4 } }, 'config.json');
    const withConfig = await engine.loadEncoder({ kind: 'file', file: tiny(), name: 'clip-tiny.hf.safetensors', config });
    expect(withConfig.summary).toMatch(/3 blocks, 2 heads \(Hugging Face config\.json, head width 32\)/);
    // The same weights: the same id and sha256, the loaded copy replaced (one encoder, not two).
    expect(withConfig.id).toBe(plain.id);
    expect(withConfig.sha256).toBe(plain.sha256);
    await engine.unloadEncoder(withConfig.id);
  });

  it('refuses a config of another model, a config that is not JSON, one that is not a CLIP config, and a huge one', async () => {
    const load = (config: ModelConfigFile) =>
      failureOf(engine.loadEncoder({ kind: 'file', file: tiny(), name: 'clip-tiny.hf.safetensors', config }));
    const other = await load(json({ vision_config: { hidden_size: 768, num_attention_heads: 12 } }, 'vit-b.json'));
    expect(other).toBeInstanceOf(EngineError);
    expect(other.code).toBe('incompatible-file');
    expect(other.message).toMatch(/^clip-tiny\.hf\.safetensors: .*describes width 768 but the weights have width 64/);
    expect(needsClipConfig(other)).toBe(false);

    const notJson = await load({ file: new Blob(['{"vision_cfg": ']), name: 'broken.json' });
    expect(notJson.code).toBe('corrupt-file');
    expect(notJson.message).toMatch(/broken\.json: not a JSON file/);

    const notClip = await load(json({ architectures: ['BertModel'] }, 'bert.json'));
    expect(notClip.code).toBe('incompatible-file');
    expect(notClip.message).toMatch(/bert\.json: not a CLIP configuration/);

    const huge = await load({ file: new Blob([new Uint8Array((1 << 20) + 1)]), name: 'weights.json' });
    expect(huge.code).toBe('incompatible-file');
    expect(huge.message).toMatch(/weights\.json: .* is not a model config/);
  });

  it('width 96 open_clip safetensors: refused with the config-needed marker, loaded with its config (head_width 32: 3 heads)', async () => {
    const file = new Blob([width96OpenClip() as Uint8Array<ArrayBuffer>]);
    const refused = await failureOf(engine.loadEncoder({ kind: 'file', file, name: 'w96.safetensors' }));
    expect(refused.code).toBe('incompatible-file');
    expect(refused.message).toMatch(/width 96 is not a multiple of 64/);
    expect(refused.message).toContain(CLIP_CONFIG_NEEDED);
    expect(needsClipConfig(refused)).toBe(true);
    // Across the worker boundary only code and message travel: the marker survives in the info.
    expect(needsClipConfig(refused.toInfo())).toBe(true);

    // A config without the image tower's width/head_width does not tell either: no marker, the config named.
    const silent = await failureOf(engine.loadEncoder({ kind: 'file', file, name: 'w96.safetensors', config: json({ vision_cfg: {} }, 'partial.json') }));
    expect(silent.message).toMatch(/partial\.json does not give it/);
    expect(needsClipConfig(silent)).toBe(false);

    const config = json({ embed_dim: 16, vision_cfg: { width: 96, layers: 1, patch_size: 8, image_size: 16, head_width: 32 } }, 'ViT-w96.json');
    const info = await engine.loadEncoder({ kind: 'file', file, name: 'w96.safetensors', config });
    expect(info.summary).toMatch(/1 blocks, 3 heads \(open_clip config: ViT-w96\.json, head width 32\), 16-d embedding/);
    await engine.unloadEncoder(info.id);
  });
});

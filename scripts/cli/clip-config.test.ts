/**
 * The CLIP config file on the command line: `adapt --clip <file> --clip-config <json>` (the config
 * belongs to the --clip just before it) and `inspect <file> --config <json>`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initNodeBackend } from '../../src/platform/node-backend.ts';
import { SettingsError } from '../../src/core/errors.ts';
import { FIXTURES } from '../../src/testing/fixtures.ts';
import { LocalEngine } from '../../src/engine/local-engine.ts';
import { CLIP_CONFIG_NEEDED, EngineError } from '../../src/engine/types.ts';
import { loadClip, parseAdaptArgs } from './adapt.ts';
import { describeClip, parseInspectArgs } from './inspect.ts';

const TINY = `${FIXTURES}clip-tiny.hf.safetensors`;
const required = ['--reference', 'r.png', '--out', 'o.safetensors'];
let dir: string;
let twoHeads: string;
let otherModel: string;

beforeAll(async () => {
  await initNodeBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'clip-config-'));
  twoHeads = join(dir, 'tiny-config.json');
  writeFileSync(twoHeads, JSON.stringify({ model_type: 'clip', vision_config: { hidden_size: 64, num_attention_heads: 2 }, text_config: { hidden_size: 32, num_attention_heads: 4 } }));
  otherModel = join(dir, 'ViT-L-14.json');
  writeFileSync(otherModel, JSON.stringify({ embed_dim: 768, vision_cfg: { width: 1024, head_width: 64 }, text_cfg: { width: 768, heads: 12 } }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('adapt --clip-config', () => {
  it('belongs to the --clip just before it', () => {
    const a = parseAdaptArgs(['--clip', 'h14.safetensors', '--clip-config', 'ViT-H-14.json', '--clip', 'b32.pt', ...required]);
    expect(a.clips).toEqual(['h14.safetensors', 'b32.pt']);
    expect(a.clipConfigs).toEqual(['ViT-H-14.json', undefined]);
    expect(parseAdaptArgs(['--clip', 'b32.pt', '--clip', 'h14.safetensors', '--clip-config', 'ViT-H-14.json', ...required]).clipConfigs).toEqual([undefined, 'ViT-H-14.json']);
    expect(() => parseAdaptArgs(['--clip-config', 'ViT-H-14.json', '--clip', 'h14.safetensors', ...required])).toThrow(/must follow the --clip it belongs to/);
    expect(() => parseAdaptArgs(['--clip', 'h.safetensors', '--clip-config', 'a.json', '--clip-config', 'b.json', ...required])).toThrow(SettingsError);
    expect(() => parseAdaptArgs(['--clip', 'h.safetensors', '--clip-config', ...required])).toThrow(/--clip-config needs a value/);
  });

  it('loads the tiny CLIP with its config’s head count; a config of another model is refused', async () => {
    const engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'test' }) });
    try {
      const plain = await loadClip(engine, TINY);
      expect(plain.summary).toMatch(/1 head: assumed 64-d heads/);
      const info = await loadClip(engine, TINY, twoHeads);
      expect(info.summary).toMatch(/2 heads \(Hugging Face config\.json: tiny-config\.json, head width 32\)/);
      const err = (await loadClip(engine, TINY, otherModel).then(() => null, (e: unknown) => e)) as EngineError;
      expect(err).toMatchObject({ kind: 'incompatible-file' });
      expect((err as Error).message).toMatch(/describes width 1024 but the weights have width 64/);
    } finally {
      await engine.dispose();
    }
  });

  it('a head count only a config can give names the flag to add', async () => {
    const engine = { loadEncoder: async () => { throw new EngineError('incompatible-file', `h14.safetensors: CLIP image tower: width 1280 is that of ViT-H/14. ${CLIP_CONFIG_NEEDED}`); } };
    const err = (await loadClip(engine, TINY).then(() => null, (e: unknown) => e)) as Error;
    expect(err).toMatchObject({ kind: 'incompatible-file' });
    expect(err.message).toMatch(/ViT-H\/14\. .* Add --clip-config <model config \.json> right after --clip .*clip-tiny\.hf\.safetensors\.$/);
    // Other failures pass through unchanged.
    const other = { loadEncoder: async () => { throw new EngineError('corrupt-file', 'truncated'); } };
    expect(await loadClip(other, TINY).catch((e: unknown) => (e as Error).message)).toBe('truncated');
  });
});

describe('inspect --config', () => {
  it('parses the file and its config in either order', () => {
    expect(parseInspectArgs(['m.safetensors', '--config', 'c.json'])).toEqual({ path: 'm.safetensors', config: 'c.json' });
    expect(parseInspectArgs(['--config', 'c.json', 'm.safetensors'])).toEqual({ path: 'm.safetensors', config: 'c.json' });
    expect(parseInspectArgs(['m.pt'])).toEqual({ path: 'm.pt' });
    expect(() => parseInspectArgs(['m.safetensors', '--config'])).toThrow(/--config needs a file/);
    expect(() => parseInspectArgs(['a.pt', 'b.pt'])).toThrow(/unexpected argument b\.pt/);
    expect(() => parseInspectArgs([])).toThrow(/usage/);
  });

  it('reports each tower’s head count and where it came from, with and without the config', async () => {
    const plain = await describeClip(TINY);
    expect(plain).toMatch(/heads:\n {2}image tower: 1 head: assumed 64-d heads/);
    const withConfig = await describeClip(TINY, twoHeads);
    expect(withConfig).toMatch(/image tower: 2 heads \(Hugging Face config\.json\) \[tiny-config\.json\]/);
    expect(withConfig).toMatch(/3 blocks × 64 \(2 heads, from the config\)/);
    await expect(describeClip(TINY, otherModel)).rejects.toThrow(/describes width 1024 but the weights have width 64/);
  });
});

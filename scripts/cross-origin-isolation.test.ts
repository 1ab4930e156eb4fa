/**
 * The studio must be served cross-origin isolated (COOP same-origin + COEP require-corp) so the engine
 * worker gets SharedArrayBuffer and tfjs-wasm's threaded build: the dev server, `vite preview`, the
 * static-host `_headers` file and the README's hosting section must all name the same two headers.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { loadConfigFromFile } from 'vite';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const EXPECTED = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

describe('cross-origin isolation headers', () => {
  it('are sent by the dev server and by vite preview (vite.config.ts as Vite loads it)', async () => {
    for (const command of ['serve', 'build'] as const) {
      const loaded = await loadConfigFromFile({ command, mode: command === 'serve' ? 'development' : 'production' }, `${root}vite.config.ts`, root, 'silent');
      expect(loaded?.config.server?.headers).toEqual(EXPECTED);
      expect(loaded?.config.preview?.headers).toEqual(EXPECTED);
    }
  });

  it('are in public/_headers for every path (Netlify / Cloudflare Pages)', () => {
    const lines = readFileSync(`${root}public/_headers`, 'utf8')
      .split('\n')
      .filter((l) => l.trim() && !l.trim().startsWith('#'));
    expect(lines[0]).toBe('/*');
    const headers = Object.fromEntries(lines.slice(1).map((l) => l.trim().split(/:\s*/, 2) as [string, string]));
    expect(headers).toEqual(EXPECTED);
  });

  it('are documented for static hosting in the README', () => {
    const readme = readFileSync(`${root}README.md`, 'utf8');
    for (const [k, v] of Object.entries(EXPECTED)) expect(readme).toContain(`${k}: ${v}`);
  });
});

describe('tfjs-wasm threads survive the production build', () => {
  const threadedJs = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js');
  const pluginOf = async (worker: boolean) => {
    const loaded = await loadConfigFromFile({ command: 'build', mode: 'production' }, `${root}vite.config.ts`, root, 'silent');
    const list = worker ? await loaded!.config.worker!.plugins!() : loaded!.config.plugins!;
    const p = list.flat().find((x) => x && typeof x === 'object' && 'name' in x && x.name === 'tfjs-wasm-threads-self-contained-factory');
    if (!p || typeof p !== 'object' || !('transform' in p) || typeof p.transform !== 'function') throw new Error('the tfjs threads plugin is not in vite.config.ts');
    return p.transform as (this: unknown, code: string, id: string) => { code: string } | null;
  };
  const ctx = { error: (m: string) => { throw new Error(m); } };

  it('leaves the factory that threads evaluate from its text with no outside name (the page and the worker bundles)', async () => {
    const code = readFileSync(threadedJs, 'utf8');
    for (const worker of [false, true]) {
      const out = (await pluginOf(worker)).call(ctx, code, threadedJs);
      expect(out).not.toBeNull();
      // The wrapper declares _scriptDir; the factory (what tfjs stringifies for each thread) follows `return (`.
      const factory = out!.code.slice(out!.code.indexOf('return (\nfunction(WasmBackendModuleThreadedSimd)'));
      expect(factory.length).toBeGreaterThan(10_000);
      expect(factory).not.toContain('_scriptDir');
      expect(code.slice(code.indexOf('return (\nfunction(WasmBackendModuleThreadedSimd)'))).toContain('_scriptDir');
    }
  });

  it('fails the build when tfjs changes the text it rewrites, and leaves other modules alone', async () => {
    const transform = await pluginOf(false);
    expect(() => transform.call(ctx, 'var WasmBackendModuleThreadedSimd = 1;', threadedJs)).toThrow(/changed/);
    expect(transform.call(ctx, 'const x = _scriptDir;', '/x/node_modules/@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm.js')).toBeNull();
  });
});

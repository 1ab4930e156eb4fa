/**
 * The studio must be served cross-origin isolated (COOP same-origin + COEP require-corp) so the engine
 * worker gets SharedArrayBuffer and tfjs-wasm's threaded build: the dev server, `vite preview`, the
 * static-host `_headers` file and the README's hosting section must all name the same two headers.
 */
import { readFileSync } from 'node:fs';
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

/**
 * What the browser-side bench sections share (threads, video): a page folder built with the studio's
 * vite.config.ts (so its COOP/COEP headers and workers are the studio's) and served by `vite preview`,
 * opened in headless Debian Chromium by Playwright, ready once the page sets `benchPageReady`; plus the
 * median and load-average helpers their reports use.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, preview } from 'vite';
import { chromium, type Browser, type Page } from '@playwright/test';

const repo = fileURLToPath(new URL('../../..', import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** The 1-, 5- and 15-minute load averages, for every figure's note. */
export const loadAverage = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

export interface BenchPage {
  page: Page;
  browser: Browser;
  /** The preview server's URL. */
  url: string;
  close(): Promise<void>;
}

/**
 * Builds `scripts/bench/<folder>` (index.html + its modules) into a temporary folder, serves it on the
 * first free port from `port`, and opens it. `publicDir`: serve the studio's public/ (models) too.
 */
export async function openBenchPage(folder: string, opts: { port: number; publicDir: boolean }): Promise<BenchPage> {
  const outDir = mkdtempSync(join(os.tmpdir(), `${folder}-bench-`));
  const inline = {
    configFile: join(repo, 'vite.config.ts'),
    root: join(repo, 'scripts/bench', folder),
    publicDir: opts.publicDir ? join(repo, 'public') : (false as const),
    logLevel: 'warn' as const,
    build: { outDir, emptyOutDir: true },
  };
  const cleanup: Array<() => Promise<unknown> | void> = [() => rmSync(outDir, { recursive: true, force: true })];
  const close = async () => {
    for (const f of cleanup.reverse()) await f();
  };
  try {
    await build(inline);
    const server = await preview({ ...inline, preview: { host: '127.0.0.1', port: opts.port, strictPort: false } });
    cleanup.push(() => server.close());
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    cleanup.push(() => browser.close());
    const url = server.resolvedUrls?.local[0];
    if (!url) throw new Error('vite preview did not report its URL');
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`[bench page] ${e.message}`));
    await page.goto(url);
    await page.waitForFunction(() => (globalThis as { benchPageReady?: boolean }).benchPageReady === true);
    return { page, browser, url, close };
  } catch (e) {
    await close();
    throw e;
  }
}

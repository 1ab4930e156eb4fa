/** Shared steps for the studio's end-to-end tests. */
import fs from 'node:fs';
import path from 'node:path';
import { expect, type Locator, type Page } from '@playwright/test';

export const ARTIFACTS = path.resolve('e2e-artifacts');
export const REFERENCES = path.resolve('../shared/references');

export async function shot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/** Drops a file on a drop zone the way a user's drag-and-drop does (a real DataTransfer with a File). */
export async function dropFile(page: Page, target: Locator, bytes: Uint8Array, name: string, type: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ({ b64, name, type }) => {
      const raw = atob(b64);
      const data = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) data[i] = raw.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], name, { type }));
      return dt;
    },
    { b64: Buffer.from(bytes).toString('base64'), name, type },
  );
  await target.dispatchEvent('dragenter', { dataTransfer });
  await target.dispatchEvent('dragover', { dataTransfer });
  await target.dispatchEvent('drop', { dataTransfer });
}

/** Every request the studio made, and those that were not to the local server (aborted). */
export interface NetworkLog {
  all: string[];
  foreign: string[];
}

/**
 * Records every request of the page's browser context — the page and its workers — and aborts any that
 * is not to the local server: nothing may leave the machine. `data:` and `blob:` URLs never reach the
 * network and are not requests here.
 */
export async function guardNetwork(page: Page): Promise<NetworkLog> {
  const log: NetworkLog = { all: [], foreign: [] };
  const local = (url: string) => {
    const u = new URL(url);
    return (u.protocol === 'http:' || u.protocol === 'https:') && (u.hostname === '127.0.0.1' || u.hostname === 'localhost');
  };
  const note = (url: string) => {
    if (url.startsWith('data:') || url.startsWith('blob:')) return;
    log.all.push(url);
    if (!local(url) && !log.foreign.includes(url)) log.foreign.push(url);
  };
  page.context().on('request', (r) => note(r.url()));
  await page.context().route('**/*', (route) => (local(route.request().url()) ? route.continue() : route.abort('blockedbyclient')));
  return log;
}

/** Opens the studio and waits until the embedded generator and encoder are loaded. */
export async function openStudio(page: Page): Promise<void> {
  page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[console.error] ${m.text()}`);
  });
  await page.goto('/');
  await expect(page.getByTestId('studio')).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });
}

export async function viewerPixels(page: Page): Promise<Buffer> {
  return page.getByTestId('viewer').locator('canvas').screenshot();
}

/** Waits until the viewer has no render in flight. */
export async function viewerSettled(page: Page, timeout = 300_000): Promise<void> {
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-rendering', 'false', { timeout });
}

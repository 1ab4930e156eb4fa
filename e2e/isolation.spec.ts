/**
 * Every CPU core for the fallback: the studio is served cross-origin isolated (COOP/COEP from
 * vite.config.ts), so the page and the engine worker get SharedArrayBuffer and tfjs-wasm runs its
 * threaded SIMD build with one thread per core. Every asset the studio loads (worker, wasm, embedded
 * models) must still load under COEP require-corp, and the first viewer render runs on those threads.
 */
import { expect, test } from '@playwright/test';
import { viewerSettled } from './helpers.ts';

test('cross-origin isolated page and worker; the wasm backend runs one thread per core', async ({ page }) => {
  const failures: string[] = [];
  const blocked: string[] = [];
  page.on('pageerror', (e) => failures.push(`pageerror: ${e.message}`));
  page.on('requestfailed', (r) => failures.push(`request failed: ${r.url()} (${r.failure()?.errorText ?? '?'})`));
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`HTTP ${r.status()}: ${r.url()}`);
  });
  page.on('console', (m) => {
    if (/Cross-Origin-(Embedder|Resource|Opener)-Policy|ERR_BLOCKED_BY_RESPONSE|SharedArrayBuffer/i.test(m.text())) blocked.push(m.text());
  });

  const response = await page.goto('/?backend=wasm');
  expect(response?.headers()['cross-origin-opener-policy']).toBe('same-origin');
  expect(response?.headers()['cross-origin-embedder-policy']).toBe('require-corp');
  expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(true);

  await expect(page.getByTestId('studio')).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });
  const capability = page.getByTestId('capability');
  await expect(capability).toHaveAttribute('data-backend', 'wasm');
  // Reported by the probe inside the engine worker: the worker's own crossOriginIsolated and thread count.
  await expect(capability).toHaveAttribute('data-isolated', 'true');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  const threads = Number(await capability.getAttribute('data-threads'));
  console.log(`capability: ${await page.getByTestId('capability-summary').textContent()} (cores ${cores})`);
  expect(threads).toBe(cores);
  if (cores > 1) expect(threads).toBeGreaterThan(1);
  await expect(capability.getByRole('button')).toContainText(`${threads} thread${threads === 1 ? '' : 's'}`);

  // The threads compute: the embedded generator's first render arrives.
  await expect(page.getByTestId('generator-ready')).toBeVisible();
  await viewerSettled(page, 600_000);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-source-ready', 'true');

  expect(failures).toEqual([]);
  expect(blocked).toEqual([]);
});

test('without the COOP/COEP headers (a static host missing them) wasm runs on one thread and says why', async ({ page }) => {
  page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
  // Every response of the page and its workers, minus the two headers.
  await page.context().route('**/*', async (route) => {
    const response = await route.fetch();
    const headers = { ...response.headers() };
    delete headers['cross-origin-opener-policy'];
    delete headers['cross-origin-embedder-policy'];
    await route.fulfill({ response, headers });
  });
  await page.goto('/?backend=wasm');
  expect(await page.evaluate(() => globalThis.crossOriginIsolated)).toBe(false);
  const capability = page.getByTestId('capability');
  await expect(capability).toHaveAttribute('data-backend', 'wasm', { timeout: 600_000 });
  await expect(capability).toHaveAttribute('data-isolated', 'false');
  await expect(capability).toHaveAttribute('data-threads', '1');
  await expect(capability.getByRole('button')).toContainText('1 thread');
  const cores = await page.evaluate(() => navigator.hardwareConcurrency);
  if (cores > 1) await expect(page.getByTestId('capability-summary')).toContainText('not cross-origin isolated');
  await page.context().unrouteAll({ behavior: 'ignoreErrors' }); // the studio is still fetching the embedded models
});

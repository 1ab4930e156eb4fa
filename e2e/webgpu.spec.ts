/**
 * The GPU path in the real browser: `?backend=webgpu` forces tfjs-webgpu in the engine worker (here on
 * Chromium's SwiftShader adapter, which 'auto' passes over for WebAssembly because it is slower on a
 * CPU). The embedded generator must render in the viewer and re-render when the camera moves.
 */
import { expect, test } from '@playwright/test';
import { shot, viewerPixels, viewerSettled } from './helpers.ts';

test('WebGPU backend: the worker renders the embedded generator and follows the camera', async ({ page }) => {
  page.on('pageerror', (e) => console.log(`[pageerror] ${e.message}`));
  await page.goto('/?backend=webgpu');
  await expect(page.getByTestId('studio')).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });
  console.log(`capability: ${await page.getByTestId('capability-summary').textContent()}`);
  await expect(page.getByTestId('capability')).toHaveAttribute('data-backend', 'webgpu');
  await expect(page.getByTestId('generator-ready')).toBeVisible();
  await viewerSettled(page, 600_000);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-source-ready', 'true');
  const before = await viewerPixels(page);

  await page.getByTestId('viewer').focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByTestId('viewer')).not.toHaveAttribute('data-yaw', '0.0000');
  await viewerSettled(page, 600_000);
  await expect.poll(async () => (await viewerPixels(page)).equals(before), { timeout: 300_000 }).toBe(false);

  await page.getByTestId('capability').getByRole('button').click();
  await expect(page.getByTestId('backend-choice')).toHaveValue('webgpu');
  await shot(page, '12-webgpu-backend');
});

/** Models panel in the real browser: a corrupt pickle is refused with a message and the default model stays usable. */
import { expect, test } from '@playwright/test';
import { dropFile, openStudio, shot, viewerSettled } from './helpers.ts';

test('a corrupt .pkl keeps the previous generator', async ({ page }) => {
  await openStudio(page);
  const before = await page.getByTestId('model-generator').getAttribute('data-model-id');
  const garbage = new Uint8Array(4096).map((_, i) => (i * 7919) % 251);
  await dropFile(page, page.getByTestId('model-drop'), garbage, 'broken.pkl', 'application/octet-stream');
  await expect(page.getByTestId('model-error')).toContainText('broken.pkl', { timeout: 300_000 });
  await expect(page.getByTestId('model-error')).toContainText('still loaded');
  await expect(page.getByTestId('model-generator')).toHaveAttribute('data-model-id', before!);
  await expect(page.getByTestId('model-loading')).toHaveCount(0);
  // Still usable: the viewer renders a new pose with it.
  await page.getByTestId('viewer').focus();
  await page.keyboard.press('ArrowRight');
  await viewerSettled(page);
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-source-ready', 'true');
  await shot(page, '11-corrupt-model');
});

/**
 * The Evaluate panel on the real engine: adapted weights for the embedded demo generator (its Tri-D and
 * G2 with seeded noise, made here with the project's own writer) are loaded through the Outputs panel,
 * a built-in example is the reference, then "Evaluate adaptation" over one held-out latent loads the face model (face-api on the app's tfjs,
 * weights served as local assets) and InceptionV3 in the worker and fills the table and thumbnails.
 * WebAssembly backend (`?backend=wasm`): no shader compilation, so this stays a short check. Nothing
 * may leave the local server. Screenshot: e2e-artifacts/evaluate-report.png.
 */
import { expect, test } from '@playwright/test';
import { perturbedAdaptedFile } from './adapted-file.ts';
import { dropFile, guardNetwork, openStudio, shot } from './helpers.ts';

test('evaluate: the report of loaded adapted weights, with thumbnails', async ({ page }) => {
  const network = await guardNetwork(page);
  const file = await perturbedAdaptedFile();

  await page.goto('/?backend=wasm');
  await openStudio(page);
  const panel = page.getByTestId('evaluate-panel');
  await expect(page.getByTestId('evaluate-start')).toBeDisabled(); // no adapted weights yet
  // A built-in example reference: the style rows (palette, texture) need one.
  await page.getByTestId('example-cartoon').click();
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');

  await dropFile(page, page.getByTestId('import-drop'), file, 'perturbed-adapted.safetensors', 'application/octet-stream');
  await expect(page.getByTestId('evaluate-start')).toBeEnabled({ timeout: 300_000 });

  await page.getByTestId('evaluate-latents').fill('1');
  await page.getByTestId('evaluate-start').click();
  await expect(panel).toHaveAttribute('data-status', 'running');
  await expect(page.getByTestId('evaluate-progress')).toBeVisible();
  await expect(panel).toHaveAttribute('data-status', 'done', { timeout: 900_000 });

  // The table: identity from face-api and texture from InceptionV3 in the worker, depth, palette, consistency.
  await expect(page.getByTestId('evaluation-table')).toBeVisible();
  const identity = Number(await page.getByTestId('eval-identity-value').textContent());
  expect(identity).toBeGreaterThan(-1);
  expect(identity).toBeLessThan(1);
  await expect(page.getByTestId('eval-identity')).toContainText('stand-in');
  await expect(page.getByTestId('eval-depth')).toContainText('% of head depth');
  await expect(page.getByTestId('eval-palette').getByTestId('eval-change')).toBeVisible();
  await expect(page.getByTestId('eval-texture').getByTestId('eval-change')).toBeVisible();
  await expect(page.getByTestId('eval-latent')).toHaveCount(1);
  await expect(page.getByTestId('eval-latent').locator('canvas')).toHaveCount(10);
  await expect(panel).toHaveAttribute('data-stale', 'false');
  await page.getByTestId('evaluate-panel').scrollIntoViewIfNeeded();
  await shot(page, 'evaluate-report');

  // Served by the local server: face-api's weight files are among the requests, nothing else left the machine.
  expect(network.all.some((u) => /face_recognition_model[^/]*\.bin/.test(u))).toBe(true);
  expect(network.foreign).toEqual([]);
});

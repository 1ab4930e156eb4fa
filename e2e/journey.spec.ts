/**
 * A user's journey through the studio on the real engine (Web Worker, tfjs WebGPU — SwiftShader here):
 * default model ready → drop a reference → short adaptation with live progress and loss charts →
 * reload mid-run and get the checkpoint back (its weights are shown) → orbit → source/adapted →
 * download the weights, check them and load them back → drop a non-image; no request leaves the local
 * server. Screenshots go to
 * e2e-artifacts/. Only one training run: on SwiftShader every run pays for shader compilation.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { MemoryByteSource } from '../src/io/byte-source.ts';
import { SafetensorsFile } from '../src/io/safetensors.ts';
import { ARTIFACTS, dropFile, guardNetwork, openStudio, REFERENCES, shot, viewerPixels, viewerSettled } from './helpers.ts';

async function globalIteration(page: import('@playwright/test').Page): Promise<number> {
  return Number(await page.getByTestId('iteration').getAttribute('data-global'));
}

test('journey: reference → adaptation → reload → orbit → download', async ({ page }) => {
  // Nothing leaves the machine: every request of the page and its worker is recorded.
  const network = await guardNetwork(page);

  // 1. Open: capability report and the embedded models.
  await openStudio(page);
  await expect(page.getByTestId('capability')).toHaveAttribute('data-backend', /webgpu|wasm|cpu/);
  await expect(page.getByTestId('generator-ready')).toBeVisible();
  await expect(page.getByTestId('encoder-ready')).toBeVisible();
  await viewerSettled(page);
  await shot(page, '01-opened');

  // 2. Drop a reference image file.
  const refPath = path.join(REFERENCES, 'mona_lisa.png');
  await dropFile(page, page.getByTestId('reference-drop'), fs.readFileSync(refPath), 'mona_lisa.png', 'image/png');
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  await shot(page, '02-reference');

  // 3. A short adaptation on the embedded model.
  await page.getByTestId('advanced-settings').locator('summary').click();
  await page.getByTestId('iters-trid').fill('3');
  await page.getByTestId('iters-g2').fill('2');
  await page.getByTestId('batch-size').fill('1');
  await page.getByTestId('mean-samples').fill('2');
  await page.getByTestId('preview-every').fill('1');
  // Small live previews: every preview renders the adapted views in the worker.
  await page.getByTestId('preview-latents').fill('1');
  await page.getByTestId('preview-views').fill('3');
  // A larger step than the default so a few iterations visibly change the renders.
  await page.getByTestId('learning-rate').fill('0.02');
  await expect(page.getByTestId('settings-error')).toHaveCount(0);
  await page.getByTestId('start').click();
  // The embedded encoder has no L_dir by default, so no μ_s is needed: the run goes straight to step 1.
  await expect(page.getByTestId('phase-tri-d')).toHaveAttribute('aria-current', 'step', { timeout: 600_000 });

  // Iterations advance and the loss chart grows.
  await expect.poll(() => globalIteration(page), { timeout: 1_200_000, intervals: [2000] }).toBeGreaterThanOrEqual(1);
  await expect(page.getByTestId('loss-total')).not.toHaveAttribute('data-points', '0');
  const firstPoints = Number(await page.getByTestId('loss-total').getAttribute('data-points'));
  await expect.poll(() => globalIteration(page), { timeout: 900_000, intervals: [2000] }).toBeGreaterThanOrEqual(2);
  await expect
    .poll(async () => Number(await page.getByTestId('loss-total').getAttribute('data-points')), { timeout: 120_000 })
    .toBeGreaterThan(firstPoints);
  await expect(page.getByTestId('speed')).not.toHaveText('—');
  // The live estimate of the previews (style distance to the reference, depth change) is shown.
  await expect(page.getByTestId('live-estimate')).toContainText('Preview estimate');
  await shot(page, '03-mid-adaptation');

  // 4. Reload mid-run: the reference, settings and last checkpoint come back, its weights in the viewer.
  // The studio says when a checkpoint is saved in the browser (only then does a reload bring it back).
  await expect
    .poll(
      async () => {
        const info = page.getByTestId('checkpoint-info');
        if ((await info.getAttribute('data-stored').catch(() => null)) !== 'true') return 0;
        return Number((await info.getAttribute('data-iteration').catch(() => null)) ?? 0);
      },
      { timeout: 900_000, intervals: [2000] },
    )
    .toBeGreaterThanOrEqual(1);
  const savedAt = Number(await page.getByTestId('checkpoint-info').getAttribute('data-iteration'));
  await page.reload();
  await expect(page.getByTestId('studio')).toHaveAttribute('data-ready', 'true', { timeout: 600_000 });
  await expect(page.getByTestId('checkpoint-info')).toHaveAttribute('data-restored', 'true', { timeout: 300_000 });
  expect(Number(await page.getByTestId('checkpoint-info').getAttribute('data-iteration'))).toBeGreaterThanOrEqual(savedAt);
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  await expect(page.getByTestId('reference-ready')).toContainText('mona_lisa.png');
  await expect(page.getByTestId('notice')).toContainText('Restored the checkpoint');
  await expect(page.getByTestId('loss-total')).not.toHaveAttribute('data-points', '0');
  await expect(page.getByTestId('resume-checkpoint')).toBeEnabled();
  await page.getByTestId('advanced-settings').locator('summary').click();
  await expect(page.getByTestId('iters-trid')).toHaveValue('3');
  await expect(page.getByTestId('learning-rate')).toHaveValue('0.02');
  await viewerSettled(page);
  await shot(page, '04-restored-after-reload');

  // 6. Orbit by dragging: the camera and the render change.
  await page.getByTestId('view-adapted').click();
  await viewerSettled(page);
  const before = await viewerPixels(page);
  const box = (await page.getByTestId('viewer').boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.75, box.y + box.height * 0.55, { steps: 8 });
  await page.mouse.up();
  await expect(page.getByTestId('viewer')).not.toHaveAttribute('data-yaw', '0.0000');
  await viewerSettled(page);
  await expect.poll(async () => (await viewerPixels(page)).equals(before), { timeout: 300_000 }).toBe(false);
  await shot(page, '06-orbited');

  // 7. Source vs adapted.
  const adaptedPixels = await viewerPixels(page);
  await page.getByTestId('view-source').click();
  await expect(page.getByTestId('viewer')).toHaveAttribute('data-view', 'source');
  await viewerSettled(page);
  await expect.poll(async () => (await viewerPixels(page)).equals(adaptedPixels), { timeout: 300_000 }).toBe(false);
  await page.getByTestId('view-split').click();
  await viewerSettled(page);
  await shot(page, '07-before-after');

  // 8. Download the adapted weights: a safetensors file with only Tri-D and G2 tensors.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-safetensors').click()]);
  expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, download.suggestedFilename());
  await download.saveAs(file);
  const st = await SafetensorsFile.open(new MemoryByteSource(new Uint8Array(fs.readFileSync(file)), file));
  const keys = st.keys();
  expect(keys.length).toBeGreaterThan(0);
  expect(keys.filter((k) => !k.startsWith('decoder.') && !k.startsWith('superresolution.'))).toEqual([]);
  expect(keys.some((k) => k.startsWith('decoder.'))).toBe(true);
  expect(keys.some((k) => k.startsWith('superresolution.'))).toBe(true);
  for (const k of keys.slice(0, 3)) expect((await st.readFloat32(k)).data.every(Number.isFinite)).toBe(true);

  // ... and it loads back onto the same base generator.
  await dropFile(page, page.getByTestId('import-drop'), new Uint8Array(fs.readFileSync(file)), download.suggestedFilename(), 'application/octet-stream');
  await expect(page.getByTestId('notice')).toContainText(`Loaded adapted weights from ${download.suggestedFilename()}`);

  // 9. A non-image dropped as reference: a clear error, and the reference stays.
  await dropFile(page, page.getByTestId('reference-drop'), new TextEncoder().encode('just some notes'), 'notes.txt', 'text/plain');
  await expect(page.getByTestId('reference-error')).toContainText('notes.txt');
  await expect(page.getByTestId('reference-error')).toContainText('not an image');
  await expect(page.getByTestId('reference-ready')).toBeVisible();
  await shot(page, '08-non-image-error');

  // 10. The whole journey — models, worker, wasm, fonts — was served by the local server alone.
  expect(network.all.some((u) => u.endsWith('.safetensors'))).toBe(true);
  expect(network.all.some((u) => /\.wasm(\?|$)/.test(u))).toBe(true);
  expect(network.foreign).toEqual([]);
});

/**
 * Reference-image handling in the real browser: the built-in examples, a huge (8000²) image, a
 * truncated PNG, a non-image, and moving the crop. Needs the embedded model only for start-up.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { dropFile, openStudio, REFERENCES, shot } from './helpers.ts';

test('reference panel: examples, huge and broken images, crop', async ({ page }) => {
  await openStudio(page);

  // Built-in example reference.
  await page.getByTestId('example-cartoon').click();
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  await expect(page.getByTestId('reference-ready')).toContainText('Flat cartoon');

  // A huge image is decoded straight to a downscaled bitmap.
  const huge = await page.evaluate(async () => {
    const canvas = new OffscreenCanvas(8000, 8000);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#335';
    ctx.fillRect(0, 0, 8000, 8000);
    ctx.fillStyle = '#fc6';
    ctx.beginPath();
    ctx.arc(4000, 4000, 2500, 0, Math.PI * 2);
    ctx.fill();
    const blob = await canvas.convertToBlob({ type: 'image/png' });
    return Array.from(new Uint8Array(await blob.arrayBuffer()));
  });
  await dropFile(page, page.getByTestId('reference-drop'), new Uint8Array(huge), 'huge-8000.png', 'image/png');
  await expect(page.getByTestId('reference-ready')).toContainText('8000×8000 (shown at 1024×1024)', { timeout: 120_000 });
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');

  // A truncated PNG: a clear "could not be decoded" message, the previous reference stays.
  const png = fs.readFileSync(path.join(REFERENCES, 'mona_lisa.png'));
  await dropFile(page, page.getByTestId('reference-drop'), new Uint8Array(png.subarray(0, 2000)), 'cut.png', 'image/png');
  await expect(page.getByTestId('reference-error')).toContainText('could not be decoded');
  await expect(page.getByTestId('reference-ready')).toContainText('huge-8000.png');

  // A real photo with a non-square aspect: move the crop square by dragging.
  await dropFile(page, page.getByTestId('reference-drop'), new Uint8Array(png), 'mona_lisa.png', 'image/png');
  await expect(page.getByTestId('reference-ready')).toContainText('mona_lisa.png');
  const crop = page.getByTestId('crop-box');
  const before = await crop.getAttribute('aria-valuetext');
  await page.getByTestId('crop-size').fill('60');
  const b = (await crop.boundingBox())!;
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2 + 30, b.y + b.height / 2 + 40, { steps: 5 });
  await page.mouse.up();
  await expect(crop).not.toHaveAttribute('aria-valuetext', before!);
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  await shot(page, '10-reference-crop');
});

/**
 * The Orbit video panel on the real engine (wasm): adapted weights for the embedded demo generator are
 * loaded, a side-by-side clip of 4 frames in 2 s is rendered in the worker and encoded there with
 * WebCodecs; the downloaded file is checked — container magic bytes (WebM EBML or MP4 ftyp) and the
 * duration written in it (WebM Segment Info Duration × TimecodeScale, or MP4 mvhd) — and the page's
 * <video> element reads the same duration and size. Then a longer clip is cancelled. Nothing may leave
 * the local server. Screenshots: e2e-artifacts/video-running.png, video-done.png, video-cancelled.png.
 */
import fs from 'node:fs';
import { expect, test } from '@playwright/test';
import { perturbedAdaptedFile } from './adapted-file.ts';
import { dropFile, guardNetwork, openStudio, shot } from './helpers.ts';

/** An EBML variable-length integer at `at`: its length and value (with the marker bit kept for IDs). */
function vint(b: Uint8Array, at: number, keepMarker: boolean): { length: number; value: number; unknown: boolean } {
  const first = b[at];
  let length = 1;
  while (length <= 8 && !(first & (0x80 >> (length - 1)))) length++;
  let value = keepMarker ? first : first & (0xff >> length);
  let allOnes = value === (0xff >> length);
  for (let i = 1; i < length; i++) {
    value = value * 256 + b[at + i];
    allOnes &&= b[at + i] === 0xff;
  }
  return { length, value, unknown: !keepMarker && allOnes };
}

/** WebM duration in seconds: Segment → Info → Duration (float) × TimecodeScale (ns, default 1e6). */
function webmDuration(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let scale = 1e6;
  let duration = NaN;
  const walk = (from: number, to: number) => {
    for (let at = from; at < to; ) {
      const id = vint(b, at, true);
      const size = vint(b, at + id.length, false);
      const body = at + id.length + size.length;
      const end = size.unknown ? to : body + size.value;
      if (id.value === 0x18538067 || id.value === 0x1549a966) walk(body, end); // Segment, Info
      else if (id.value === 0x2ad7b1) scale = Number(b.subarray(body, end).reduce((x, y) => x * 256 + y, 0)); // TimecodeScale
      else if (id.value === 0x4489) duration = size.value === 4 ? view.getFloat32(body) : view.getFloat64(body); // Duration
      if (id.value === 0x1549a966) return; // Info read
      at = end;
    }
  };
  walk(0, b.length);
  return (duration * scale) / 1e9;
}

/** MP4 duration in seconds from the moov → mvhd box. */
function mp4Duration(b: Uint8Array): number {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const find = (from: number, to: number, type: string): number => {
    for (let at = from; at + 8 <= to; ) {
      const size = view.getUint32(at);
      if (String.fromCharCode(...b.subarray(at + 4, at + 8)) === type) return at;
      at += size || to - at;
    }
    return -1;
  };
  const moov = find(0, b.length, 'moov');
  const mvhd = find(moov + 8, moov + view.getUint32(moov), 'mvhd');
  const v1 = b[mvhd + 8] === 1;
  const timescale = view.getUint32(mvhd + (v1 ? 28 : 20));
  const duration = v1 ? Number(view.getBigUint64(mvhd + 32)) : view.getUint32(mvhd + 24);
  return duration / timescale;
}

test('video: a side-by-side orbit clip encoded in the browser, its container and duration; cancel', async ({ page }) => {
  const network = await guardNetwork(page);
  const file = await perturbedAdaptedFile();

  await page.goto('/?backend=wasm');
  await openStudio(page);
  const panel = page.getByTestId('video-panel');
  // Without adapted weights only the source can be filmed.
  await expect(page.getByTestId('video-content-side-by-side')).toBeDisabled();
  await dropFile(page, page.getByTestId('import-drop'), file, 'perturbed-adapted.safetensors', 'application/octet-stream');
  await expect(page.getByTestId('video-content-side-by-side')).toBeEnabled({ timeout: 300_000 });
  await page.getByTestId('video-content-side-by-side').click();
  await page.getByTestId('video-seeds').fill('7');
  await page.getByTestId('video-frames').fill('4');
  await page.getByTestId('video-seconds').fill('2');
  await expect(page.getByTestId('video-fps')).toHaveText('2 fps');

  await page.getByTestId('video-start').click();
  await expect(panel).toHaveAttribute('data-status', 'running');
  await expect(page.getByTestId('video-bar')).toHaveAttribute('aria-valuenow', /[1-4]/, { timeout: 300_000 });
  await panel.scrollIntoViewIfNeeded();
  await shot(page, 'video-running');
  await expect(panel).toHaveAttribute('data-status', 'done', { timeout: 300_000 });
  await expect(page.getByTestId('video-error')).toHaveCount(0);

  // The downloaded file: container magic bytes and the duration written in it.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('video-download').click()]);
  const bytes = new Uint8Array(fs.readFileSync(await download.path()));
  const mime = await page.getByTestId('video-result').getAttribute('data-mime');
  let seconds: number;
  if (mime === 'video/webm') {
    expect(download.suggestedFilename()).toBe('orbit-seed7-4f.webm');
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x1a, 0x45, 0xdf, 0xa3]); // EBML
    seconds = webmDuration(bytes);
  } else {
    expect(mime).toBe('video/mp4');
    expect(String.fromCharCode(...bytes.subarray(4, 8))).toBe('ftyp');
    seconds = mp4Duration(bytes);
  }
  expect(seconds).toBeCloseTo(2, 1);
  const codec = await page.getByTestId('video-result').getAttribute('data-codec');
  console.log(`video: ${mime} ${codec}, ${bytes.byteLength} bytes, ${seconds.toFixed(3)} s; ${await page.getByTestId('video-stats').textContent()}`);

  // The browser plays it: the <video> element reads the same length and the side-by-side size (2 × 1 tiles).
  const meta = await page.getByTestId('video-preview').evaluate(
    (v: HTMLVideoElement) =>
      new Promise<{ duration: number; width: number; height: number }>((resolve) => {
        const done = () => resolve({ duration: v.duration, width: v.videoWidth, height: v.videoHeight });
        if (v.readyState >= 1) done();
        else v.addEventListener('loadedmetadata', done, { once: true });
      }),
  );
  expect(meta.duration).toBeCloseTo(2, 1);
  expect(meta.width).toBe(2 * meta.height);
  await page.getByTestId('video-preview').evaluate((v: HTMLVideoElement) => {
    v.pause();
    v.currentTime = 0.6; // the second frame: the head turned toward +x
    return new Promise((r) => v.addEventListener('seeked', r, { once: true }));
  });
  await panel.scrollIntoViewIfNeeded();
  await shot(page, 'video-done');

  // Cancel: a longer clip stops after its current frame; no file, the previous clip stays.
  await page.getByTestId('video-frames').fill('40');
  await page.getByTestId('video-seconds').fill('4');
  await page.getByTestId('video-start').click();
  await expect(page.getByTestId('video-bar')).toHaveAttribute('aria-valuenow', /[1-9]/, { timeout: 300_000 });
  await page.getByTestId('video-cancel').click();
  await expect(panel).toHaveAttribute('data-status', 'cancelled', { timeout: 120_000 });
  await expect(page.getByTestId('video-cancelled')).toBeVisible();
  await expect(page.getByTestId('video-download')).toContainText('orbit-seed7-4f');
  await panel.scrollIntoViewIfNeeded();
  await shot(page, 'video-cancelled');

  expect(network.foreign).toEqual([]);
});

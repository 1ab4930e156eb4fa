/**
 * Beyond one reference (issue 14) in the real studio, on the WebAssembly backend (`?backend=wasm`, no
 * shader compilation), in one page session: a zero-shot run (the tiny CLIP fixture with its text tower,
 * CLIP's BPE vocabulary, a typed description, one Tri-D iteration); mixing two adapted-weights files
 * (the embedded demo generator's Tri-D + G2 with seeded noise, written with the project's own writer)
 * changes the multi-view strip and exports a mix whose metadata lists the parts; a dropped portrait gets
 * the face-aware crop with its landmarks, a picture without a face a warning. Nothing may leave the
 * local server. Screenshots: e2e-artifacts/beyond-*.png.
 */
import { expect, test, type Page } from '@playwright/test';
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../src/adapter/export.ts';
import { loadEmbeddedGenerator } from '../src/engine/embedded.ts';
import { openEmbeddedFile } from '../src/platform/node-embedded.ts';
import path from 'node:path';
import { encode as encodePng } from 'fast-png';
import { dropFile, guardNetwork, openStudio, REFERENCES, shot } from './helpers.ts';

const FIXTURES = path.resolve('../shared/fixtures');

/** Two adapted-weights files for the embedded generator: its Tri-D + G2 plus seeded noise (0.3 × each tensor's std). */
async function noisyDeltas(seeds: number[]): Promise<Uint8Array[]> {
  await tf.setBackend('cpu');
  const emb = await loadEmbeddedGenerator(openEmbeddedFile);
  try {
    return seeds.map((seed) => {
      const rng = new Random(seed);
      const adapted = new Map<string, tf.Tensor>();
      for (const [k, t] of emb.generator.weights) {
        if (!isTrainableKey(k)) continue;
        adapted.set(k, tf.tidy(() => tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), tf.mul(tf.sqrt(tf.moments(t).variance), 0.3)))));
      }
      const bytes = writeAdaptedSafetensors(adapted, {
        baseGeneratorSha256: emb.sha256,
        baseGeneratorName: emb.name,
        encoders: [],
        settings: {},
        seed,
        iterations: { triD: seed, g2: 0 },
        lossHistory: [],
        createdAt: new Date(0).toISOString(),
      });
      tf.dispose([...adapted.values()]);
      return bytes;
    });
  } finally {
    emb.generator.dispose();
  }
}

/** The safetensors header's __metadata__. */
function safetensorsMetadata(bytes: Buffer): Record<string, string> {
  const n = Number(bytes.readBigUInt64LE(0));
  return (JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as { __metadata__: Record<string, string> }).__metadata__;
}

const strip = (page: Page) => page.getByTestId('multiview-strip');
const cell = (page: Page, which: 'first' | 'last') => (which === 'first' ? strip(page).locator('.strip-cell').first() : strip(page).locator('.strip-cell').last());
/** Resolves once the cell shows another image than `before`. */
async function cellChanges(page: Page, which: 'first' | 'last', before: Buffer): Promise<Buffer> {
  await expect.poll(async () => (await cell(page, which).screenshot()).equals(before), { timeout: 240_000, intervals: [1000] }).toBe(false);
  return cell(page, which).screenshot();
}

const t0 = Date.now();
const mark = (what: string) => console.log(`[beyond] ${((Date.now() - t0) / 1000).toFixed(0)} s: ${what}`);

test('zero-shot run, mixing two adapted-weights files, the face-aware reference crop', async ({ page }) => {
  test.setTimeout(15 * 60_000);
  const network = await guardNetwork(page);
  const [a, b] = await noisyDeltas([21, 22]);
  mark('deltas written');
  await page.goto('/?backend=wasm');
  await openStudio(page);
  mark('studio open');

  // ---- zero-shot: the tiny CLIP fixture (text tower) and CLIP's BPE vocabulary, a description, one iteration
  await page.getByTestId('zero-shot-toggle').check();
  await expect(page.getByTestId('zero-shot-unavailable')).toContainText('no text tower');
  await expect(page.getByTestId('start')).toBeDisabled();
  await dropFile(page, page.getByTestId('model-drop'), fs.readFileSync(path.join(FIXTURES, 'clip-tiny.pt')), 'clip-tiny.pt', 'application/octet-stream');
  await expect(page.getByTestId('model-encoder').filter({ hasText: 'text tower' })).toHaveCount(1, { timeout: 120_000 });
  await expect(page.getByTestId('zero-shot-unavailable')).toContainText('BPE vocabulary');
  await dropFile(page, page.getByTestId('vocab-drop'), fs.readFileSync(path.join(FIXTURES, 'clip-bpe-vocab.txt.gz')), 'clip-bpe-vocab.txt.gz', 'application/gzip');
  await expect(page.getByTestId('vocab-drop')).toContainText('49408 tokens', { timeout: 60_000 });
  await expect(page.getByTestId('zero-shot-unavailable')).toHaveCount(0);
  await page.getByTestId('zero-shot-prompt').fill('a pencil sketch');
  await page.getByTestId('advanced-settings').locator('summary').click();
  await page.getByTestId('iters-trid').fill('1');
  await page.getByTestId('iters-g2').fill('0');
  await page.getByTestId('preview-latents').fill('1');
  await page.getByTestId('preview-views').fill('1');
  await expect(page.getByTestId('start')).toBeEnabled();
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-state')).toHaveText('done', { timeout: 480_000 });
  await expect(page.getByTestId('mean-embedding-report')).toHaveCount(0); // text only: no μ_s
  await shot(page, 'beyond-zero-shot');
  mark('zero-shot run done');
  const [zs] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-safetensors').click()]);
  const zsMeta = safetensorsMetadata(fs.readFileSync((await zs.path())!));
  expect(zsMeta.prompt).toBe('a pencil sketch');
  expect(zsMeta.source_prompt).toBe('photo');
  await page.getByTestId('zero-shot-toggle').uncheck();
  // ---- mixing: the strip shows the zero-shot weights now; two other files mixed replace them
  await expect(cell(page, 'first')).toHaveAttribute('aria-busy', 'false', { timeout: 240_000 });
  const sourceFirst = await cell(page, 'first').screenshot();
  mark('strip rendered');

  const panel = page.getByTestId('mix-panel');
  await dropFile(page, page.getByTestId('mix-drop'), a, 'noisy-21.safetensors', 'application/octet-stream');
  await expect(panel).toHaveAttribute('data-parts', '1', { timeout: 120_000 });
  await expect(panel).toHaveAttribute('data-busy', 'false');
  await dropFile(page, page.getByTestId('mix-drop'), b, 'noisy-22.safetensors', 'application/octet-stream');
  await expect(panel).toHaveAttribute('data-parts', '2', { timeout: 120_000 });
  await expect(panel).toHaveAttribute('data-busy', 'false');
  await expect(page.getByTestId('mix-weight-value')).toHaveText(['0.50', '0.50']);
  await expect(page.getByTestId('mix-status')).toContainText('an interpolation between the domains');
  mark('two parts mixed');

  // The strip re-renders with the mix (its first cell: the rest follows in the same queue).
  await cellChanges(page, 'first', sourceFirst);
  const half = await cell(page, 'first').screenshot();
  await shot(page, 'beyond-mix-half');
  mark('strip re-rendered with the mix');

  // Without the second part (weights 0.5 / 0): the strip changes again.
  await page.getByTestId('mix-weight').nth(1).fill('0');
  await expect(page.getByTestId('mix-weight-value')).toHaveText(['0.50', '0.00']);
  await expect(page.getByTestId('mix-status')).toContainText('not 1');
  await cellChanges(page, 'first', half);
  await expect(panel).toHaveAttribute('data-busy', 'false');
  mark('strip follows the weights');

  // Exported like any adaptation, with the parts in its metadata.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-safetensors').click()]);
  const md = safetensorsMetadata(fs.readFileSync((await download.path())!));
  expect(md.format).toBe('adapter3d-adapted-weights');
  expect((JSON.parse(md.mix) as { name: string; weight: number }[]).map((p) => [p.name, p.weight])).toEqual([
    ['noisy-21.safetensors', 0.5],
    ['noisy-22.safetensors', 0],
  ]);

  // ---- the face-aware crop: a portrait gets the FFHQ-aligned crop and its 68 landmarks; no face, a warning
  await dropFile(page, page.getByTestId('reference-drop'), fs.readFileSync(path.join(REFERENCES, 'obama-portrait.jpg')), 'obama-portrait.jpg', 'image/jpeg');
  await expect(page.getByTestId('face-status')).toHaveAttribute('data-status', 'found', { timeout: 180_000 });
  await expect(page.getByTestId('face-landmarks')).toHaveAttribute('data-count', '68');
  await expect(page.getByTestId('use-face-crop')).toBeVisible();
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  const tilt = Number(await page.getByTestId('crop-tilt').inputValue());
  expect(Math.abs(tilt)).toBeLessThan(15);
  await shot(page, 'beyond-face-crop');
  mark('face crop proposed');
  const w = 256;
  const flat = new Uint8Array(w * w * 4).map((_, i) => (i % 4 === 3 ? 255 : ((i >> 2) % w) ^ (i >> 10)));
  await dropFile(page, page.getByTestId('reference-drop'), encodePng({ width: w, height: w, data: flat, channels: 4, depth: 8 }), 'pattern.png', 'image/png');
  await expect(page.getByTestId('face-status')).toHaveAttribute('data-status', 'none', { timeout: 120_000 });
  await expect(page.getByTestId('face-status')).toContainText('No face found');
  await expect(page.getByTestId('reference-ready')).toHaveAttribute('data-applied', 'true');
  await expect(page.getByTestId('face-landmarks')).toHaveCount(0);
  await shot(page, 'beyond-no-face');
  mark('no face: warned');
  expect(network.foreign).toEqual([]);
});

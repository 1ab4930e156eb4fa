/**
 * Mesh mode and the mesh exports on the real engine (WebAssembly backend, `?backend=wasm`): entering
 * Mesh mode starts an extraction at the studio's default 256³, which is cancelled; at 32³ the source
 * mesh appears as a lit three.js object and orbits under drei's OrbitControls — within the neural view's
 * pose range, then all around with the pose limits off; adapted weights (loaded through Outputs) show
 * side by side with the source; the Outputs panel's GLB download parses with three.js' GLTFLoader (vertex
 * count as the viewer reports, bounds inside the generator's box, vertex colours) and the PLY has its
 * header. Nothing may leave the local server.
 * Screenshots: e2e-artifacts/mesh-source.png, mesh-orbit-limited.png, mesh-orbit-free.png, mesh-side-by-side.png.
 */
import fs from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { perturbedAdaptedFile } from './adapted-file.ts';
import { dropFile, guardNetwork, openStudio, shot } from './helpers.ts';

async function drag(page: Page, dx: number, dy: number): Promise<void> {
  const box = (await page.getByTestId('mesh-view').locator('canvas').boundingBox())!;
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 10; i++) await page.mouse.move(x + (dx * i) / 10, y + (dy * i) / 10);
  await page.mouse.up();
}

const azimuth = async (page: Page) => Number(await page.getByTestId('mesh-view').getAttribute('data-azimuth'));

const t0 = Date.now();
const mark = (what: string) => console.log(`[mesh e2e] ${((Date.now() - t0) / 1000).toFixed(1)} s: ${what}`);

test('mesh: cancel, extract, orbit with and without pose limits, side by side, GLB / PLY export', async ({ page }) => {
  const network = await guardNetwork(page);
  const adaptedFile = await perturbedAdaptedFile();
  await page.goto('/?backend=wasm');
  await openStudio(page);
  mark('studio ready');

  // Mesh mode starts at the default 256³: cancel it, pick 32³ and extract.
  await page.getByTestId('display-mesh').click();
  await expect(page.getByTestId('mesh-progress')).toBeVisible();
  await expect(page.getByTestId('mesh-resolution')).toHaveValue('256');
  await page.getByTestId('mesh-cancel').click();
  await expect(page.getByTestId('mesh-extract')).toBeVisible({ timeout: 120_000 });
  await expect(page.getByTestId('mesh-view')).toContainText('Extraction cancelled');
  await page.getByTestId('mesh-resolution').selectOption('32');
  mark('256³ extraction cancelled');
  await page.getByTestId('mesh-extract').click();
  const view = page.getByTestId('mesh-view');
  await expect(view).toHaveAttribute('data-meshes', '1', { timeout: 300_000 });
  const vertices = Number(await view.getAttribute('data-vertices'));
  expect(vertices).toBeGreaterThan(500);
  await expect(page.getByTestId('mesh-readout')).toContainText(/source: [\d,]+ vertices/);
  await page.waitForTimeout(500);
  await shot(page, 'mesh-source');
  mark('32³ source mesh shown');

  // Orbit: with the pose limits the azimuth stops at the neural view's yaw limit (0.6 rad).
  const before = await azimuth(page);
  await drag(page, -600, 0);
  await expect.poll(() => azimuth(page)).not.toBe(before);
  const limited = await azimuth(page);
  expect(Math.abs(limited)).toBeLessThanOrEqual(0.6 + 1e-3);
  expect(Math.abs(limited)).toBeGreaterThan(0.3);
  await shot(page, 'mesh-orbit-limited');
  await page.getByTestId('mesh-pose-limits').uncheck();
  await drag(page, -900, 0);
  await expect.poll(async () => Math.abs(await azimuth(page))).toBeGreaterThan(1.2);
  await shot(page, 'mesh-orbit-free');

  mark('orbits done');
  // The GLB download: parsed with three.js' GLTFLoader.
  const glbDownload = page.waitForEvent('download');
  await page.getByTestId('download-glb').click();
  const glbFile = await (await glbDownload).path();
  expect((await glbDownload).suggestedFilename()).toBe('adapter3d-seed7-source-32.glb');
  const glb = fs.readFileSync(glbFile!);
  const gltf = await new GLTFLoader().parseAsync(glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer, '');
  const meshes: THREE.Mesh[] = [];
  gltf.scene.traverse((o) => {
    if ((o as THREE.Mesh).isMesh) meshes.push(o as THREE.Mesh);
  });
  expect(meshes).toHaveLength(1);
  const geom = meshes[0].geometry;
  expect(geom.getAttribute('position').count).toBe(vertices);
  geom.computeBoundingBox();
  for (const k of ['x', 'y', 'z'] as const) {
    expect(geom.boundingBox!.min[k]).toBeGreaterThan(-0.5);
    expect(geom.boundingBox!.max[k]).toBeLessThan(0.5);
  }
  const colors = geom.getAttribute('color');
  expect(colors.count).toBe(vertices);
  const reds = new Set<number>();
  for (let i = 0; i < colors.count; i += 7) reds.add(Math.round(colors.getX(i) * 255));
  expect(reds.size).toBeGreaterThan(10);
  await expect(page.getByTestId('outputs-status')).toContainText(`${vertices} vertices`);

  const plyDownload = page.waitForEvent('download');
  await page.getByTestId('download-ply').click();
  const ply = fs.readFileSync((await (await plyDownload).path())!);
  expect(ply.subarray(0, 200).toString('latin1')).toContain(`format binary_little_endian 1.0\ncomment Adapter3D Studio`);
  expect(ply.subarray(0, 300).toString('latin1')).toContain(`element vertex ${vertices}\n`);

  mark('GLB and PLY downloaded and checked');
  // Adapted weights: source and adapted side by side.
  await dropFile(page, page.getByTestId('import-drop'), adaptedFile, 'perturbed-adapted.safetensors', 'application/octet-stream');
  await expect(page.getByTestId('mesh-show-side-by-side')).toBeEnabled({ timeout: 300_000 });
  await page.getByTestId('mesh-show-side-by-side').click();
  await expect(view).toHaveAttribute('data-meshes', '2', { timeout: 300_000 });
  await expect(page.getByTestId('mesh-readout')).toContainText(/adapted: [\d,]+ vertices/);
  await page.getByTestId('mesh-pose-limits').check();
  await page.waitForTimeout(500);
  await shot(page, 'mesh-side-by-side');
  mark('side by side shown');

  // Back to the neural render (the default view).
  await page.getByTestId('display-neural').click();
  await expect(page.getByTestId('viewer')).toBeVisible();
  expect(network.foreign).toEqual([]);
});

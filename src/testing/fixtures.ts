/**
 * Test-only helpers: the tiny EG3D fixture generator and the tiny CLIP from ../shared/fixtures
 * (fail, not skip, when absent), a synthetic reference image, and cheap rendering overrides.
 */
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import { loadClipEncoder, type ClipImageEncoder } from '../clip/encoder.ts';
import type { RgbaImage } from '../core/image.ts';
import { GeneratorView, type RenderOverrides } from '../adapter/generator-view.ts';

export const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

/** 32² rays × (6 + 6) samples instead of 64² × (24 + 24): same code paths, ~16× less rendering. */
export const CHEAP_RENDER: RenderOverrides = { resolution: 32, depthResolution: 6, depthResolutionImportance: 6 };

export async function tinyGenerator(): Promise<EG3DGenerator> {
  return EG3DGenerator.fromPickle(await NodeFileByteSource.open(`${FIXTURES}eg3d-tiny.pkl`));
}

export function tinyView(g: EG3DGenerator, overrides: RenderOverrides = CHEAP_RENDER): GeneratorView {
  return new GeneratorView(g, 4096, overrides);
}

export async function tinyClip(): Promise<ClipImageEncoder> {
  return loadClipEncoder(await NodeFileByteSource.open(`${FIXTURES}clip-tiny.hf.safetensors`), { id: 'clip-tiny' });
}

export function tinyPickleBytes(): Uint8Array {
  return new Uint8Array(readFileSync(`${FIXTURES}eg3d-tiny.pkl`));
}

/** A strongly stylised synthetic reference: saturated diagonal stripes over a warm gradient. */
export function stripedReference(size = 64): RgbaImage {
  const data = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const i = (y * size + x) * 4;
      const stripe = Math.floor((x + y) / 6) % 2 === 0;
      data[i] = stripe ? 240 : 40;
      data[i + 1] = stripe ? 60 + (y * 150) / size : 20;
      data[i + 2] = stripe ? 30 : 200;
      data[i + 3] = 255;
    }
  }
  return { width: size, height: size, data };
}

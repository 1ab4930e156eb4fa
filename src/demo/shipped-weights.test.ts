import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { camerasTensor, cameraFromYawPitch, frontalCamera } from '../eg3d/camera.ts';
import { describeConfig } from '../eg3d/config.ts';
import { generatorFromSafetensors } from '../engine/embedded.ts';
import { demoConfig, demoInitKwargs } from './config.ts';

const SHIPPED = fileURLToPath(new URL('../../public/models/demo-eg3d.safetensors', import.meta.url));

beforeAll(async () => {
  await initNodeBackend('wasm');
});

describe('shipped demo generator (public/models/demo-eg3d.safetensors)', () => {
  it('is at most 20 MB and loads through the EG3D code path as the demo architecture', async () => {
    expect(statSync(SHIPPED).size).toBeLessThanOrEqual(20e6);
    const { generator, metadata } = await generatorFromSafetensors(new MemoryByteSource(new Uint8Array(readFileSync(SHIPPED)), 'demo-eg3d.safetensors'));
    expect(JSON.parse(metadata.init_kwargs)).toEqual(demoInitKwargs());
    expect(describeConfig(generator.config)).toBe(describeConfig(demoConfig()));
    const training = JSON.parse(metadata.training) as { field_steps: number; options: { seed: number } };
    expect(training.field_steps).toBeGreaterThan(0);
    // a full synthesis: 128² image, 64² raw render and depth, all finite; the centre ray hits something
    const out = tf.tidy(() => {
      const ws = generator.mapping(tf.tensor2d(new Random(3).normalArray(512), [1, 512]), camerasTensor([frontalCamera()]), { psi: 0.7 });
      const o = generator.synthesis(ws, camerasTensor([cameraFromYawPitch(0.3, -0.1)]), { noiseMode: 'const', draws: { kind: 'deterministic' } });
      return { image: o.image, depth: o.imageDepth };
    });
    expect(out.image.shape).toEqual([1, 128, 128, 3]);
    expect(out.depth.shape).toEqual([1, 64, 64, 1]);
    expect(out.image.dataSync().every(Number.isFinite)).toBe(true);
    const d = out.depth.dataSync();
    expect(d[32 * 64 + 32]).toBeGreaterThan(2.25);
    expect(d[32 * 64 + 32]).toBeLessThan(3.3);
    tf.dispose([out.image, out.depth]);
    generator.dispose();
  });
});

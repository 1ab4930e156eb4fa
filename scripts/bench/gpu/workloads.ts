/**
 * The four GPU workloads `npm run bench:gpu` times and the gpu-profile section counts: a viewer frame with
 * the backbone computed (mapping + G1 + rendering + G2, image read back for display), a viewer frame
 * from cached tri-planes (rendering + G2), a step-1 (Tri-D) and a step-2 (G2) training iteration; and the
 * generators / encoders they run on (fixtures, the embedded demo generator, random-weight full-size nets).
 */
import * as tf from '@tensorflow/tfjs';
import { join } from 'node:path';
import { Random } from '../../../src/core/random.ts';
import { EG3DGenerator } from '../../../src/eg3d/generator.ts';
import { backboneBlocks, FFHQ512_128_CONFIG, parseEG3DConfig, type EG3DConfig } from '../../../src/eg3d/config.ts';
import { readEG3DPickle } from '../../../src/eg3d/checkpoint.ts';
import { initRandomWeights } from '../../../src/eg3d/weights.ts';
import { camerasTensor, cameraFromYawPitch, frontalCamera } from '../../../src/eg3d/camera.ts';
import { DEFAULT_CHUNK_RAYS } from '../../../src/eg3d/renderer.ts';
import { ClipImageEncoder, loadClipEncoder, type FeatureEncoder } from '../../../src/clip/encoder.ts';
import { OPENAI_VIT_CONFIGS, randomVisionTransformer, type ClipVisionConfig } from '../../../src/clip/vit.ts';
import { generatorFromSafetensors, EMBEDDED_GENERATOR_FILE } from '../../../src/engine/embedded.ts';
import { openEmbeddedFile } from '../../../src/platform/node-embedded.ts';
import { NodeFileByteSource } from '../../../src/platform/node-file.ts';
import { trainerFor } from '../adapt.ts';
import type { MethodOptions } from '../../../src/adapter/options.ts';

export type GeneratorName = 'tiny' | 'demo' | 'ffhqlike' | 'ffhq512-128' | 'smoke' | 'probe';

/**
 * The smoke generator (`bench:gpu --smoke`): the tiny fixture's architecture (its init / rendering kwargs:
 * mapping, the seven-block 256² backbone, Tri-D, SuperresolutionHybrid2X's two blocks) at the smallest size
 * that keeps every module and code path, with random weights: backbone channel_max 8 (instead of 32), neural
 * rendering 32² × (8 + 8) samples (instead of 64² × (24 + 24)), SR input 32² and output 64² with 16 / 8
 * channels (instead of 64² → 128² with 128 / 64). The tiny fixture itself costs ≈ 4 GMAC per frame, which
 * SwiftShader runs at ≈ 0.04 GMAC/s; this one ≈ 0.25 GMAC (`npm run bench:gpu -- --smoke` in about a minute).
 */
export async function smokeConfig(fixturesDir: string, backboneResolution = 64): Promise<EG3DConfig> {
  const ckpt = await readEG3DPickle(await NodeFileByteSource.open(join(fixturesDir, 'eg3d-tiny.pkl')));
  const rk = { ...ckpt.renderingKwargs, depth_resolution: 8, depth_resolution_importance: 8 };
  const tiny = parseEG3DConfig({ initKwargs: { ...ckpt.initKwargs, channel_max: 8, rendering_kwargs: rk }, renderingKwargs: rk, neuralRenderingResolution: 32 });
  const [b0, b1] = tiny.superresolution.blocks;
  const bb = backboneBlocks(backboneResolution, tiny.backbone.channelBase, tiny.backbone.channelMax);
  return {
    ...tiny,
    imgResolution: 64,
    backbone: { ...tiny.backbone, resolution: backboneResolution, blocks: bb.blocks, numWs: bb.numWs },
    superresolution: {
      ...tiny.superresolution,
      inputResolution: 32,
      blocks: [
        { ...b0, outChannels: 16, resolution: 32 },
        { ...b1, inChannels: 16, outChannels: 8, resolution: 64 },
      ],
    },
  };
}

/**
 * The dispatch probe (`bench:gpu --probe`): ffhq512-128's structure at narrow widths, to count its GPU
 * dispatches on an emulated GPU. The smoke generator with the seven-block 256² backbone (channel_max 8) and
 * SuperresolutionHybrid8XDC's structure — two up-sampling blocks, 16² → 32² → 64² with 16 / 8 channels — fed by
 * a 16² render (one renderer chunk; ffhq512-128 renders 128², four chunks per sample: add those from the
 * per-chunk counts, docs/benchmarks.md).
 */
export async function probeConfig(fixturesDir: string): Promise<EG3DConfig> {
  const base = await smokeConfig(fixturesDir, 256);
  const sr = base.superresolution;
  const up = sr.blocks[1];
  return {
    ...base,
    neuralRenderingResolution: 16,
    superresolution: {
      ...sr,
      inputResolution: 16,
      blocks: [
        { ...up, kind: 'up', inChannels: sr.blocks[0].inChannels, outChannels: 16, resolution: 32 },
        { ...up, kind: 'up', inChannels: 16, outChannels: 8, resolution: 64 },
      ],
    },
  };
}

export async function makeGenerator(name: GeneratorName, fixturesDir: string): Promise<EG3DGenerator> {
  switch (name) {
    case 'tiny':
    case 'ffhqlike':
      return EG3DGenerator.fromPickle(await NodeFileByteSource.open(join(fixturesDir, `eg3d-${name}.pkl`)));
    case 'demo':
      return (await generatorFromSafetensors(await openEmbeddedFile(EMBEDDED_GENERATOR_FILE))).generator;
    case 'ffhq512-128':
      return EG3DGenerator.create(FFHQ512_128_CONFIG, initRandomWeights(FFHQ512_128_CONFIG, new Random(1)));
    case 'smoke': {
      const config = await smokeConfig(fixturesDir);
      return EG3DGenerator.create(config, initRandomWeights(config, new Random(1)));
    }
    case 'probe': {
      const config = await probeConfig(fixturesDir);
      return EG3DGenerator.create(config, initRandomWeights(config, new Random(1)));
    }
  }
}

/** Small random ViTs with the B/32 and B/16 patch geometry (input 64², width 64, 2 blocks) for --smoke. */
const SMALL_VITS: Record<string, ClipVisionConfig> = {
  'ViT-small/32': { width: 64, layers: 2, heads: 4, patchSize: 32, inputResolution: 64, embedDim: 32 },
  'ViT-small/16': { width: 64, layers: 2, heads: 4, patchSize: 16, inputResolution: 64, embedDim: 32 },
};

/** ViT-B/32 and ViT-B/16's depth and geometry (12 blocks, 224² input) at width 64, for --probe. */
const NARROW_VITS: Record<string, ClipVisionConfig> = {
  'ViT-narrow/32': { width: 64, layers: 12, heads: 4, patchSize: 32, inputResolution: 224, embedDim: 32 },
  'ViT-narrow/16': { width: 64, layers: 12, heads: 4, patchSize: 16, inputResolution: 224, embedDim: 32 },
};

export type EncoderSet = 'full' | 'small' | 'narrow' | 'clip-tiny';

/** Both CLIP ViTs (B/32 + B/16) with random weights, their small twins, or the CLIP fixture. */
export async function makeEncoders(set: EncoderSet, fixturesDir: string): Promise<FeatureEncoder[]> {
  if (set === 'clip-tiny') {
    return [await loadClipEncoder(await NodeFileByteSource.open(join(fixturesDir, 'clip-tiny.hf.safetensors')), { id: 'clip-tiny', name: 'CLIP tiny fixture' })];
  }
  const configs: [string, ClipVisionConfig][] = set === 'full'
    ? [['ViT-B/32', OPENAI_VIT_CONFIGS['ViT-B/32']], ['ViT-B/16', OPENAI_VIT_CONFIGS['ViT-B/16']]]
    : Object.entries(set === 'narrow' ? NARROW_VITS : SMALL_VITS);
  return configs.map(([name, c], i) => new ClipImageEncoder(randomVisionTransformer(c, 10 + i), null, { id: `random-${name}`, name: `CLIP ${name} (random weights)` }));
}

/** Tri-planes of one latent (what the viewer caches while the latent stays). */
export function planesFor(gen: EG3DGenerator, seed = 1): tf.Tensor5D {
  return tf.tidy(() => {
    const z = tf.tensor2d(new Random(seed).normalArray(gen.config.zDim), [1, gen.config.zDim]);
    const ws = gen.mapping(z, camerasTensor([frontalCamera()]), { psi: 0.7 });
    return gen.planes(ws, { noiseMode: 'const' });
  });
}

/**
 * One viewer frame at orbit angle `k`: from `planes` when given (backbone cached), else mapping + backbone
 * first; the image is read back, as the viewer does to display it.
 */
export async function viewerFrame(gen: EG3DGenerator, k: number, planes: tf.Tensor5D | null): Promise<void> {
  const image = tf.tidy(() => {
    const z = tf.tensor2d(new Random(1).normalArray(gen.config.zDim), [1, gen.config.zDim]);
    const ws = gen.mapping(z, camerasTensor([frontalCamera()]), { psi: 0.7 });
    const p = planes ?? gen.planes(ws, { noiseMode: 'const' });
    const cView = camerasTensor([cameraFromYawPitch(0.35 * Math.sin(k * 0.7), 0.1 * Math.cos(k * 0.5))]);
    const { features } = gen.render(p, cView, { draws: { kind: 'deterministic' } });
    const [n, h, w] = features.shape;
    const raw = tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]);
    return gen.superresolve(raw, features, ws);
  });
  try {
    await image.data();
  } finally {
    image.dispose();
  }
}

export interface Training {
  /** Runs one iteration (Adam step included); returns when its loss values are on the CPU. */
  step: () => Promise<void>;
  dispose: () => void;
}

/** A trainer whose whole schedule is `iterations` iterations of one step, at `batch`. */
export function training(gen: EG3DGenerator, encoders: FeatureEncoder[], phase: 'tri-d' | 'g2', iterations: number, batch: number, options: Partial<MethodOptions> = {}): Training {
  const { trainer, owned } = trainerFor(gen, encoders, DEFAULT_CHUNK_RAYS, phase === 'tri-d' ? [iterations, 0] : [0, iterations], options, batch);
  return {
    step: async () => {
      await trainer.step();
    },
    dispose: () => {
      trainer.dispose(true);
      tf.dispose(owned);
    },
  };
}

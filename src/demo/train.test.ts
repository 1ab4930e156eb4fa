import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { camerasTensor, frontalCamera } from '../eg3d/camera.ts';
import { describeConfig } from '../eg3d/config.ts';
import { sampleTriplanes } from '../eg3d/triplane.ts';
import { tensorSpecs } from '../eg3d/weights.ts';
import { generatorFromSafetensors } from '../engine/embedded.ts';
import { demoConfig } from './config.ts';
import { installFastPackGradient } from './fast-grads.ts';
import { DEFAULT_DEMO_TRAIN_OPTIONS, DemoTrainer, targetSlopeAt, trainingSigmaTarget, type DemoTrainOptions } from './train.ts';
import { DENSITY_SLOPE, NUM_HEAD_FACTORS, sigmaRawFromSdf } from './heads.ts';

beforeAll(async () => {
  await initNodeBackend('wasm');
  installFastPackGradient();
});

const TINY: DemoTrainOptions = { ...DEFAULT_DEMO_TRAIN_OPTIONS, seed: 5, fieldSteps: 2, srSteps: 0, batch: 1, pointsPerHead: 256 };

async function weightsOf(t: DemoTrainer, names: string[]): Promise<Float32Array[]> {
  const file = await SafetensorsFile.open(new MemoryByteSource(await t.serializeCheckpoint()));
  return Promise.all(names.map(async (n) => (await file.readFloat32(n)).data));
}

describe('demo generator training', () => {
  it('the reduced config parses like an official checkpoint and fits the size budget', () => {
    const c = demoConfig();
    expect(describeConfig(c)).toContain('SuperresolutionHybrid2X');
    expect(c.backbone.resolution).toBe(256);
    expect(c.neuralRenderingResolution).toBe(64);
    const floats = tensorSpecs(c).reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
    expect(floats * 4).toBeLessThan(20e6);
  });

  it('fast-plane training features = the generator planes through the official sampler', () => {
    const t = DemoTrainer.create(TINY);
    const gen = t.generator();
    const rng = new Random(9);
    const pts = Float32Array.from({ length: 3 * 300 }, () => (2 * rng.next() - 1) * 0.5);
    const [mine, ref] = tf.tidy(() => {
      const ws = gen.mapping(tf.tensor2d(rng.normalArray(512), [1, 512]), camerasTensor([frontalCamera()]));
      const planes = gen.planes(ws, { noiseMode: 'const' });
      return [t.trainableFeatures(ws, [pts]).dataSync(), sampleTriplanes(planes, tf.tensor3d(pts, [1, 300, 3]), 1).dataSync()];
    });
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < ref.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(mine[i] - ref[i]));
      maxRef = Math.max(maxRef, Math.abs(ref[i]));
    }
    expect(maxRef).toBeGreaterThan(0.01);
    expect(maxDiff / maxRef).toBeLessThan(1e-4);
    t.dispose();
  });

  it('is deterministic and resumes exactly from a checkpoint, without leaking tensors', async () => {
    const names = ['decoder.net.2.weight', 'backbone.synthesis.b64.conv1.weight', 'backbone.mapping.fc1.weight'];
    const a = DemoTrainer.create(TINY);
    const r1 = await a.step();
    const before = tf.memory().numTensors;
    await a.step();
    expect(tf.memory().numTensors).toBe(before);
    expect(a.phase).toBe('done');
    const wa = await weightsOf(a, names);

    const b = DemoTrainer.create(TINY);
    const rb = await b.step();
    expect(rb.loss).toBe(r1.loss);
    const ckpt = await b.serializeCheckpoint();
    b.dispose();
    const c = await DemoTrainer.fromCheckpoint(new MemoryByteSource(ckpt, 'ckpt'));
    expect(c.stepFields).toBe(1);
    await c.step();
    const wc = await weightsOf(c, names);
    for (let i = 0; i < names.length; i++) expect(wc[i]).toEqual(wa[i]);
    // training changed the trained weights and left b128/b256 ToRGB at zero
    const fresh = DemoTrainer.create(TINY);
    const w0 = await weightsOf(fresh, [...names, 'backbone.synthesis.b256.torgb.weight']);
    expect(w0[0]).not.toEqual(wa[0]);
    const wz = await weightsOf(a, ['backbone.synthesis.b256.torgb.weight', 'backbone.synthesis.b128.torgb.bias']);
    expect(wz.every((w) => w.every((v) => v === 0))).toBe(true);
    for (const t of [a, c, fresh]) t.dispose();
  });

  it('exports official keys and metadata that the engine loader reads', async () => {
    const t = DemoTrainer.create({ ...TINY, fieldSteps: 1 });
    await t.step();
    const bytes = await t.exportSafetensors({ note: 'test' });
    t.dispose();
    expect(bytes.length).toBeLessThan(20e6);
    const file = await SafetensorsFile.open(new MemoryByteSource(bytes));
    const specs = tensorSpecs(demoConfig());
    expect(file.keys()).toEqual(specs.map((s) => s.name));
    for (const s of specs) expect(file.entries.get(s.name)!.shape).toEqual(s.shape); // PyTorch layouts
    expect(JSON.parse(file.metadata.training).note).toBe('test');
    const wAvg = (await file.readFloat32('backbone.mapping.w_avg')).data;
    expect(wAvg.some((v) => v !== 0)).toBe(true);

    const { generator, metadata } = await generatorFromSafetensors(new MemoryByteSource(bytes, 'demo.safetensors'));
    expect(metadata.init_kwargs).toBeDefined();
    expect(describeConfig(generator.config)).toBe(describeConfig(demoConfig()));
    const out = tf.tidy(() => {
      const ws = generator.mapping(tf.tensor2d(new Random(1).normalArray(512), [1, 512]), camerasTensor([frontalCamera()]), { psi: 0.7 });
      const planes = generator.planes(ws, { noiseMode: 'const' });
      return generator.render(planes, camerasTensor([frontalCamera()]), { draws: { kind: 'deterministic' }, neuralRenderingResolution: 8 }).features;
    });
    expect(out.shape).toEqual([1, 8, 8, 32]);
    expect(out.dataSync().every(Number.isFinite)).toBe(true);
    out.dispose();
    generator.dispose();
  });

  it('fits G2 on rendered pairs, changing only superresolution.*', async () => {
    const t = DemoTrainer.create({ ...TINY, fieldSteps: 0, srSteps: 1, srBatch: 1 });
    const names = ['superresolution.block1.torgb.weight', 'decoder.net.2.weight'];
    const before = await weightsOf(t, names);
    const r = await t.step();
    expect(r.phase).toBe('sr');
    expect(Number.isFinite(r.loss)).toBe(true);
    const after = await weightsOf(t, names);
    expect(after[0]).not.toEqual(before[0]);
    expect(after[1]).toEqual(before[1]);
    t.dispose();
  });

  it('anneals the phase-1 density target from a soft slope to a sharp one, then holds it', () => {
    const o: DemoTrainOptions = { ...DEFAULT_DEMO_TRAIN_OPTIONS, fieldSteps: 1000, targetSlopeStart: 300, targetSlopeEnd: 2000, slopeAnnealFraction: 0.5 };
    expect(targetSlopeAt(o, 0)).toBeCloseTo(300, 6);
    expect(targetSlopeAt(o, 250)).toBeCloseTo(Math.sqrt(300 * 2000), 6); // geometric
    expect(targetSlopeAt(o, 500)).toBeCloseTo(2000, 6);
    expect(targetSlopeAt(o, 900)).toBeCloseTo(2000, 6);
    // at the ground-truth slope the target is the ground-truth density
    for (const d of [-0.1, -0.01, -0.001, 0, 0.0005, 0.002, 0.1]) expect(trainingSigmaTarget(d, DENSITY_SLOPE)).toBe(sigmaRawFromSdf(d));
    expect(trainingSigmaTarget(-0.01, 300)).toBeCloseTo(4, 6);
    expect(trainingSigmaTarget(0.1, 300)).toBe(-4);
  });

  it('a resumed run takes option overrides (e.g. a lower learning rate) and keeps the rest', async () => {
    const a = DemoTrainer.create({ ...TINY, fieldSteps: 1 });
    await a.step();
    const ckpt = await a.serializeCheckpoint();
    a.dispose();
    const b = await DemoTrainer.fromCheckpoint(new MemoryByteSource(ckpt, 'ckpt'), { learningRate: 0.001, fieldSteps: 3 });
    expect(b.options.learningRate).toBe(0.001);
    expect(b.options.fieldSteps).toBe(3);
    expect(b.options.pointsPerHead).toBe(TINY.pointsPerHead);
    expect(b.stepFields).toBe(1);
    b.dispose();
  });

  it('trains a factor probe w → head factors: in checkpoints, never in the export, off for older runs', async () => {
    const t = DemoTrainer.create({ ...TINY, fieldSteps: 2, factorProbeWeight: 1 });
    const r = await t.step();
    // the probe starts at the constant 0.5: its error is that of uniforms, ≈ 1/12 on average
    expect(r.terms.probe).toBeGreaterThan(0.02);
    expect(r.terms.probe).toBeLessThan(0.2);
    const ckpt = await SafetensorsFile.open(new MemoryByteSource(await t.serializeCheckpoint(), 'ckpt'));
    expect(ckpt.has('factor_probe.weight')).toBe(true);
    const probe = await ckpt.readFloat32('factor_probe.weight');
    expect(probe.shape).toEqual([512, NUM_HEAD_FACTORS]);
    expect(probe.data.some((v) => v !== 0)).toBe(true); // it learned from the first step
    const exported = await SafetensorsFile.open(new MemoryByteSource(await t.exportSafetensors(), 'demo.safetensors'));
    expect(exported.keys().some((n) => n.startsWith('factor_probe'))).toBe(false);
    t.dispose();
    const off = DemoTrainer.create(TINY); // off by default
    expect((await off.step()).terms.probe).toBeUndefined();
    off.dispose();
  });

  it('warm-starts from exported weights: same weights, continued step count, rates ramped from zero', async () => {
    const a = DemoTrainer.create({ ...TINY, fieldSteps: 1 });
    await a.step();
    const exported = await a.exportSafetensors();
    const names = ['decoder.net.2.weight', 'backbone.synthesis.b64.conv1.weight', 'superresolution.block1.torgb.weight'];
    const wa = await weightsOf(a, names);
    a.dispose();
    const b = await DemoTrainer.fromWeights(new MemoryByteSource(exported, 'demo.safetensors'), { fieldSteps: 3, srSteps: 1, faceFraction: 0.5 });
    expect(b.stepFields).toBe(1);
    expect(b.stepSr).toBe(0);
    expect(b.options.faceFraction).toBe(0.5);
    expect(b.options.pointsPerHead).toBe(TINY.pointsPerHead); // the file's recorded options
    const wb = await weightsOf(b, names);
    for (let i = 0; i < names.length; i++) expect(wb[i]).toEqual(wa[i]);
    const r = await b.step();
    expect(Number.isFinite(r.loss)).toBe(true);
    // first warm step at 1/100 of the rate: the decoder weights move, but by far less than a full step
    const wb1 = await weightsOf(b, names);
    let maxMove = 0;
    for (let j = 0; j < wb1[0].length; j++) maxMove = Math.max(maxMove, Math.abs(wb1[0][j] - wa[0][j]));
    expect(maxMove).toBeGreaterThan(0);
    expect(maxMove).toBeLessThan(0.02 * b.options.decoderLearningRate);
    // the warm start survives a checkpoint round trip and is recorded in the export
    const c = await DemoTrainer.fromCheckpoint(new MemoryByteSource(await b.serializeCheckpoint(), 'ckpt'));
    const training = JSON.parse((await SafetensorsFile.open(new MemoryByteSource(await c.exportSafetensors()))).metadata.training) as { warm_start_step: number };
    expect(training.warm_start_step).toBe(1);
    await expect(DemoTrainer.fromWeights(new MemoryByteSource(await b.serializeCheckpoint(), 'ckpt.safetensors'))).rejects.toThrow(/not an exported demo generator/);
    for (const t of [b, c]) t.dispose();
  });
});

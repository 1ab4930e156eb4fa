import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initNodeBackend } from '../platform/node-backend.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { Random } from '../core/random.ts';
import { compareArrays } from '../testing/compare.ts';
import { EG3DGenerator } from './generator.ts';
import { parseEG3DConfig } from './config.ts';
import { initRandomWeights, tfToTorch, torchToTf, disposeWeights, tensorSpecs } from './weights.ts';

const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/', import.meta.url));

describe('EG3DGenerator on the tiny fixture (wasm)', () => {
  let g: EG3DGenerator;
  let ref: SafetensorsFile;
  let cases: Array<{ psi: number; cutoff: number | null }>;

  beforeAll(async () => {
    await initNodeBackend('wasm');
    g = await EG3DGenerator.fromPickle(await NodeFileByteSource.open(`${FIXTURES}eg3d-tiny.pkl`));
    ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}eg3d-tiny.reference.safetensors`));
    cases = JSON.parse(readFileSync(`${FIXTURES}eg3d-tiny.json`, 'utf8')).cases;
  });
  afterAll(() => g?.dispose());

  it('reproduces ws and the backbone planes of every case (noise const)', async () => {
    for (let i = 0; i < cases.length; i++) {
      const z = await ref.readFloat32(`case${i}.z`);
      const c = await ref.readFloat32(`case${i}.c_cond`);
      const wsRef = await ref.readFloat32(`case${i}.ws`);
      const planesRef = await ref.readFloat32(`case${i}.planes_stride8`);
      const { ws, planes8 } = tf.tidy(() => {
        const ws = g.mapping(tf.tensor2d(z.data, [1, 512]), tf.tensor2d(c.data, [1, 25]), { psi: cases[i].psi, cutoff: cases[i].cutoff });
        const planes = g.planes(ws, { noiseMode: 'const' });
        expect(planes.shape).toEqual([1, 3, 256, 256, 32]);
        // planes [N,3,H,W,32] → NCHW channel 32p+k, stride 8
        const nchw = tf.transpose(planes, [0, 1, 4, 2, 3]).reshape([1, 96, 256, 256]);
        return { ws: ws.dataSync(), planes8: tf.stridedSlice(nchw, [0, 0, 0, 0], [1, 96, 256, 256], [1, 1, 8, 8]).dataSync() };
      });
      expect(compareArrays('tiny', 'ws', ws, wsRef.data, 1e-4).pass).toBe(true);
      const row = compareArrays('tiny', 'planes', planes8, planesRef.data, 1e-4);
      expect(row.rel).toBeLessThan(1e-4);
    }
  });

  it('noise modes: const differs from none, random is seeded and reproducible', () => {
    const out = tf.tidy(() => {
      const ws = tf.zeros([1, g.numWs, 512]) as tf.Tensor3D;
      const a = g.backbone(ws, { noiseMode: 'const' });
      const b = g.backbone(ws, { noiseMode: 'none' });
      const r1 = g.backbone(ws, { noiseMode: 'random', rng: new Random(3) });
      const r2 = g.backbone(ws, { noiseMode: 'random', rng: new Random(3) });
      const d = (x: tf.Tensor, y: tf.Tensor) => tf.max(tf.abs(tf.sub(x, y))).dataSync()[0];
      return { constNone: d(a, b), rr: d(r1, r2), rConst: d(r1, a) };
    });
    expect(out.constNone).toBeGreaterThan(0);
    expect(out.rr).toBe(0);
    expect(out.rConst).toBeGreaterThan(0);
    expect(() => tf.tidy(() => g.backbone(tf.zeros([1, g.numWs, 512]) as tf.Tensor3D, { noiseMode: 'random' }))).toThrow(/rng/);
  });

  it('repeated renders (forward and decoder/SR gradients) do not leak tensors', () => {
    const cam = tf.tensor2d([1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 2.7, 0, 0, 0, 1, 4.2647, 0, 0.5, 0, 4.2647, 0.5, 0, 0, 1], [1, 25]);
    const ws = tf.tidy(() => g.mapping(tf.ones([1, 512]), cam, { psi: 0.7 }));
    const counts: number[] = [];
    for (let k = 0; k < 2; k++) {
      const out = g.synthesis(ws, cam, { noiseMode: 'const', draws: { kind: 'random', rng: new Random(k) }, neuralRenderingResolution: 32 });
      expect(out.image.shape).toEqual([1, 128, 128, 3]); // 32² raw is resized to SR's 64² input
      expect(out.imageRaw.shape).toEqual([1, 32, 32, 3]);
      expect(out.imageDepth.shape).toEqual([1, 32, 32, 1]);
      tf.dispose([out.image, out.imageRaw, out.imageDepth]);
      counts.push(tf.memory().numTensors);
    }
    const names = [...g.weights.keys()].filter((n) => n.startsWith('decoder.') || n.endsWith('block1.torgb.weight'));
    for (let k = 0; k < 2; k++) {
      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => {
        const h = g.withWeights(new Map(names.map((n, j) => [n, ps[j]])));
        return tf.mean(h.synthesis(ws, cam, { noiseMode: 'const', draws: { kind: 'deterministic' }, neuralRenderingResolution: 16 }).image) as tf.Scalar;
      })(names.map((n) => g.weights.get(n)!));
      expect(grads.every((gr) => tf.tidy(() => tf.sum(tf.abs(gr)).dataSync()[0]) > 0)).toBe(true);
      tf.dispose([value, ...grads]);
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    tf.dispose([cam, ws]);
  });

  it('withWeights shares untouched tensors and validates overrides', () => {
    const w = tf.zeros([32, 64]);
    const h = g.withWeights(new Map([['decoder.net.0.weight', w]]));
    expect(h.weights.get('decoder.net.0.weight')).toBe(w);
    expect(h.weights.get('backbone.mapping.fc0.weight')).toBe(g.weights.get('backbone.mapping.fc0.weight'));
    h.dispose();
    expect(g.weights.get('backbone.mapping.fc0.weight')!.isDisposed).toBe(false);
    expect(() => g.withWeights(new Map([['decoder.net.0.weight', tf.zeros([2, 2])]]))).toThrow(/shape/);
    expect(() => g.withWeights(new Map([['nope', w]]))).toThrow(/not a weight/);
    w.dispose();
  });
});

describe('weights', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('torchToTf / tfToTorch are inverse and use the contract layouts', () => {
    const data = Float32Array.from({ length: 2 * 3 * 3 * 3 }, (_, i) => i);
    const conv = torchToTf('x.conv1.weight', [2, 3, 3, 3], data);
    expect(conv.shape).toEqual([3, 3, 3, 2]);
    // element [o=1, i=2, ky=0, kx=1] → tf [0, 1, 2, 1]
    expect(conv.arraySync() as number[][][][]).toHaveProperty([0, 1, 2, 1], 1 * 27 + 2 * 9 + 0 * 3 + 1);
    expect(Array.from(tfToTorch('x.conv1.weight', conv).data)).toEqual(Array.from(data));
    const fc = torchToTf('a.affine.weight', [2, 3], data.slice(0, 6));
    expect(fc.shape).toEqual([3, 2]);
    expect(tfToTorch('a.affine.weight', fc).shape).toEqual([2, 3]);
    const c = torchToTf('b4.const', [2, 3, 1], data.slice(0, 6));
    expect(c.shape).toEqual([2, 3, 1]);
    tf.dispose([conv, fc, c]);
  });

  it('initRandomWeights builds every tensor with the official init', () => {
    const js = JSON.parse(readFileSync(`${FIXTURES}eg3d-tiny.json`, 'utf8'));
    const config = parseEG3DConfig({ initKwargs: js.init_kwargs, neuralRenderingResolution: 64 });
    const w = initRandomWeights(config, new Random(1));
    expect([...w.keys()]).toEqual(tensorSpecs(config).map((s) => s.name));
    expect(Array.from(w.get('superresolution.block0.conv0.affine.bias')!.dataSync()).every((v) => v === 1)).toBe(true);
    expect(w.get('backbone.mapping.fc0.bias')!.dataSync().every((v) => v === 0)).toBe(true);
    // mapping FC weights are randn / 0.01
    const std = tf.tidy(() => tf.moments(w.get('backbone.mapping.fc0.weight')!).variance.sqrt().dataSync()[0]);
    expect(std).toBeGreaterThan(80);
    expect(std).toBeLessThan(120);
    disposeWeights(w);
  });
});

/**
 * EG3D conformance against the fixtures made with the official PyTorch code (../shared/fixtures,
 * README there): loads the pickle named in `eg3d-<cfg>.json` with readEG3DPickle, replays every
 * case with the recorded renderer draws and compares ws, planes (stride 8), image_raw, image_depth,
 * image, the tri-plane samples + decoder outputs at `points.xyz`, and the gradients of
 * loss = mean(image·R_image) + mean(image_raw·R_image_raw) w.r.t. every `decoder.*` and
 * `superresolution.*` parameter. References are NCHW / PyTorch layout; ours are converted to match.
 */
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { compareArrays, TOL_IMAGE, TOL_MODULE, type ConformanceRow } from '../testing/compare.ts';
import type { ConformanceResult } from './report.ts';
import { EG3DGenerator } from '../eg3d/generator.ts';
import type { EG3DConfig } from '../eg3d/config.ts';
import { sampleTriplanes } from '../eg3d/triplane.ts';
import { decodeTriplaneFeatures } from '../eg3d/decoder.ts';
import { tfToTorchAsync } from '../eg3d/weights.ts';

/** Structurally the `ConformanceOptions` of scripts/conformance.ts, plus test-only limits. */
export interface Eg3dConformanceOptions {
  /** Gradient checks whose estimated cost exceeds this many GFLOP are skipped (reported in `skipped`). */
  gradBudgetGflop: number;
  log: (msg: string) => void;
  backend?: string;
  /** Check only the first `maxCases` cases (default: all). */
  maxCases?: number;
  /** Skip the points (tri-plane sampling + decoder) check. */
  skipPoints?: boolean;
}

interface FixtureCase {
  seed: number;
  psi: number;
  cutoff: number | null;
}

interface FixtureJson {
  config: string;
  pickle: string;
  cases: FixtureCase[];
}

/** Values of an NHWC tensor in NCHW order, read asynchronously (webgpu in Node cannot read synchronously). */
async function nchwValues(t: tf.Tensor4D): Promise<Float32Array> {
  const nchw = tf.transpose(t, [0, 3, 1, 2]);
  try {
    return (await nchw.data()) as Float32Array;
  } finally {
    nchw.dispose();
  }
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}
const fromNchw = (data: Float32Array, shape: number[]) =>
  tf.tidy(() => tf.transpose(tf.tensor4d(data, shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D);

/**
 * Estimated GFLOP of one loss+gradient evaluation: forward and backward (≈ 2× forward) of the
 * super-resolution convolutions and of the decoder MLP at every ray sample.
 */
export function estimateGradGflop(config: EG3DConfig, batch = 1): number {
  let macs = 0;
  for (const b of config.superresolution.blocks) {
    const inRes = b.kind === 'up' ? b.resolution / 2 : b.resolution;
    macs += b.inChannels * b.outChannels * 9 * inRes * inRes; // conv0 (phase-decomposed up-conv costs the low-res count)
    macs += b.outChannels * b.outChannels * 9 * b.resolution * b.resolution; // conv1
    macs += b.outChannels * 3 * b.resolution * b.resolution; // torgb
  }
  const r = config.neuralRenderingResolution;
  const samples = r * r * (config.rendering.depthResolution + config.rendering.depthResolutionImportance);
  const d = config.decoder;
  macs += samples * (d.inFeatures * d.hiddenDim + d.hiddenDim * (1 + d.outputDim));
  return (batch * 3 * 2 * macs) / 1e9;
}

export async function runEg3dConformance(jsonPath: string, opts: Eg3dConformanceOptions): Promise<ConformanceResult> {
  const js = JSON.parse(readFileSync(jsonPath, 'utf8')) as FixtureJson;
  const fixture = `eg3d-${js.config}`;
  const dir = dirname(jsonPath);
  const rows: ConformanceRow[] = [];
  const result: ConformanceResult = { rows, skipped: [] };
  const add = (row: ConformanceRow) => {
    rows.push(row);
    opts.log(`${row.pass ? 'ok  ' : 'FAIL'} ${fixture} ${row.tensor}: max abs ${row.maxAbs.toExponential(2)}, rel ${row.rel.toExponential(2)} (tol ${row.tol})`);
  };

  const t0 = performance.now();
  const gen = await EG3DGenerator.fromPickle(await NodeFileByteSource.open(join(dir, js.pickle)));
  opts.log(`${fixture}: loaded ${js.pickle} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
  const ref = await SafetensorsFile.open(await NodeFileByteSource.open(join(dir, js.pickle.replace(/\.pkl$/, '.reference.safetensors'))));
  const read = async (k: string) => (await ref.readFloat32(k)).data;
  const shapeOf = (k: string) => ref.entries.get(k)!.shape;

  let planes0: tf.Tensor5D | null = null;
  let ws0: tf.Tensor3D | null = null;
  try {
    const nCases = Math.min(js.cases.length, opts.maxCases ?? Infinity);
    for (let i = 0; i < nCases; i++) {
      const c = js.cases[i];
      const p = `case${i}.`;
      const z = tf.tensor2d(await read(`${p}z`), [1, gen.config.zDim]);
      const cCond = tf.tensor2d(await read(`${p}c_cond`), [1, 25]);
      const cView = tf.tensor2d(await read(`${p}c_view`), [1, 25]);
      const draws = { kind: 'recorded' as const, coarseJitter: await read(`${p}coarse_jitter`), importanceU: await read(`${p}importance_u`) };
      const ws = gen.mapping(z, cCond, { psi: c.psi, cutoff: c.cutoff });
      add(compareArrays(fixture, `${p}ws`, await values(ws), await read(`${p}ws`), TOL_MODULE));
      const tc = performance.now();
      const planes = gen.planes(ws, { noiseMode: 'const' });
      const stride8 = tf.tidy(() => {
        const nchw = tf.transpose(planes, [0, 1, 4, 2, 3]).reshape([1, 96, planes.shape[2], planes.shape[3]]);
        return tf.stridedSlice(nchw, [0, 0, 0, 0], nchw.shape, [1, 1, 8, 8]);
      });
      add(compareArrays(fixture, `${p}planes_stride8`, await values(stride8), await read(`${p}planes_stride8`), TOL_MODULE));
      const rendered = gen.render(planes, cView, { draws });
      const out = tf.tidy(() => {
        const [n, h, w] = rendered.features.shape;
        const imageRaw = tf.slice(rendered.features, [0, 0, 0, 0], [n, h, w, 3]);
        return { imageRaw, image: gen.superresolve(imageRaw, rendered.features, ws) };
      });
      await values(out.image); // wait for the GPU before timing
      opts.log(`${fixture} ${p.slice(0, -1)}: forward ${((performance.now() - tc) / 1000).toFixed(2)} s`);
      add(compareArrays(fixture, `${p}image_raw`, await nchwValues(out.imageRaw), await read(`${p}image_raw`), TOL_IMAGE));
      add(compareArrays(fixture, `${p}image_depth`, await nchwValues(rendered.depth), await read(`${p}image_depth`), TOL_IMAGE));
      add(compareArrays(fixture, `${p}image`, await nchwValues(out.image), await read(`${p}image`), TOL_IMAGE));
      tf.dispose([z, cCond, stride8, rendered.features, rendered.depth, out.imageRaw, out.image]);
      if (i === 0) {
        planes0 = planes;
        ws0 = ws;
        // cView/draws of case 0 are needed again for the gradient check
        await checkPointsAndGradients(gen, planes, ws, cView, draws);
      } else {
        tf.dispose([planes, ws]);
      }
      cView.dispose();
    }
  } finally {
    if (planes0) tf.dispose(planes0);
    if (ws0) tf.dispose(ws0);
    gen.dispose();
  }
  return result;

  async function checkPointsAndGradients(
    g: EG3DGenerator,
    planes: tf.Tensor5D,
    ws: tf.Tensor3D,
    cView: tf.Tensor2D,
    draws: { kind: 'recorded'; coarseJitter: Float32Array; importanceU: Float32Array },
  ) {
    if (!opts.skipPoints && ref.has('points.xyz')) {
      const xyzShape = shapeOf('points.xyz');
      const xyz = tf.tensor3d(await read('points.xyz'), xyzShape as [number, number, number]);
      const feats = sampleTriplanes(planes, xyz, g.config.rendering.boxWarp);
      add(compareArrays(fixture, 'points.features', await values(feats), await read('points.features'), TOL_MODULE));
      const flat = feats.reshape([-1, feats.shape[2]]) as tf.Tensor2D;
      const dec = decodeTriplaneFeatures(flat, g.weights, { lrMul: g.config.decoder.lrMul });
      add(compareArrays(fixture, 'points.sigma', await values(dec.sigma), await read('points.sigma'), TOL_MODULE));
      add(compareArrays(fixture, 'points.rgb', await values(dec.rgb), await read('points.rgb'), TOL_MODULE));
      tf.dispose([xyz, feats, flat, dec.sigma, dec.rgb]);
    }
    const gradKeys = ref.keys().filter((k) => k.startsWith('grad.decoder.') || k.startsWith('grad.superresolution.'));
    if (!ref.has('grad.loss') || gradKeys.length === 0) return;
    const est = estimateGradGflop(g.config);
    if (est > opts.gradBudgetGflop) {
      result.skipped.push({
        fixture,
        what: `grad.loss and ${gradKeys.length} grad.* tensors`,
        why: `estimated ${est.toFixed(0)} GFLOP exceeds the gradient budget of ${opts.gradBudgetGflop} GFLOP (use --full or --grad-budget)`,
      });
      opts.log(`${fixture}: gradients skipped (estimated ${est.toFixed(0)} GFLOP > budget ${opts.gradBudgetGflop})`);
      return;
    }
    const names = gradKeys.map((k) => k.slice('grad.'.length));
    const rImage = fromNchw(await read('grad.R_image'), shapeOf('grad.R_image'));
    const rRaw = fromNchw(await read('grad.R_image_raw'), shapeOf('grad.R_image_raw'));
    const params = names.map((n) => g.weights.get(n)!);
    const tg = performance.now();
    const { value, grads } = tf.tidy(() =>
      tf.valueAndGrads((...ps: tf.Tensor[]) => {
        const h = g.withWeights(new Map(names.map((n, j) => [n, ps[j]])));
        const { features } = h.render(planes, cView, { draws });
        const [n, hh, w] = features.shape;
        const imageRaw = tf.slice(features, [0, 0, 0, 0], [n, hh, w, 3]);
        const image = h.superresolve(imageRaw, features, ws);
        return tf.add(tf.mean(tf.mul(image, rImage)), tf.mean(tf.mul(imageRaw, rRaw))) as tf.Scalar;
      })(params),
    );
    opts.log(`${fixture}: loss + gradients ${((performance.now() - tg) / 1000).toFixed(2)} s (estimated ${est.toFixed(1)} GFLOP)`);
    add(compareArrays(fixture, 'grad.loss', await values(value), await read('grad.loss'), TOL_IMAGE));
    for (let j = 0; j < names.length; j++) {
      const torch = await tfToTorchAsync(names[j], grads[j]);
      add(compareArrays(fixture, `grad.${names[j]}`, torch.data, await read(`grad.${names[j]}`), TOL_IMAGE));
    }
    tf.dispose([value, ...grads, rImage, rRaw]);
  }
}

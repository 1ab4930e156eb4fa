/**
 * Renderer tests on the wasm backend against an independent float64 plain-JS implementation of the
 * official algorithm (rays, grid_sample, OSGDecoder, MipRayMarcher2, sample_importance/sample_pdf,
 * unify_samples), on small random inputs.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { describeBackends } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { cameraFromYawPitch, camerasTensor } from './camera.ts';
import { renderSettingsFromKwargs, renderTriplanes, RenderSettingsError, type RenderSettings } from './renderer.ts';

// ---------------------------------------------------------------- float64 reference

interface RefDecoder {
  w0: Float32Array; // [in, hidden] (tfjs layout)
  b0: Float32Array;
  w1: Float32Array; // [hidden, out]
  b1: Float32Array;
  inF: number;
  hidden: number;
  outF: number;
  lrMul: number;
}

interface RefPlanes {
  data: Float32Array; // [N, 3, H, W, C]
  h: number;
  w: number;
  c: number;
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

/** torch grid_sample(bilinear, zeros, align_corners=False) of one plane at (u, v). */
function gridSample(p: RefPlanes, n: number, plane: number, u: number, v: number, out: Float64Array, scale: number): void {
  const ix = ((u + 1) * p.w - 1) / 2;
  const iy = ((v + 1) * p.h - 1) / 2;
  const ixNW = Math.floor(ix);
  const iyNW = Math.floor(iy);
  const taps: [number, number, number][] = [
    [iyNW, ixNW, (ixNW + 1 - ix) * (iyNW + 1 - iy)],
    [iyNW, ixNW + 1, (ix - ixNW) * (iyNW + 1 - iy)],
    [iyNW + 1, ixNW, (ixNW + 1 - ix) * (iy - iyNW)],
    [iyNW + 1, ixNW + 1, (ix - ixNW) * (iy - iyNW)],
  ];
  for (const [r, col, wgt] of taps) {
    if (r < 0 || r >= p.h || col < 0 || col >= p.w) continue;
    const base = ((((n * 3 + plane) * p.h + r) * p.w + col) * p.c);
    for (let ch = 0; ch < p.c; ch++) out[ch] += scale * wgt * p.data[base + ch];
  }
}

function refFeatures(p: RefPlanes, n: number, x: number, y: number, z: number, boxWarp: number): Float64Array {
  const s = 2 / boxWarp;
  const out = new Float64Array(p.c);
  gridSample(p, n, 0, x * s, y * s, out, 1 / 3);
  gridSample(p, n, 1, x * s, z * s, out, 1 / 3);
  gridSample(p, n, 2, z * s, x * s, out, 1 / 3);
  return out;
}

function refDecode(d: RefDecoder, f: Float64Array): Float64Array {
  const g0 = d.lrMul / Math.sqrt(d.inF);
  const g1 = d.lrMul / Math.sqrt(d.hidden);
  const h = new Float64Array(d.hidden);
  for (let j = 0; j < d.hidden; j++) {
    let a = d.b0[j] * d.lrMul;
    for (let i = 0; i < d.inF; i++) a += f[i] * d.w0[i * d.hidden + j] * g0;
    h[j] = softplus(a);
  }
  const o = new Float64Array(d.outF);
  for (let k = 0; k < d.outF; k++) {
    let a = d.b1[k] * d.lrMul;
    for (let j = 0; j < d.hidden; j++) a += h[j] * d.w1[j * d.outF + k] * g1;
    o[k] = k === 0 ? a : (1 / (1 + Math.exp(-a))) * 1.002 - 0.001;
  }
  return o;
}

function refRay(cam: ArrayLike<number>, res: number, m: number): { o: number[]; d: number[] } {
  const i = Math.floor(m / res);
  const j = m % res;
  const x = (j + 0.5) / res;
  const y = (i + 0.5) / res;
  const [fx, sk, cx, , fy, cy] = [cam[16], cam[17], cam[18], cam[19], cam[20], cam[21]];
  const xl = (x - cx + (cy * sk) / fy - (sk * y) / fy) / fx;
  const yl = (y - cy) / fy;
  const p = [xl, yl, 1, 1];
  const world = [0, 1, 2].map((r) => cam[4 * r] * p[0] + cam[4 * r + 1] * p[1] + cam[4 * r + 2] * p[2] + cam[4 * r + 3] * p[3]);
  const o = [cam[3], cam[7], cam[11]];
  const dv = world.map((w, k) => w - o[k]);
  const nrm = Math.hypot(dv[0], dv[1], dv[2]);
  return { o, d: dv.map((v) => v / nrm) };
}

function refWeights(sigma: number[], t: number[]): { w: number[]; mid: number[] } {
  const w: number[] = [];
  const mid: number[] = [];
  let trans = 1;
  for (let k = 0; k < t.length - 1; k++) {
    const rho = softplus((sigma[k] + sigma[k + 1]) / 2 - 1);
    const alpha = 1 - Math.exp(-rho * (t[k + 1] - t[k]));
    w.push(alpha * trans);
    trans *= 1 - alpha + 1e-10;
    mid.push((t[k] + t[k + 1]) / 2);
  }
  return { w, mid };
}

/** sample_importance + sample_pdf (det = False) for one ray. */
function refImportance(t: number[], w: number[], u: ArrayLike<number>): number[] {
  const n = w.length; // D − 1
  const pooled = [w[0], ...w.slice(0, n - 1).map((v, k) => Math.max(v, w[k + 1])), w[n - 1]];
  const smooth = pooled.slice(0, n).map((v, k) => (v + pooled[k + 1]) / 2 + 0.01);
  const bins = t.slice(0, -1).map((v, k) => 0.5 * (v + t[k + 1]));
  const pw = smooth.slice(1, -1).map((v) => v + 1e-5);
  const nb = pw.length;
  const total = pw.reduce((a, b) => a + b, 0);
  const cdf = [0];
  for (const v of pw) cdf.push(cdf[cdf.length - 1] + v / total);
  return Array.from(u, (uu) => {
    let inds = 0;
    while (inds < cdf.length && cdf[inds] <= uu) inds++; // searchsorted right
    const below = Math.max(inds - 1, 0);
    const above = Math.min(inds, nb);
    let denom = cdf[above] - cdf[below];
    if (denom < 1e-5) denom = 1;
    return bins[below] + ((uu - cdf[below]) / denom) * (bins[above] - bins[below]);
  });
}

interface RefResult {
  features: Float64Array; // [N·M, C]
  depth: Float64Array; // [N·M]
  fine: number[][]; // per ray
  /** Rays that missed the box ('auto' limits). */
  misses: number;
}

function refRender(
  planes: RefPlanes,
  dec: RefDecoder,
  cams: Float32Array[],
  s: RenderSettings,
  jitter: Float32Array,
  u: Float32Array,
  fixedFine?: number[][],
): RefResult {
  const res = s.resolution;
  const m = res * res;
  const d = s.depthResolution;
  const di = s.depthResolutionImportance;
  const n = cams.length;
  const cOut = dec.outF - 1;
  const features = new Float64Array(n * m * cOut);
  const rawDepth = new Float64Array(n * m);
  const fine: number[][] = [];
  let tMin = Infinity;
  let tMax = -Infinity;
  // 'auto' limits first (the miss fallback is global over the batch).
  const limits: [number, number][] = [];
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < m; r++) {
      const { o, d: dir } = refRay(cams[b], res, r);
      if (s.rayStart !== 'auto') {
        limits.push([s.rayStart, s.rayEnd as number]);
        continue;
      }
      let t0 = -Infinity;
      let t1 = Infinity;
      let hit = true;
      for (let a = 0; a < 3; a++) {
        const inv = 1 / dir[a];
        const lo = ((inv < 0 ? s.boxWarp / 2 : -s.boxWarp / 2) - o[a]) * inv;
        const hi = ((inv < 0 ? -s.boxWarp / 2 : s.boxWarp / 2) - o[a]) * inv;
        if (t0 > hi || lo > t1) hit = false;
        t0 = Math.max(t0, lo);
        t1 = Math.min(t1, hi);
      }
      limits.push(hit ? [t0, t1] : [-1, -2]);
    }
  }
  const misses = limits.filter(([a, e]) => !(e > a)).length;
  if (s.rayStart === 'auto') {
    const valid = limits.filter(([a, e]) => e > a);
    if (valid.length) {
      const lo = Math.min(...valid.map((l) => l[0]));
      const hi = Math.max(...valid.map((l) => l[0]));
      for (const l of limits) if (!(l[1] > l[0])) [l[0], l[1]] = [lo, hi];
    }
  }
  for (let b = 0; b < n; b++) {
    for (let r = 0; r < m; r++) {
      const g = b * m + r;
      const { o, d: dir } = refRay(cams[b], res, r);
      const [start, end] = limits[g];
      const coarseT: number[] = [];
      for (let k = 0; k < d; k++) {
        const j = jitter[g * d + k];
        if (s.disparitySpaceSampling) {
          const l = k / (d - 1) + j / (d - 1);
          coarseT.push(1 / ((1 / start) * (1 - l) + (1 / end) * l));
        } else {
          const delta = (end - start) / (d - 1);
          coarseT.push(start + k * delta + j * delta);
        }
      }
      const evalAt = (t: number) => refDecode(dec, refFeatures(planes, b, o[0] + t * dir[0], o[1] + t * dir[1], o[2] + t * dir[2], s.boxWarp));
      let samples = coarseT.map((t) => ({ t, out: evalAt(t) }));
      if (di > 0) {
        const { w } = refWeights(samples.map((x) => x.out[0]), coarseT);
        const f = fixedFine ? fixedFine[g] : refImportance(coarseT, w, u.subarray(g * di, (g + 1) * di));
        fine.push(f);
        samples = samples.concat(f.map((t) => ({ t, out: evalAt(t) }))).sort((p, q) => p.t - q.t);
      }
      const t = samples.map((x) => x.t);
      tMin = Math.min(tMin, ...t);
      tMax = Math.max(tMax, ...t);
      const { w, mid } = refWeights(samples.map((x) => x.out[0]), t);
      let wsum = 0;
      let dsum = 0;
      for (let k = 0; k < w.length; k++) {
        wsum += w[k];
        dsum += w[k] * mid[k];
        for (let ch = 0; ch < cOut; ch++) features[g * cOut + ch] += (w[k] * (samples[k].out[1 + ch] + samples[k + 1].out[1 + ch])) / 2;
      }
      for (let ch = 0; ch < cOut; ch++) {
        let v = features[g * cOut + ch];
        if (s.whiteBack) v = v + 1 - wsum;
        features[g * cOut + ch] = v * 2 - 1;
      }
      rawDepth[g] = dsum / wsum; // NaN where wsum = 0
    }
  }
  const depth = rawDepth.map((v) => Math.min(Math.max(Number.isNaN(v) ? Infinity : v, tMin), tMax));
  return { features, depth, fine, misses };
}

// ---------------------------------------------------------------- fixtures of the tests

interface Problem {
  planes: tf.Tensor5D;
  refPlanes: RefPlanes;
  weights: Map<string, tf.Tensor>;
  dec: RefDecoder;
  cams: Float32Array[];
  camTensor: tf.Tensor2D;
}

function makeProblem(seed: number, n: number, h: number, w: number, opts: { focal?: number; lrMul?: number; planeScale?: number } = {}): Problem {
  const rng = new Random(seed);
  const c = 32;
  const hidden = 64;
  const planeData = rng.normalArray(n * 3 * h * w * c).map((v) => v * (opts.planeScale ?? 1));
  const w0 = rng.normalArray(c * hidden);
  const b0 = rng.normalArray(hidden).map((v) => v * 0.5);
  const w1 = rng.normalArray(hidden * 33);
  const b1 = rng.normalArray(33).map((v) => v * 0.5);
  const cams = Array.from({ length: n }, (_, i) => cameraFromYawPitch(0.3 - 0.5 * i, -0.15 + 0.2 * i, { focal: opts.focal }));
  return {
    planes: tf.tensor5d(planeData, [n, 3, h, w, c]),
    refPlanes: { data: planeData, h, w, c },
    weights: new Map<string, tf.Tensor>([
      ['decoder.net.0.weight', tf.tensor2d(w0, [c, hidden])],
      ['decoder.net.0.bias', tf.tensor1d(b0)],
      ['decoder.net.2.weight', tf.tensor2d(w1, [hidden, 33])],
      ['decoder.net.2.bias', tf.tensor1d(b1)],
    ]),
    dec: { w0, b0, w1, b1, inF: c, hidden, outF: 33, lrMul: opts.lrMul ?? 1 },
    cams,
    camTensor: camerasTensor(cams),
  };
}

function disposeProblem(p: Problem): void {
  tf.dispose([p.planes, p.camTensor, ...p.weights.values()]);
}

function settings(over: Partial<RenderSettings> = {}): RenderSettings {
  return {
    resolution: 5,
    depthResolution: 8,
    depthResolutionImportance: 6,
    rayStart: 2.25,
    rayEnd: 3.3,
    boxWarp: 1,
    disparitySpaceSampling: false,
    clampMode: 'softplus',
    whiteBack: false,
    decoderLrMul: 1,
    chunkRays: 4096,
    ...over,
  };
}

function maxRelErr(actual: ArrayLike<number>, ref: ArrayLike<number>): { abs: number; rel: number } {
  expect(actual.length).toBe(ref.length);
  let abs = 0;
  let mag = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(actual[i] - ref[i]);
    if (!(e <= abs)) abs = e;
    mag = Math.max(mag, Math.abs(ref[i]));
  }
  return { abs, rel: abs / (mag || 1) };
}

async function renderValues(p: Problem, s: RenderSettings, jitter: Float32Array, u: Float32Array) {
  const out = renderTriplanes(p.planes, p.weights, p.camTensor, s, { kind: 'recorded', coarseJitter: jitter, importanceU: u });
  const f = (await out.features.data()) as Float32Array;
  const d = (await out.depth.data()) as Float32Array;
  expect(out.features.shape).toEqual([p.cams.length, s.resolution, s.resolution, 32]);
  expect(out.depth.shape).toEqual([p.cams.length, s.resolution, s.resolution, 1]);
  tf.dispose([out.features, out.depth]);
  return { f, d };
}

// ---------------------------------------------------------------- tests

describeBackends('renderTriplanes vs a float64 reference', (suite) => {
  const variants: [string, Partial<RenderSettings>, { focal?: number; lrMul?: number }][] = [
    ['released settings (stratified + importance)', {}, {}],
    ['white_back, decoder_lr_mul 2, box_warp 1.3', { whiteBack: true, decoderLrMul: 2, boxWarp: 1.3 }, { lrMul: 2 }],
    ['disparity-space sampling', { disparitySpaceSampling: true, rayStart: 2.0, rayEnd: 3.5 }, {}],
    ['no importance pass', { depthResolutionImportance: 0, depthResolution: 12 }, {}],
    ["ray_start = ray_end = 'auto' with rays that miss the box", { rayStart: 'auto', rayEnd: 'auto' }, { focal: 0.9 }],
  ];

  for (const [name, over, popts] of variants) {
    it(name, async () => {
      const p = makeProblem(11, 2, 9, 7, popts);
      const s = settings(over);
      const rng = new Random(5);
      const m = s.resolution * s.resolution * 2;
      const jitter = rng.uniformArray(m * s.depthResolution);
      const u = rng.uniformArray(m * s.depthResolutionImportance);
      const ours = await renderValues(p, s, jitter, u);
      const ref = refRender(p.refPlanes, p.dec, p.cams, s, jitter, u);
      const ef = maxRelErr(ours.f, ref.features);
      const ed = maxRelErr(ours.d, ref.depth);
      console.log(`${name}: features max abs ${ef.abs.toExponential(2)} (rel ${ef.rel.toExponential(2)}), depth max abs ${ed.abs.toExponential(2)}`);
      expect(ef.rel).toBeLessThan(1e-4);
      expect(ed.rel).toBeLessThan(1e-5);
      // The inputs exercise the interesting regimes: visible density and some near-empty rays.
      const spread = Math.max(...ref.features) - Math.min(...ref.features);
      expect(spread).toBeGreaterThan(0.2);
      if (s.rayStart === 'auto') expect(ref.misses).toBeGreaterThan(0);
      disposeProblem(p);
    });
  }

  it('chunking does not change the result, and random draws are reproducible from the seed', async () => {
    const p = makeProblem(3, 2, 8, 8);
    const run = async (chunkRays: number, seed: number) => {
      const out = renderTriplanes(p.planes, p.weights, p.camTensor, settings({ chunkRays }), { kind: 'random', rng: new Random(seed) });
      const v = { f: (await out.features.data()) as Float32Array, d: (await out.depth.data()) as Float32Array };
      tf.dispose([out.features, out.depth]);
      return v;
    };
    const whole = await run(10_000, 9);
    const chunked = await run(7, 9); // chunks straddle rows and both batch elements
    expect(maxRelErr(chunked.f, whole.f).abs).toBeLessThan(1e-6);
    expect(maxRelErr(chunked.d, whole.d).abs).toBeLessThan(1e-6);
    const other = await run(10_000, 10);
    expect(maxRelErr(other.f, whole.f).abs).toBeGreaterThan(1e-4);
    disposeProblem(p);
  });

  it('deterministic draws use jitter 0.5 and u = linspace(0, 1, Di)', async () => {
    const p = makeProblem(4, 1, 8, 8);
    const s = settings();
    const m = s.resolution * s.resolution;
    const jitter = new Float32Array(m * s.depthResolution).fill(0.5);
    const u = new Float32Array(m * s.depthResolutionImportance);
    for (let r = 0; r < m; r++) for (let i = 0; i < s.depthResolutionImportance; i++) u[r * s.depthResolutionImportance + i] = i / (s.depthResolutionImportance - 1);
    const out = renderTriplanes(p.planes, p.weights, p.camTensor, s, { kind: 'deterministic' });
    const det = (await out.features.data()) as Float32Array;
    tf.dispose([out.features, out.depth]);
    const rec = await renderValues(p, s, jitter, u);
    expect(maxRelErr(det, rec.f).abs).toBe(0);
    disposeProblem(p);
  });

  const gradCases: [string, Partial<RenderSettings>][] = [
    ['released settings', {}],
    ['white_back, decoder_lr_mul 1.5, no importance pass', { whiteBack: true, decoderLrMul: 1.5, depthResolutionImportance: 0 }],
  ];
  for (const [gname, gover] of gradCases) it(`gradient w.r.t. the decoder matches central finite differences of the reference (${gname})`, async () => {
    const p = makeProblem(21, 1, 8, 8, { lrMul: gover.decoderLrMul });
    const s = settings({ resolution: 3, depthResolution: 6, depthResolutionImportance: 5, ...gover });
    const rng = new Random(8);
    const m = s.resolution * s.resolution;
    const jitter = rng.uniformArray(m * s.depthResolution);
    const u = rng.uniformArray(m * s.depthResolutionImportance);
    const rF = rng.normalArray(m * 32);
    const rD = rng.normalArray(m);
    const loss = (r: RefResult) => r.features.reduce((a, v, i) => a + v * rF[i], 0) + r.depth.reduce((a, v, i) => a + v * rD[i], 0);
    // Official semantics: importance positions are detached, so they stay fixed under perturbation.
    const fine = refRender(p.refPlanes, p.dec, p.cams, s, jitter, u).fine;

    const keys = ['decoder.net.0.weight', 'decoder.net.0.bias', 'decoder.net.2.weight', 'decoder.net.2.bias'];
    const vars = keys.map((k) => tf.variable(p.weights.get(k)!, true, `fd_${k}`));
    const wmap = new Map<string, tf.Tensor>(keys.map((k, i) => [k, vars[i]]));
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => {
      const out = renderTriplanes(p.planes, wmap, p.camTensor, s, { kind: 'recorded', coarseJitter: jitter, importanceU: u });
      return tf.add(tf.sum(tf.mul(out.features, tf.tensor(rF, out.features.shape))), tf.sum(tf.mul(out.depth, tf.tensor(rD, out.depth.shape)))) as tf.Scalar;
    }, vars);
    expect(Math.abs((await value.data())[0] - loss(refRender(p.refPlanes, p.dec, p.cams, s, jitter, u, fine)))).toBeLessThan(1e-3);
    const arrays: Record<string, Float32Array> = { 'decoder.net.0.weight': p.dec.w0, 'decoder.net.0.bias': p.dec.b0, 'decoder.net.2.weight': p.dec.w1, 'decoder.net.2.bias': p.dec.b1 };
    const eps = 1e-3;
    for (const [i, k] of keys.entries()) {
      const g = await grads[vars[i].name].data();
      const arr = arrays[k];
      const picks = Array.from({ length: Math.min(24, arr.length) }, (_, j) => Math.floor((j * arr.length) / Math.min(24, arr.length)));
      let worst = 0;
      let mag = 0;
      for (const idx of picks) {
        const orig = arr[idx];
        arr[idx] = orig + eps;
        const lp = loss(refRender(p.refPlanes, p.dec, p.cams, s, jitter, u, fine));
        arr[idx] = orig - eps;
        const lm = loss(refRender(p.refPlanes, p.dec, p.cams, s, jitter, u, fine));
        arr[idx] = orig;
        // arr is float32: use the actually representable step
        const fd = (lp - lm) / (Math.fround(orig + eps) - Math.fround(orig - eps));
        worst = Math.max(worst, Math.abs(fd - g[idx]));
        mag = Math.max(mag, Math.abs(fd));
      }
      console.log(`grad (${gname}) ${k}: max |tf − FD| ${worst.toExponential(2)} (max |FD| ${mag.toExponential(2)})`);
      suite.record({ fixture: suite.backend, tensor: `grad ${k} vs FD (${gname})`, maxAbs: worst, rel: worst / mag, tol: 2e-3, pass: worst / mag < 2e-3 });
      expect(mag).toBeGreaterThan(1e-3);
      expect(worst / mag).toBeLessThan(2e-3);
    }
    tf.dispose([value, ...Object.values(grads)]);
    expect(tf.memory().numTensors).toBe(before);
    vars.forEach((v) => v.dispose());
    disposeProblem(p);
  });

  it('leaks no tensors across repeated renders', async () => {
    const p = makeProblem(2, 1, 8, 8);
    const s = settings({ chunkRays: 4 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const out = renderTriplanes(p.planes, p.weights, p.camTensor, s, { kind: 'random', rng: new Random(i) });
      tf.dispose([out.features, out.depth]);
    }
    expect(tf.memory().numTensors).toBe(before);
    disposeProblem(p);
  });
});

describe('render settings', () => {
  it('maps the fixture rendering_kwargs and rejects what MipRayMarcher2 does not support', () => {
    const js = JSON.parse(readFileSync('../shared/fixtures/eg3d-ffhqlike.json', 'utf8')) as { init_kwargs: { rendering_kwargs: Record<string, unknown> } };
    const s = renderSettingsFromKwargs(js.init_kwargs.rendering_kwargs, 128);
    expect(s).toMatchObject({ resolution: 128, depthResolution: 48, depthResolutionImportance: 48, rayStart: 2.25, rayEnd: 3.3, boxWarp: 1, disparitySpaceSampling: false, clampMode: 'softplus', whiteBack: false, decoderLrMul: 1 });
    expect(() => renderSettingsFromKwargs({ ...js.init_kwargs.rendering_kwargs, clamp_mode: 'relu' }, 64)).toThrow(RenderSettingsError);
    expect(() => renderSettingsFromKwargs({ ...js.init_kwargs.rendering_kwargs, ray_start: 'auto' }, 64)).toThrow(/must both be 'auto'/);
    expect(() => renderSettingsFromKwargs({ ...js.init_kwargs.rendering_kwargs, depth_resolution: 3 }, 64)).toThrow(/≥ 4/);
    expect(() => renderSettingsFromKwargs({ ...js.init_kwargs.rendering_kwargs, density_noise: 0.5 }, 64)).toThrow(/density_noise/);
    const auto = renderSettingsFromKwargs({ ...js.init_kwargs.rendering_kwargs, ray_start: 'auto', ray_end: 'auto', white_back: true }, 64);
    expect(auto.rayStart).toBe('auto');
    expect(auto.whiteBack).toBe(true);
  });
});

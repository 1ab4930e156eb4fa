import { describe, it, expect, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { Random } from '../core/random.ts';
import { upConvTranspose3x3, modulatedConv2d, synthesisLayer } from './modconv.ts';
import { upsample2d, fir1d, RESAMPLE_TAPS } from './upfirdn.ts';

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Direct reference of upfirdn2d (NHWC, single-channel math per channel): up, pad, 4×4 filter 4·outer(f,f)/64. */
function upfirdnRef(x: Float32Array, [n, h, w, c]: number[], up: number, pad: [number, number]): { data: Float32Array; shape: number[] } {
  const f1 = [1, 3, 3, 1];
  const gain = up * up;
  const uh = h * up, uw = w * up;
  const ph = uh + pad[0] + pad[1], pw = uw + pad[0] + pad[1];
  const oh = ph - 3, ow = pw - 3;
  const out = new Float32Array(n * oh * ow * c);
  const at = (b: number, yy: number, xx: number, ch: number) => {
    // padded-upsampled coordinate → original sample (zero when inserted or padding)
    const uy = yy - pad[0], ux = xx - pad[0];
    if (uy < 0 || ux < 0 || uy >= uh || ux >= uw || uy % up || ux % up) return 0;
    return x[((b * h + uy / up) * w + ux / up) * c + ch];
  };
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += at(b, oy + i, ox + j, ch) * f1[3 - i] * f1[3 - j];
          out[((b * oh + oy) * ow + ox) * c + ch] = (s * gain) / 64;
        }
  return { data: out, shape: [n, oh, ow, c] };
}

describe('up-sampling layers', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('upsample2d equals upfirdn2d(up=2, pad (2,1), gain 4)', () => {
    const rng = new Random(1);
    const shape = [2, 5, 4, 3];
    const x = rng.normalArray(2 * 5 * 4 * 3);
    const ref = upfirdnRef(x, shape, 2, [2, 1]);
    const y = tf.tidy(() => upsample2d(tf.tensor4d(x, shape as [number, number, number, number])));
    expect(y.shape).toEqual(ref.shape);
    expect(maxAbsDiff(y.dataSync(), ref.data)).toBeLessThan(1e-5);
    y.dispose();
  });

  it('the up-conv low-pass (separable fir1d, taps 2f) equals upfirdn2d(pad 1, gain 4)', () => {
    const rng = new Random(2);
    const shape = [1, 7, 6, 2];
    const x = rng.normalArray(7 * 6 * 2);
    const ref = upfirdnRef(x, shape, 1, [1, 1]);
    const taps = RESAMPLE_TAPS.map((t) => 2 * t);
    const y = tf.tidy(() => tf.mul(fir1d(fir1d(tf.tensor4d(x, shape as [number, number, number, number]), 1, taps, 1, 1), 2, taps, 1, 1), 1 / 4));
    expect(y.shape).toEqual(ref.shape);
    // upfirdnRef uses gain up² = 1 for up = 1; the layer's low-pass has gain 4.
    expect(maxAbsDiff(y.dataSync(), ref.data)).toBeLessThan(1e-5);
    y.dispose();
  });

  it("fir1d's custom gradient is the adjoint: <A x, r> = <x, Aᵀ r>", () => {
    const rng = new Random(9);
    for (const [axis, before, after] of [[1, 1, 0], [2, 0, 2], [1, 2, 1]] as const) {
      const taps = [0.5, -1, 2, 0.25]; // asymmetric: catches a missing reversal
      const x = tf.tensor4d(rng.normalArray(2 * 7 * 6 * 3), [2, 7, 6, 3]);
      const outShape = [...x.shape];
      outShape[axis] += before + after - 3;
      const r = tf.tensor(rng.normalArray(outShape.reduce((a, b) => a * b)), outShape);
      const [lhs, rhs] = tf.tidy(() => {
        const ax = fir1d(x, axis, taps, before, after);
        expect(ax.shape).toEqual(outShape);
        const atr = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(fir1d(v as tf.Tensor4D, axis, taps, before, after), r)))(x);
        return [tf.sum(tf.mul(ax, r)).dataSync()[0], tf.sum(tf.mul(x, atr)).dataSync()[0]];
      });
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
      tf.dispose([x, r]);
    }
  });

  it('phase-decomposed transposed conv equals tf.conv2dTranspose (+ one zero row/column)', () => {
    const rng = new Random(3);
    const [n, h, w, cin, cout] = [2, 4, 5, 3, 6];
    const x = tf.tensor4d(rng.normalArray(n * h * w * cin), [n, h, w, cin]);
    const wt = tf.tensor4d(rng.normalArray(9 * cin * cout), [3, 3, cin, cout]);
    const [mine, ref] = tf.tidy(() => {
      const y = upConvTranspose3x3(x, wt);
      expect(y.shape).toEqual([n, 2 * h + 2, 2 * w + 2, cout]);
      const r = tf.conv2dTranspose(x, tf.transpose(wt, [0, 1, 3, 2]) as tf.Tensor4D, [n, 2 * h + 1, 2 * w + 1, cout], 2, 'valid');
      const tail = tf.concat([tf.slice(y, [0, 2 * h + 1, 0, 0], [n, 1, -1, -1]).flatten(), tf.slice(y, [0, 0, 2 * w + 1, 0], [n, -1, 1, -1]).flatten()]);
      expect(tf.max(tf.abs(tail)).dataSync()[0]).toBe(0);
      return [tf.slice(y, [0, 0, 0, 0], [n, 2 * h + 1, 2 * w + 1, cout]), r];
    });
    expect(maxAbsDiff(mine.dataSync(), ref.dataSync())).toBeLessThan(1e-4);
    tf.dispose([x, wt, mine, ref]);
  });

  it('modulated up-conv: forward equals the fused reference and gradients match the cpu backend', async () => {
    const rng = new Random(4);
    const [n, h, w, cin, cout] = [2, 4, 4, 3, 5];
    const xd = rng.normalArray(n * h * w * cin);
    const wd = rng.normalArray(9 * cin * cout);
    const sd = rng.normalArray(n * cin);
    const rd = rng.normalArray(n * 2 * h * 2 * w * cout);
    // Reference: per-sample modulated + demodulated weights, native conv2dTranspose, low-pass; cpu backend.
    await tf.setBackend('cpu');
    const ref = tf.tidy(() => {
      const x = tf.tensor4d(xd, [n, h, w, cin]);
      const wt = tf.tensor4d(wd, [3, 3, cin, cout]);
      const s = tf.tensor2d(sd, [n, cin]);
      const r = tf.tensor4d(rd, [n, 2 * h, 2 * w, cout]);
      const f = (wv: tf.Tensor, sv: tf.Tensor) => {
        const outs: tf.Tensor[] = [];
        for (let b = 0; b < n; b++) {
          const sb = tf.slice(sv, [b, 0], [1, cin]).reshape([1, 1, cin, 1]);
          let wb = tf.mul(wv, sb);
          wb = tf.mul(wb, tf.rsqrt(tf.add(tf.sum(tf.square(wb), [0, 1, 2], true), 1e-8)));
          const xb = tf.slice(x, [b, 0, 0, 0], [1, h, w, cin]);
          const y = tf.conv2dTranspose(xb, tf.transpose(wb, [0, 1, 3, 2]) as tf.Tensor4D, [1, 2 * h + 1, 2 * w + 1, cout], 2, 'valid');
          // Independent low-pass: native depthwise conv with 4·outer(f,f)/64, padding 1.
          const f = [1, 3, 3, 1];
          const fir = tf.tensor4d(Array.from({ length: 16 }, (_, i) => (4 * f[Math.floor(i / 4)] * f[i % 4]) / 64), [4, 4, 1, 1]);
          outs.push(tf.depthwiseConv2d(tf.pad(y, [[0, 0], [1, 1], [1, 1], [0, 0]]), tf.tile(fir, [1, 1, cout, 1]) as tf.Tensor4D, 1, 'valid'));
        }
        return tf.sum(tf.mul(tf.concat(outs, 0), r));
      };
      const [gw, gs] = tf.grads(f)([wt, s]);
      return { loss: f(wt, s).dataSync()[0], gw: gw.dataSync().slice(), gs: gs.dataSync().slice() };
    });
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const mine = tf.tidy(() => {
      const x = tf.tensor4d(xd, [n, h, w, cin]);
      const wt = tf.tensor4d(wd, [3, 3, cin, cout]);
      const s = tf.tensor2d(sd, [n, cin]);
      const r = tf.tensor4d(rd, [n, 2 * h, 2 * w, cout]);
      const f = (wv: tf.Tensor, sv: tf.Tensor) => tf.sum(tf.mul(modulatedConv2d(x, wv as tf.Tensor4D, sv as tf.Tensor2D, { demodulate: true, up: 2 }), r));
      const [gw, gs] = tf.grads(f)([wt, s]);
      return { loss: f(wt, s).dataSync()[0], gw: gw.dataSync().slice(), gs: gs.dataSync().slice() };
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(mine.loss - ref.loss)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref.loss)));
    expect(maxAbsDiff(mine.gw, ref.gw)).toBeLessThan(1e-4);
    expect(maxAbsDiff(mine.gs, ref.gs)).toBeLessThan(1e-4);
  });
});

describe('synthesisLayer (fused per-sample op)', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  for (const up of [1, 2] as const) {
    it(`value and gradients (x, weight, bias, affine, noise strength) match plain ops on cpu (up ${up})`, async () => {
      const rng = new Random(20 + up);
      const [h, cin, cout, wdim] = [5, 3, 4, 6];
      const res = h * up;
      const d = {
        x: rng.normalArray(h * h * cin), w: rng.normalArray(9 * cin * cout), b: rng.normalArray(cout), aw: rng.normalArray(wdim * cin),
        ab: rng.normalArray(cin), lat: rng.normalArray(wdim), nc: rng.normalArray(res * res), r: rng.normalArray(res * res * cout),
      };
      const clamp = 0.9;
      const make = () => ({
        x: tf.tensor4d(d.x, [1, h, h, cin]), w: tf.tensor4d(d.w, [3, 3, cin, cout]), b: tf.tensor1d(d.b), aw: tf.tensor2d(d.aw, [wdim, cin]),
        ab: tf.tensor1d(d.ab), lat: tf.tensor2d(d.lat, [1, wdim]), nc: tf.tensor2d(d.nc, [res, res]), ns: tf.scalar(0.3), r: tf.tensor4d(d.r, [1, res, res, cout]),
      });
      await tf.setBackend('cpu');
      const ref = tf.tidy(() => {
        const t = make();
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, aw: tf.Tensor, ns: tf.Tensor) => {
          const s = tf.add(tf.mul(tf.matMul(t.lat, aw as tf.Tensor2D), 1 / Math.sqrt(wdim)), t.ab).reshape([1, 1, cin, 1]);
          let wb = tf.mul(w, s);
          wb = tf.mul(wb, tf.rsqrt(tf.add(tf.sum(tf.square(wb), [0, 1, 2], true), 1e-8)));
          let y: tf.Tensor4D;
          if (up === 1) y = tf.conv2d(x as tf.Tensor4D, wb as tf.Tensor4D, 1, 'same');
          else {
            const yt = tf.conv2dTranspose(x as tf.Tensor4D, tf.transpose(wb, [0, 1, 3, 2]) as tf.Tensor4D, [1, 2 * h + 1, 2 * h + 1, cout], 2, 'valid');
            const f1 = [1, 3, 3, 1];
            const fir = tf.tensor4d(Array.from({ length: 16 }, (_, i) => (4 * f1[Math.floor(i / 4)] * f1[i % 4]) / 64), [4, 4, 1, 1]);
            y = tf.depthwiseConv2d(tf.pad(yt, [[0, 0], [1, 1], [1, 1], [0, 0]]), tf.tile(fir, [1, 1, cout, 1]) as tf.Tensor4D, 1, 'valid');
          }
          const withNoise = tf.add(y, tf.mul(t.nc.reshape([1, res, res, 1]), ns));
          const out = tf.clipByValue(tf.mul(tf.leakyRelu(tf.add(withNoise, b), 0.2), Math.SQRT2), -clamp, clamp);
          return tf.sum(tf.mul(out, t.r));
        };
        const g = tf.grads(f)([t.x, t.w, t.b, t.aw, t.ns]);
        return { loss: f(t.x, t.w, t.b, t.aw, t.ns).dataSync()[0], g: g.map((v) => v.dataSync().slice()) };
      });
      await tf.setBackend('wasm');
      const mine = tf.tidy(() => {
        const t = make();
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, aw: tf.Tensor, ns: tf.Tensor) => {
          const out = synthesisLayer(x as tf.Tensor4D, t.lat, { affineWeight: aw as tf.Tensor2D, affineBias: t.ab, weight: w as tf.Tensor4D, bias: b as tf.Tensor1D, noiseStrength: ns, noiseConst: t.nc }, { up, noiseMode: 'const', convClamp: clamp });
          return tf.sum(tf.mul(out, t.r));
        };
        const g = tf.grads(f)([t.x, t.w, t.b, t.aw, t.ns]);
        return { loss: f(t.x, t.w, t.b, t.aw, t.ns).dataSync()[0], g: g.map((v) => v.dataSync().slice()) };
      });
      expect(Math.abs(mine.loss - ref.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss)));
      ref.g.forEach((gr, i) => expect(maxAbsDiff(mine.g[i], gr)).toBeLessThan(1e-4));
    });
  }
});

import { it, expect } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends, readAll, testBackend } from '../testing/backends.ts';
import { Random } from '../core/random.ts';
import { upConvTranspose3x3, modconvOptions, modulatedConv2d, synthesisLayer, tapeRecording, toRgb } from './modconv.ts';
import { upsample2d, fir1d, RESAMPLE_TAPS } from './upfirdn.ts';

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

describeBackends('up-sampling layers', (b) => {
  it('upsample2d equals upfirdn2d(up=2, pad (2,1), gain 4)', async () => {
    const rng = new Random(1);
    const shape = [2, 5, 4, 3];
    const x = rng.normalArray(2 * 5 * 4 * 3);
    const ref = upfirdnRef(x, shape, 2, [2, 1]);
    const y = tf.tidy(() => upsample2d(tf.tensor4d(x, shape as [number, number, number, number])));
    expect(y.shape).toEqual(ref.shape);
    b.check('upsample2d', (await readAll({ y })).y, ref.data, 1e-5, { mode: 'abs' });
  });

  it('the up-conv low-pass (separable fir1d, taps 2f) equals upfirdn2d(pad 1, gain 4)', async () => {
    const rng = new Random(2);
    const shape = [1, 7, 6, 2];
    const x = rng.normalArray(7 * 6 * 2);
    const ref = upfirdnRef(x, shape, 1, [1, 1]);
    const taps = RESAMPLE_TAPS.map((t) => 2 * t);
    const y = tf.tidy(() => tf.mul(fir1d(fir1d(tf.tensor4d(x, shape as [number, number, number, number]), 1, taps, 1, 1), 2, taps, 1, 1), 1 / 4));
    expect(y.shape).toEqual(ref.shape);
    // upfirdnRef uses gain up² = 1 for up = 1; the layer's low-pass has gain 4.
    b.check('up-conv low-pass', (await readAll({ y })).y, ref.data, 1e-5, { mode: 'abs' });
  });

  it("fir1d's custom gradient is the adjoint: <A x, r> = <x, Aᵀ r>", async () => {
    const rng = new Random(9);
    for (const [axis, before, after] of [[1, 1, 0], [2, 0, 2], [1, 2, 1]] as const) {
      const taps = [0.5, -1, 2, 0.25]; // asymmetric: catches a missing reversal
      const x = tf.tensor4d(rng.normalArray(2 * 7 * 6 * 3), [2, 7, 6, 3]);
      const outShape = [...x.shape];
      outShape[axis] += before + after - 3;
      const r = tf.tensor(rng.normalArray(outShape.reduce((a, b) => a * b)), outShape);
      const { lhs: [lhs], rhs: [rhs] } = await readAll(tf.tidy(() => {
        const ax = fir1d(x, axis, taps, before, after);
        expect(ax.shape).toEqual(outShape);
        const atr = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(fir1d(v as tf.Tensor4D, axis, taps, before, after), r)))(x);
        return { lhs: tf.sum(tf.mul(ax, r)), rhs: tf.sum(tf.mul(x, atr)) };
      }));
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-4 * Math.max(1, Math.abs(lhs)));
      tf.dispose([x, r]);
    }
  });

  it('phase-decomposed transposed conv equals tf.conv2dTranspose (+ one zero row/column)', async () => {
    const rng = new Random(3);
    const [n, h, w, cin, cout] = [2, 4, 5, 3, 6];
    const x = tf.tensor4d(rng.normalArray(n * h * w * cin), [n, h, w, cin]);
    const wt = tf.tensor4d(rng.normalArray(9 * cin * cout), [3, 3, cin, cout]);
    const { mine, ref, tailMax } = await readAll(tf.tidy(() => {
      const y = upConvTranspose3x3(x, wt);
      expect(y.shape).toEqual([n, 2 * h + 2, 2 * w + 2, cout]);
      const r = tf.conv2dTranspose(x, tf.transpose(wt, [0, 1, 3, 2]) as tf.Tensor4D, [n, 2 * h + 1, 2 * w + 1, cout], 2, 'valid');
      const tail = tf.concat([tf.slice(y, [0, 2 * h + 1, 0, 0], [n, 1, -1, -1]).flatten(), tf.slice(y, [0, 0, 2 * w + 1, 0], [n, -1, 1, -1]).flatten()]);
      return { mine: tf.slice(y, [0, 0, 0, 0], [n, 2 * h + 1, 2 * w + 1, cout]), ref: r, tailMax: tf.max(tf.abs(tail)) };
    }));
    expect(tailMax[0]).toBe(0);
    b.check('phase-decomposed transposed conv', mine, ref, 1e-4, { mode: 'abs' });
    tf.dispose([x, wt]);
  });

  it('modulated up-conv: forward equals the fused reference and gradients match the cpu backend', async () => {
    const rng = new Random(4);
    const [n, h, w, cin, cout] = [2, 4, 4, 3, 5];
    const xd = rng.normalArray(n * h * w * cin);
    const wd = rng.normalArray(9 * cin * cout);
    const sd = rng.normalArray(n * cin);
    const rd = rng.normalArray(n * 2 * h * 2 * w * cout);
    // Reference: per-sample modulated + demodulated weights, native conv2dTranspose, low-pass; cpu backend.
    await tf.setBackend('cpu'); // the oracle
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
    await tf.setBackend(testBackend());
    const before = tf.memory().numTensors;
    const mineT = tf.tidy(() => {
      const x = tf.tensor4d(xd, [n, h, w, cin]);
      const wt = tf.tensor4d(wd, [3, 3, cin, cout]);
      const s = tf.tensor2d(sd, [n, cin]);
      const r = tf.tensor4d(rd, [n, 2 * h, 2 * w, cout]);
      const f = (wv: tf.Tensor, sv: tf.Tensor) => tf.sum(tf.mul(modulatedConv2d(x, wv as tf.Tensor4D, sv as tf.Tensor2D, { demodulate: true, up: 2 }), r));
      const [gw, gs] = tf.grads(f)([wt, s]);
      return { loss: f(wt, s), gw, gs };
    });
    const { loss: [loss], ...mine } = await readAll(mineT);
    expect(tf.memory().numTensors).toBe(before);
    expect(Math.abs(loss - ref.loss)).toBeLessThan(1e-3 * Math.max(1, Math.abs(ref.loss)));
    b.check('modulated up-conv gw', mine.gw, ref.gw, 1e-4, { mode: 'abs' });
    b.check('modulated up-conv gs', mine.gs, ref.gs, 1e-4, { mode: 'abs' });
  });
});

describeBackends('synthesisLayer (fused per-sample op)', (b) => {
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
      await tf.setBackend('cpu'); // the oracle
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
      await tf.setBackend(testBackend());
      const mineT = tf.tidy(() => {
        const t = make();
        const f = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, aw: tf.Tensor, ns: tf.Tensor) => {
          const out = synthesisLayer(x as tf.Tensor4D, t.lat, { affineWeight: aw as tf.Tensor2D, affineBias: t.ab, weight: w as tf.Tensor4D, bias: b as tf.Tensor1D, noiseStrength: ns, noiseConst: t.nc }, { up, noiseMode: 'const', convClamp: clamp });
          return tf.sum(tf.mul(out, t.r));
        };
        const g = tf.grads(f)([t.x, t.w, t.b, t.aw, t.ns]);
        return { loss: f(t.x, t.w, t.b, t.aw, t.ns), g0: g[0], g1: g[1], g2: g[2], g3: g[3], g4: g[4] };
      });
      const { loss: [loss], g0, g1, g2, g3, g4 } = await readAll(mineT);
      const mine = { loss, g: [g0, g1, g2, g3, g4] };
      expect(Math.abs(mine.loss - ref.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(ref.loss)));
      ref.g.forEach((gr, i) => b.check(`synthesisLayer up ${up} grad ${['x', 'w', 'b', 'affine', 'noise strength'][i]}`, mine.g[i], gr, 1e-4, { mode: 'abs' }));
    });
  }
});

describeBackends('modulated convs off the tape with a batch (one conv for every sample)', (b) => {
  for (const up of [1, 2] as const) {
    it(`synthesisLayer, modulatedConv2d and toRgb's conv equal the per-sample form, and the tape still takes the per-sample form (up ${up})`, async () => {
      const rng = new Random(40 + up);
      const [n, h, cin, cout, wdim] = [3, 5, 4, 6, 7];
      const res = h * up;
      const x = tf.tensor4d(rng.normalArray(n * h * h * cin), [n, h, h, cin]);
      const lat = tf.tensor2d(rng.normalArray(n * wdim), [n, wdim]);
      const styles = tf.tensor2d(rng.normalArray(n * cin), [n, cin]);
      const noise = rng.normalArray(n * res * res);
      const p = {
        affineWeight: tf.tensor2d(rng.normalArray(wdim * cin), [wdim, cin]), affineBias: tf.tensor1d(rng.normalArray(cin)),
        weight: tf.tensor4d(rng.normalArray(9 * cin * cout), [3, 3, cin, cout]), bias: tf.tensor1d(rng.normalArray(cout)),
        noiseStrength: tf.scalar(0.3), noiseConst: tf.tensor2d(rng.normalArray(res * res), [res, res]),
      };
      const before = tf.memory().numTensors;
      const sample = (t: tf.Tensor, i: number) => tf.slice(t, i, 1);
      // 'auto' takes the batch form on webgpu only; both legs check it here.
      modconvOptions.batchForm = 'always';
      let outs: Record<'batchLayer' | 'perLayer' | 'batchConv' | 'perConv' | 'batchPlain' | 'perPlain', tf.Tensor>;
      try {
        outs = tf.tidy(() => {
          const layer = (xi: tf.Tensor4D, li: tf.Tensor2D, draws: Float32Array) =>
            synthesisLayer(xi, li, p, { up, noiseMode: 'random', randomNoise: () => draws, convClamp: 0.9 });
          const batchLayer = layer(x, lat, noise);
          const perLayer = tf.concat([0, 1, 2].map((i) => layer(sample(x, i) as tf.Tensor4D, sample(lat, i) as tf.Tensor2D, noise.subarray(i * res * res, (i + 1) * res * res))), 0);
          const conv = (xi: tf.Tensor4D, si: tf.Tensor2D, demodulate: boolean) => modulatedConv2d(xi, p.weight, si, { demodulate, up });
          const batchConv = conv(x, styles, true);
          const perConv = tf.concat([0, 1, 2].map((i) => conv(sample(x, i) as tf.Tensor4D, sample(styles, i) as tf.Tensor2D, true)), 0);
          const batchPlain = conv(x, styles, false);
          const perPlain = tf.concat([0, 1, 2].map((i) => conv(sample(x, i) as tf.Tensor4D, sample(styles, i) as tf.Tensor2D, false)), 0);
          return { batchLayer, perLayer, batchConv, perConv, batchPlain, perPlain };
        });
      } finally {
        modconvOptions.batchForm = 'auto';
      }
      // On the tape the layer keeps the per-sample fused op: its gradient w.r.t. x is per-sample too.
      let taped = false;
      const gx = tf.tidy(() =>
        tf.grad((xi: tf.Tensor) => {
          taped = tapeRecording();
          return tf.sum(synthesisLayer(xi as tf.Tensor4D, lat, p, { up, noiseMode: 'const', convClamp: 0.9 }));
        })(x),
      );
      const v = await readAll({ ...outs, gx });
      tf.dispose([outs.batchLayer, outs.perLayer, outs.batchConv, outs.perConv, outs.batchPlain, outs.perPlain, gx]);
      expect(tapeRecording()).toBe(false);
      expect(taped).toBe(true);
      expect(tf.memory().numTensors).toBe(before);
      b.check(`synthesisLayer batch vs per sample (up ${up})`, v.batchLayer, v.perLayer, 1e-5);
      b.check(`modulatedConv2d batch vs per sample (up ${up})`, v.batchConv, v.perConv, 1e-5);
      b.check(`modulatedConv2d without demodulation batch vs per sample (up ${up})`, v.batchPlain, v.perPlain, 1e-5);
      expect(v.gx.every(Number.isFinite)).toBe(true);
      tf.dispose([x, lat, styles, ...Object.values(p)]);
    });
  }
});

describeBackends('frozen modulated convs (weightGrad false): the input gradient only', (b) => {
  for (const up of [1, 2] as const) {
    it(`synthesisLayer and toRgb pass the same input gradient on and give the weights zeros (up ${up})`, async () => {
      const rng = new Random(60 + up);
      const [n, h, cin, cout, wdim] = [2, 5, 4, 6, 7];
      const res = h * up;
      const x = tf.tensor4d(rng.normalArray(n * h * h * cin), [n, h, h, cin]);
      const lat = tf.tensor2d(rng.normalArray(n * wdim), [n, wdim]);
      const r = tf.tensor4d(rng.normalArray(n * res * res * cout), [n, res, res, cout]);
      const rRgb = tf.tensor4d(rng.normalArray(n * res * res * 3), [n, res, res, 3]);
      const p = {
        affineWeight: tf.tensor2d(rng.normalArray(wdim * cin), [wdim, cin]), affineBias: tf.tensor1d(rng.normalArray(cin)),
        weight: tf.tensor4d(rng.normalArray(9 * cin * cout), [3, 3, cin, cout]), bias: tf.tensor1d(rng.normalArray(cout)),
        noiseStrength: tf.scalar(0.3), noiseConst: tf.tensor2d(rng.normalArray(res * res), [res, res]),
      };
      const rgb = { affineWeight: tf.tensor2d(rng.normalArray(wdim * cout), [wdim, cout]), affineBias: tf.tensor1d(rng.normalArray(cout)), weight: tf.tensor4d(rng.normalArray(cout * 3), [1, 1, cout, 3]), bias: tf.tensor1d(rng.normalArray(3)) };
      const before = tf.memory().numTensors;
      const grads = (weightGrad: boolean) =>
        tf.tidy(() => {
          const f = (xi: tf.Tensor, wi: tf.Tensor, wr: tf.Tensor) => {
            const y = synthesisLayer(xi as tf.Tensor4D, lat, { ...p, weight: wi as tf.Tensor4D }, { up, noiseMode: 'const', convClamp: 0.9, weightGrad });
            const img = toRgb(y, lat, { ...rgb, weight: wr as tf.Tensor4D }, 0.9, weightGrad);
            return tf.add(tf.sum(tf.mul(y, r)), tf.sum(tf.mul(img, rRgb))) as tf.Scalar;
          };
          const [gx, gw, gr] = tf.grads(f)([x, p.weight, rgb.weight]);
          return { gx, gw, gr };
        });
      const full = await readAll(grads(true));
      const frozen = await readAll(grads(false));
      expect(tf.memory().numTensors).toBe(before);
      b.check(`frozen layer input gradient (up ${up})`, frozen.gx, full.gx, 1e-6);
      expect(full.gw.some((v) => v !== 0) && full.gr.some((v) => v !== 0)).toBe(true);
      expect(frozen.gw.every((v) => v === 0) && frozen.gr.every((v) => v === 0)).toBe(true);
      tf.dispose([x, lat, r, rRgb, ...Object.values(p), ...Object.values(rgb)]);
    });
  }
});

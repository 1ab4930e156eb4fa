import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { compareArrays, TOL_MODULE } from '../testing/compare.ts';
import {
  bicubicMatrix,
  centerCropOffsets,
  clipReferencePixels,
  CLIP_MEAN,
  CLIP_STD,
  pilResizeBicubicRgb,
  preprocessGenerated,
  resizeBicubic,
  ResizeMatrixCache,
  shortSideResizeSize,
} from './preprocess.ts';

const FIXTURES = '../shared/fixtures';

describe('bicubic interpolation matrices', () => {
  it('rows sum to one (plain and antialiased, up and down)', () => {
    for (const [i, o] of [[256, 224], [128, 224], [64, 224], [7, 3]]) {
      for (const aa of [false, true]) {
        const m = bicubicMatrix(i, o, aa);
        for (let r = 0; r < o; r++) {
          let s = 0;
          for (let c = 0; c < i; c++) s += m[r * i + c];
          expect(Math.abs(s - 1)).toBeLessThan(1e-5);
        }
      }
    }
  });

  it('same size is the identity', () => {
    const m = bicubicMatrix(5, 5, false);
    for (let r = 0; r < 5; r++) for (let c = 0; c < 5; c++) expect(m[r * 5 + c]).toBeCloseTo(r === c ? 1 : 0, 6);
  });

  it('rejects non-integer sizes', () => {
    expect(() => bicubicMatrix(0, 4, false)).toThrow(/positive integers/);
  });
});

describeBackends('bicubic resize vs PyTorch F.interpolate (fixture)', (suite) => {
  let ref: SafetensorsFile;
  beforeAll(async () => {
    ref = await SafetensorsFile.open(await NodeFileByteSource.open(`${FIXTURES}/clip-tiny.reference.safetensors`));
  });

  for (const [src, out, aa] of [
    ['resize.src256', 'resize.bicubic256to224', false],
    ['resize.src128', 'resize.bicubic128to224', false],
    ['resize.src256', 'resize.bicubic_aa256to224', true],
  ] as const) {
    it(`${out} within 1e-4`, async () => {
      const a = await ref.readFloat32(src);
      const r = await ref.readFloat32(out);
      const cache = new ResizeMatrixCache();
      const y = tf.tidy(() => {
        const x = tf.transpose(tf.tensor4d(a.data, a.shape as [number, number, number, number]), [0, 2, 3, 1]) as tf.Tensor4D;
        return tf.transpose(resizeBicubic(x, 224, 224, { antialias: aa, cache }), [0, 3, 1, 2]);
      });
      const row = compareArrays('clip-tiny', out, await y.data(), r.data, TOL_MODULE);
      suite.record(row);
      y.dispose();
      cache.dispose();
      expect(row.rel).toBeLessThanOrEqual(TOL_MODULE);
    });
  }

  it('is differentiable and leaks no tensors', async () => {
    const cache = new ResizeMatrixCache();
    const x = tf.randomUniform([2, 40, 30, 3], -1, 1) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const g = tf.grad((v: tf.Tensor) => tf.sum(preprocessGenerated(v as tf.Tensor4D, 32, cache)))(x);
    expect(g.shape).toEqual([2, 40, 30, 3]);
    // d/dx of Σ (0.5x+0.5 resized − mean)/std: the resize rows sum to 1, so the total gradient is 0.5·Σ_out Σ_c 1/std.
    const expected = 2 * 32 * 32 * 0.5 * CLIP_STD.reduce((s, v) => s + 1 / v, 0);
    const total = tf.sum(g);
    expect((await total.data())[0]).toBeCloseTo(expected, 0);
    total.dispose();
    g.dispose();
    expect(tf.memory().numTensors).toBe(before + 2); // only the cached interpolation matrices (40→32, 30→32) remain
    cache.dispose();
    x.dispose();
  });
});

describe('CLIP reference transform', () => {
  it('torchvision Resize / CenterCrop geometry', () => {
    expect(shortSideResizeSize(640, 480, 224)).toEqual({ width: 298, height: 224 });
    expect(shortSideResizeSize(300, 1000, 224)).toEqual({ width: 224, height: 746 });
    // Python round() is half-to-even: (225 − 224)/2 = 0.5 → 0, (227 − 224)/2 = 1.5 → 2.
    expect(centerCropOffsets(225, 224, 224, 224)).toEqual({ left: 0, top: 0 });
    expect(centerCropOffsets(227, 224, 224, 224)).toEqual({ left: 2, top: 0 });
  });

  it('PIL-style resize is byte-exact against Pillow 12.3 Image.resize(BICUBIC), down and up', () => {
    // Reference bytes produced once with Pillow 12.3 on the same synthetic images.
    const synth = (w: number, h: number) => {
      const out = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) out[(y * w + x) * 3 + c] = (x * 37 + y * 91 + c * 53 + ((x * y) % 7) * 19) % 256;
      return out;
    };
    const down = [82, 118, 153, 93, 114, 154, 153, 168, 124, 108, 123, 92, 96, 108, 125, 115, 117, 132, 117, 134, 85, 131, 119, 101, 117, 120, 137, 142, 108, 83, 140, 160, 113, 145, 84, 113, 131, 55, 89, 135, 146, 121, 146, 85, 118, 128, 137, 101, 165, 123, 106, 101, 91, 129, 113, 128, 123, 168, 137, 109];
    const up = [0, 46, 99, 9, 61, 114, 36, 91, 144, 60, 127, 180, 92, 154, 207, 124, 176, 232, 148, 200, 255, 175, 228, 137, 191, 244, 9, 42, 94, 165, 72, 134, 196, 118, 151, 203, 156, 59, 111, 97, 60, 123, 42, 102, 172, 86, 140, 198, 124, 177, 178, 145, 198, 150, 125, 178, 157, 117, 182, 198, 125, 152, 209, 179, 39, 96, 106, 44, 62, 27, 90, 85, 55, 110, 158, 96, 153, 183, 125, 186, 185, 194, 247, 27, 92, 145, 63, 0, 52, 122, 61, 114, 184, 122, 175, 84, 147, 200, 16, 97, 150, 184, 129, 182, 115, 173, 226, 6, 52, 104, 83, 56, 131, 147, 85, 128, 191, 159, 22, 109, 188, 125, 30, 154, 222, 10, 31, 99, 117, 116, 57, 99, 227, 53, 52, 38, 99, 170, 100, 103, 172, 180, 106, 145, 213, 101, 56, 176, 146, 55, 99, 164, 90, 14, 78, 119, 102, 71, 81, 205, 87, 42, 106, 176, 229, 168, 77, 146, 233, 34, 51, 214, 245, 43, 126, 204, 113, 40, 92, 178, 33, 85, 159, 96, 157, 65, 154, 222, 0];
    expect(Array.from(pilResizeBicubicRgb(synth(11, 9), 11, 9, 5, 4))).toEqual(down);
    expect(Array.from(pilResizeBicubicRgb(synth(6, 5), 6, 5, 9, 7))).toEqual(up);
  });

  it('PIL-style resize keeps a constant image constant and is the identity at the same size', () => {
    const rgb = new Uint8Array(50 * 30 * 3).fill(77);
    expect(pilResizeBicubicRgb(rgb, 50, 30, 17, 11).every((v) => v === 77)).toBe(true);
    const ramp = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => (i * 7) % 256);
    expect(Array.from(pilResizeBicubicRgb(ramp, 8, 8, 8, 8))).toEqual(Array.from(ramp));
  });

  it('normalises a grey RGBA image to (v/255 − mean)/std and ignores alpha', () => {
    const w = 320;
    const h = 240;
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < w * h; i++) data.set([128, 64, 200, i % 256], i * 4);
    const px = clipReferencePixels({ width: w, height: h, data }, 224);
    expect(px.length).toBe(224 * 224 * 3);
    for (let c = 0; c < 3; c++) expect(px[1000 * 3 + c]).toBeCloseTo(([128, 64, 200][c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c], 5);
  });
});

/**
 * The compositing op's hand-written backward pass on this leg's backend against the cpu backend, at
 * several sample counts in one process (tfjs-webgpu's reverse-cumsum shader-cache bug showed only from
 * the second count on), and a record of that tfjs-webgpu behaviour.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, readAll } from '../testing/backends.ts';
import { compositePacked, reverseCumsumAxis1 } from './ray-marcher.ts';

const B = 9;
const COLS = 33;

/** Loss Σ r·[rgb, weightTotal, depth] and its gradient w.r.t. the packed decoder outputs, on the active backend. */
async function compositeGrad(k: number) {
  const rng = new Random(k);
  const packed = tf.tensor3d(rng.normalArray(B * k * COLS), [B, k, COLS]);
  const depths = tf.tensor2d(Float32Array.from({ length: B * k }, (_, i) => 2.25 + (0.1 * (i % k) * 6) / k + 0.01 * Math.floor(i / k)), [B, k]);
  const r = tf.tensor2d(rng.normalArray(B * (COLS + 1)), [B, COLS + 1]);
  const out = await readAll(tf.tidy(() => {
    const f = (x: tf.Tensor) => {
      const o = compositePacked(x as tf.Tensor3D, depths);
      return tf.sum(tf.mul(tf.concat([o.rgb, o.weightTotal, o.depth], 1), r));
    };
    const { value, grad } = tf.valueAndGrad(f)(packed);
    return { value, grad };
  }));
  tf.dispose([packed, depths, r]);
  return out;
}

describeBackends('ray marcher (MipRayMarcher2 compositing)', (suite) => {
  it('compositePacked: value and gradient equal the cpu backend at several sample counts in turn', async () => {
    for (const k of [11, 6, 7, 24]) {
      const ref = await suite.oracle(() => compositeGrad(k));
      const before = tf.memory().numTensors;
      const got = await compositeGrad(k);
      expect(tf.memory().numTensors).toBe(before);
      // float32 on both sides; the backward pass has a K-term cumulative sum and a division by 1 − α.
      suite.check(`K ${k} value`, got.value, ref.value, 1e-5);
      suite.check(`K ${k} gradient`, got.grad, ref.grad, 1e-5);
    }
  });

  it('reverseCumsumAxis1 (inclusive and exclusive) is the suffix sum, at several lengths in turn', async () => {
    for (const k of [11, 6, 3]) {
      const x = new Random(k).normalArray(2 * k);
      for (const exclusive of [false, true]) {
        const want = new Float64Array(2 * k);
        for (let row = 0; row < 2; row++) {
          let acc = 0;
          for (let j = k - 1; j >= 0; j--) {
            if (!exclusive) acc += x[row * k + j];
            want[row * k + j] = acc;
            if (exclusive) acc += x[row * k + j];
          }
        }
        const xt = tf.tensor2d(x, [2, k]);
        const { y } = await readAll({ y: reverseCumsumAxis1(xt, exclusive) });
        xt.dispose();
        suite.check(`suffix sum K ${k}${exclusive ? ' exclusive' : ''}`, y, want, 1e-6);
      }
    }
  });
});

// Known tfjs-webgpu 4.22 limitation (why reverseCumsumAxis1 exists): CumProgram writes the axis length
// into the reverse cumsum's WGSL but its shaderKey is only `cum_<op>_<exclusive>_<reverse>`, so the
// pipeline compiled for the first length is reused for every other one. This test records the wrong
// result; when it fails, tfjs has fixed the bug and reverseCumsumAxis1 can become tf.cumsum(…, reverse).
describeBackends('tfjs-webgpu reverse cumsum reuses the first length’s shader (known limitation)', () => {
  it('tf.cumsum(x, 1, false, true) is right for the first length and wrong for the next one', async () => {
    const results: number[] = [];
    for (const k of [11, 6]) {
      const x = new Random(k).normalArray(k);
      const xt = tf.tensor2d(x, [1, k]);
      const { y } = await readAll({ y: tf.cumsum(xt, 1, false, true) });
      xt.dispose();
      let worst = 0;
      let acc = 0;
      for (let j = k - 1; j >= 0; j--) {
        acc += x[j];
        worst = Math.max(worst, Math.abs(y[j] - acc));
      }
      results.push(worst);
    }
    console.log(`tfjs-webgpu reverse cumsum, max abs error: first length ${results[0].toExponential(1)}, second length ${results[1].toExponential(1)}`);
    expect(results[0]).toBeLessThan(1e-5);
    expect(results[1]).toBeGreaterThan(1e-2);
  });
}, { only: ['webgpu'], reason: 'a tfjs-webgpu shader-cache bug' });

/**
 * The trainer's gradients on this leg's backend (wasm, or webgpu with `npm run test:webgpu`) against
 * the cpu backend: one step-1 iteration (Tri-D gradients through the renderer, the tiny CLIP and the
 * four losses, with the hypercolumn + colour REMD + foreground colour moments L_dis so every loss branch is on the tape). The tiny EG3D
 * fixture with small random tri-planes in place of its backbone output (the backbone is frozen: no
 * gradient reaches it, and its 256² forward costs minutes on SwiftShader) and the raw render
 * up-sampled instead of G2 (G2 through the pure-JS cpu oracle took ~10 min here; its gradients are
 * checked on webgpu against the fixture by src/conformance/eg3d.webgpu.test.ts). The adapted decoder
 * starts away from the source's: at adapted = source, E(I_t) − E(I_s) is rounding noise and L_dir's
 * gradient is ill-conditioned on every backend (DoRM's nudge).
 *
 * Each backend loads its own copy of the fixtures: tfjs moves a tensor between backends with a
 * synchronous read, which tfjs-webgpu cannot do in Node (no OffscreenCanvas).
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { describeBackends, type BackendSuite } from '../testing/backends.ts';
import { TOL_IMAGE } from '../testing/compare.ts';
import { CHEAP_RENDER, stripedReference, tinyClip, tinyGenerator } from '../testing/fixtures.ts';
import { GeneratorView } from './generator-view.ts';
import { DEFAULT_METHOD_OPTIONS, type MethodOptions } from './options.ts';
import { AdapterTrainer, disposeTrainerEncoder, prepareTrainerEncoder, type AdaptableGenerator, type TrainerDraws } from './trainer.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import { webgpuPoolBytes } from '../nn/webgpu-pool.ts';

const PLANE_SIDE = 16;

/** The generator with `planes()` replaced by fixed random planes [B, 3, 16, 16, C]. */
class SmallPlanes implements AdaptableGenerator {
  constructor(
    private readonly inner: AdaptableGenerator,
    private readonly planeData: Float32Array,
  ) {}
  get config() {
    return this.inner.config;
  }
  get weights() {
    return this.inner.weights;
  }
  get renderShape() {
    return this.inner.renderShape;
  }
  mapping(z: tf.Tensor2D, cCond: tf.Tensor2D, psi: number, cutoff: number | null): tf.Tensor3D {
    return this.inner.mapping(z, cCond, psi, cutoff);
  }
  planes(ws: tf.Tensor3D): tf.Tensor {
    const c = this.planeData.length / (3 * PLANE_SIDE * PLANE_SIDE);
    return tf.tile(tf.tensor5d(this.planeData, [1, 3, PLANE_SIDE, PLANE_SIDE, c]), [ws.shape[0], 1, 1, 1, 1]);
  }
  render(planes: tf.Tensor, cameras: tf.Tensor2D, draws: TrainerDraws) {
    return this.inner.render(planes, cameras, draws);
  }
  superresolve(imageRaw: tf.Tensor4D, features: tf.Tensor4D, ws: tf.Tensor3D, opts?: { weightGrad?: boolean }): tf.Tensor4D {
    return this.inner.superresolve(imageRaw, features, ws, opts);
  }
  withWeights(overrides: WeightMap): AdaptableGenerator {
    return new SmallPlanes(this.inner.withWeights(overrides), this.planeData);
  }
}

const OPTIONS: MethodOptions = { ...DEFAULT_METHOD_OPTIONS, disTokens: 'hypercolumn', disColourWeight: 1, disColourMomentWeight: 1, disColourSlicedWeight: 1, disColourRegion: 'foreground', step1Output: 'raw-upsampled' };

/** Gradients and loss components of a step-1 iteration on the active backend. */
async function trainerGradients(batchSize = 1, options: MethodOptions = OPTIONS, afterStep?: () => void, iterations: [number, number] = [2, 0]): Promise<Map<string, Float32Array>> {
  const gen = await tinyGenerator();
  const clip = await tinyClip();
  const rng = new Random(5);
  const channels = gen.config.backbone.channels / 3;
  const source = new SmallPlanes(new GeneratorView(gen, 4096, { ...CHEAP_RENDER, resolution: 16 }), rng.normalArray(3 * PLANE_SIDE * PLANE_SIDE * channels));
  const enc = prepareTrainerEncoder(clip, stripedReference(), rng.normalArray(clip.embedDim), OPTIONS);
  // The adapted decoder: the source's, moved by a fixed relative perturbation.
  const initial = new Map<string, tf.Tensor>();
  for (const [k, w] of gen.weights) {
    if (k.startsWith('decoder.')) initial.set(k, tf.tidy(() => tf.add(tf.mul(w, 1.2), tf.mul(tf.tensor(rng.normalArray(w.size), w.shape), 0.02))));
  }
  const trainer = new AdapterTrainer(source, [enc], {
    iterations,
    batchSize,
    learningRate: 0.0016,
    betas: [0, 0.992],
    lossWeights: { dir: 1, dis: 1, imageStructure: 1, featureStructure: 10 },
    seed: 3,
    truncationPsi: 1,
    options,
  }, initial);
  tf.dispose([...initial.values()]);
  const out = new Map<string, Float32Array>();
  try {
    if (afterStep) {
      await trainer.step();
      afterStep();
      return out;
    }
    for (const g of [1]) {
      const { grads, components } = trainer.computeGradients(g);
      out.set(`iteration ${g} losses [total, dir, dis, I-str, F-str]`, Float32Array.from(await components.data()));
      for (const [k, t] of grads) out.set(`iteration ${g} grad ${k}`, Float32Array.from(await t.data()));
      tf.dispose([components, ...grads.values()]);
    }
  } finally {
    trainer.dispose(true);
    disposeTrainerEncoder(enc);
    clip.dispose();
    gen.dispose();
  }
  return out;
}

describeBackends("the trainer's gradients against the cpu oracle (tiny EG3D + tiny CLIP)", (suite) => {
  it('step-1 (Tri-D) gradients and loss components agree', async () => {
    const ref = await suite.oracle(trainerGradients);
    const before = tf.memory().numTensors;
    const got = await trainerGradients();
    expect(tf.memory().numTensors).toBe(before);
    expect([...got.keys()]).toEqual([...ref.keys()]);
    expect([...got.keys()].filter((k) => k.startsWith('iteration 1 grad decoder.')).length).toBe(4);
    for (const [k, r] of ref) {
      // Each loss term is a non-trivial function of the renders: all must be non-zero, the gradients too.
      expect(Array.from(r).some((v) => v !== 0), k).toBe(true);
      // Float32 through renderer + G2 + CLIP + losses on both sides: the conformance runner's
      // gradient tolerance (1e-3 of max |reference|).
      suite.check(k, got.get(k)!, r, TOL_IMAGE);
    }
  });
});

type AccumulationCase = { name: string; options: MethodOptions; iterations: [number, number] };

function accumulationCase(suite: BackendSuite, c: AccumulationCase): void {
  it(`${c.name}: batch 3 one sample at a time (microBatch 1) and 2 + 1 give the whole batch's gradients and losses`, async () => {
    const whole = await trainerGradients(3, { ...c.options, microBatch: 0 }, undefined, c.iterations);
    const before = tf.memory().numTensors;
    for (const micro of [1, 2]) {
      const got = await trainerGradients(3, { ...c.options, microBatch: micro }, undefined, c.iterations);
      expect([...got.keys()]).toEqual([...whole.keys()]);
      for (const [k, r] of whole) {
        expect(Array.from(r).some((v) => v !== 0), k).toBe(true);
        suite.check(`${c.name}, micro-batch ${micro}: ${k}`, got.get(k)!, r, 1e-4);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
  });
}

// The frozen part (source render, image, encoder features; the adapted render in step 2) runs once for
// the whole batch; the losses' gradient w.r.t. the adapted image (and features) is taken for the whole
// batch and back-propagated one micro-batch at a time. Same gradients as one tape over the batch.
describeBackends('gradient accumulation over micro-batches, step 1 (tiny EG3D + tiny CLIP)', (suite) => {
  // Through the renderer; L_I-str on the image, and on the features (a second seed).
  accumulationCase(suite, { name: 'step 1', options: OPTIONS, iterations: [2, 0] });
  accumulationCase(suite, { name: 'step 1, feature self-similarity L_I-str', options: { ...OPTIONS, imageStructure: 'feature-selfsim' }, iterations: [2, 0] });
});

describeBackends(
  'gradient accumulation over micro-batches, step 2 (tiny EG3D + tiny CLIP)',
  (suite) => accumulationCase(suite, { name: 'step 2 (G2)', options: OPTIONS, iterations: [0, 2] }),
  // The accumulation is tf ops only, the same on every backend (step 1 above runs it on webgpu too).
  { only: ['wasm'], reason: "nine batch-3 passes of the tiny fixture's G2 (128² output) take half an hour on SwiftShader" },
);

describeBackends('the buffer pool after a training iteration', (suite) => {
  it('on webgpu, a step trims the pool to the bytes in use when it holds more than poolSlackMiB beyond them', async () => {
    let pool: ReturnType<typeof webgpuPoolBytes> = null;
    await trainerGradients(1, { ...OPTIONS, poolSlackMiB: 0 }, () => {
      pool = webgpuPoolBytes();
    });
    if (!suite.isWebGPU) {
      expect(pool).toBeNull();
      return;
    }
    expect(pool).not.toBeNull();
    expect(pool!.used).toBeGreaterThan(0);
    expect(pool!.allocated).toBe(pool!.used);
  });
});

/**
 * The threads bench workload, in a module worker like the studio's engine: the browser backend set-up
 * the studio uses (initBrowserBackend, forced to wasm, with the requested thread count), the embedded
 * demo generator fetched from the site, the embedded MobileNetV2 encoder; then one warm-up and `reps`
 * timed runs of (a) a generator forward at batch 1 (mapping → tri-planes → render → super-resolution,
 * constant noise, deterministic ray samples) and (b) a step-1 (Tri-D) training iteration at batch 1 with
 * the default method options (DEFAULT_METHOD_OPTIONS).
 */
/// <reference lib="webworker" />
import * as tf from '@tensorflow/tfjs';
import { initBrowserBackend } from '../../../src/platform/browser-backend.ts';
import { fetchEmbeddedFile } from '../../../src/platform/browser-embedded.ts';
import { loadEmbeddedGenerator } from '../../../src/engine/embedded.ts';
import { loadDefaultEncoder } from '../../../src/clip/default-encoder.ts';
import { camerasTensor, cameraFromYawPitch, frontalCamera } from '../../../src/eg3d/camera.ts';
import { Random } from '../../../src/core/random.ts';
import { GeneratorView } from '../../../src/adapter/generator-view.ts';
import { DEFAULT_CHUNK_RAYS } from '../../../src/eg3d/renderer.ts';
import { AdapterTrainer, disposeTrainerEncoder, prepareTrainerEncoder } from '../../../src/adapter/trainer.ts';
import { DEFAULT_METHOD_OPTIONS } from '../../../src/adapter/options.ts';
import { DEFAULT_LOSS_WEIGHTS, DIFA_OPTIMISER } from '../../../src/engine/defaults.ts';
import type { Capabilities } from '../../../src/core/backend.ts';
import type { EG3DGenerator } from '../../../src/eg3d/generator.ts';

export interface ThreadsBenchRequest {
  threads: number;
  /** Timed runs of each workload after one warm-up. */
  reps: number;
}

export interface ThreadsBenchResult {
  requestedThreads: number;
  capabilities: Capabilities;
  /** `crossOriginIsolated` inside this worker. */
  workerIsolated: boolean;
  /** Milliseconds of each timed run. */
  forwardMs: number[];
  stepMs: number[];
  /** A 3×3 convolution alone (XNNPACK's threaded path), ms per run: shows what the pool gives an op it parallelises. */
  convMs: number[];
  /** One profiled forward: kernel time by kernel name, ms (tf.profile; wasm kernels run synchronously). */
  forwardKernelsMs: Record<string, number>;
}

/** [1, 64, 64, 128] * [3, 3, 128, 128], SAME: 1.2 GFLOP. */
async function conv(): Promise<number> {
  const [x, w] = tf.tidy(() => [tf.randomNormal([1, 64, 64, 128], 0, 1, 'float32', 1), tf.randomNormal([3, 3, 128, 128], 0, 0.05, 'float32', 2)]);
  const t0 = performance.now();
  const y = tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, 'same');
  await y.data();
  const ms = performance.now() - t0;
  tf.dispose([x, w, y]);
  return ms;
}

async function forward(gen: EG3DGenerator): Promise<number> {
  const t0 = performance.now();
  const image = tf.tidy(() => {
    const z = tf.tensor2d(new Random(1).normalArray(gen.config.zDim), [1, gen.config.zDim]);
    const ws = gen.mapping(z, camerasTensor([frontalCamera()]), { psi: 0.7 });
    return gen.synthesis(ws, camerasTensor([cameraFromYawPitch(0.3, -0.1)]), { noiseMode: 'const', draws: { kind: 'deterministic' } }).image;
  });
  await image.data();
  image.dispose();
  return performance.now() - t0;
}

async function run(req: ThreadsBenchRequest): Promise<ThreadsBenchResult> {
  const capabilities = await initBrowserBackend({ prefer: 'wasm', threads: req.threads });
  if (capabilities.backend !== 'wasm') throw new Error(`expected the wasm backend, got ${capabilities.backend}: ${capabilities.summary}`);
  const { generator } = await loadEmbeddedGenerator(fetchEmbeddedFile);
  const encoder = await loadDefaultEncoder();
  // The reference image and μ_s do not change the cost: seeded noise stands in for both.
  const rng = new Random(7);
  const size = 128;
  const reference = { width: size, height: size, data: new Uint8ClampedArray(rng.uniformArray(size * size * 4).map((u, i) => (i % 4 === 3 ? 255 : u * 255))) };
  const options = { ...DEFAULT_METHOD_OPTIONS };
  const trainerEncoder = prepareTrainerEncoder(encoder, reference, rng.normalArray(encoder.embedDim), options);
  const trainer = new AdapterTrainer(new GeneratorView(generator, DEFAULT_CHUNK_RAYS), [trainerEncoder], {
    iterations: [1 + req.reps, 0],
    batchSize: 1,
    learningRate: DIFA_OPTIMISER.learningRate,
    betas: [DIFA_OPTIMISER.betas[0], DIFA_OPTIMISER.betas[1]],
    lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
    seed: 1,
    truncationPsi: 1,
    options,
  });
  try {
    await forward(generator); // warm-up: wasm heap growth, first-use allocations
    await trainer.step();
    await conv();
    const forwardMs: number[] = [];
    const stepMs: number[] = [];
    const convMs: number[] = [];
    for (let i = 0; i < req.reps; i++) {
      forwardMs.push(await forward(generator));
      const t0 = performance.now();
      await trainer.step();
      stepMs.push(performance.now() - t0);
      for (let k = 0; k < 3; k++) convMs.push(await conv());
    }
    const profile = await tf.profile(async () => {
      await forward(generator);
    });
    const forwardKernelsMs: Record<string, number> = {};
    // Registered wasm kernels only: tf.profile also lists the scopes around them (double counting).
    for (const k of profile.kernels) {
      if (!tf.getKernel(k.name, 'wasm')) continue;
      forwardKernelsMs[k.name] = (forwardKernelsMs[k.name] ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0);
    }
    return { requestedThreads: req.threads, capabilities, workerIsolated: globalThis.crossOriginIsolated === true, forwardMs, stepMs, convMs, forwardKernelsMs };
  } finally {
    trainer.dispose(true);
    disposeTrainerEncoder(trainerEncoder);
    encoder.dispose();
    generator.dispose();
  }
}

self.onmessage = (e: MessageEvent<ThreadsBenchRequest>) => {
  run(e.data).then(
    (r) => self.postMessage(r),
    (err: unknown) => self.postMessage({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }),
  );
};

/**
 * The threads bench workload, in a module worker like the studio's engine: the browser backend set-up
 * the studio uses (initBrowserBackend, forced to wasm, with the requested thread count), the embedded
 * demo generator fetched from the site, the embedded MobileNetV2 encoder; then one warm-up and `reps`
 * timed runs of (a) a generator forward at batch 1 (mapping → tri-planes → render → super-resolution,
 * constant noise, deterministic ray samples) and (b) a step-1 (Tri-D) training iteration at batch 1.
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
import { AdapterTrainer } from '../../../src/adapter/trainer.ts';
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
  // Reference features and direction do not change the cost: seeded random ones need no reference image.
  const [refTokens, refDirection] = tf.tidy(() => {
    const probe = encoder.encodeImages(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D, encoder.defaultTokenBlock);
    const dir = tf.randomNormal([encoder.embedDim], 0, 1, 'float32', 3);
    return [tf.randomNormal(probe.tokens.shape, 0, 1, 'float32', 2), tf.div(dir, tf.norm(dir)) as tf.Tensor1D];
  });
  const trainer = new AdapterTrainer(new GeneratorView(generator, DEFAULT_CHUNK_RAYS), [{ encoder, tokenBlock: encoder.defaultTokenBlock, refTokens, refDirection: refDirection as tf.Tensor1D }], {
    iterations: [1 + req.reps, 0],
    batchSize: 1,
    learningRate: DIFA_OPTIMISER.learningRate,
    betas: [DIFA_OPTIMISER.betas[0], DIFA_OPTIMISER.betas[1]],
    lossWeights: { ...DEFAULT_LOSS_WEIGHTS },
    seed: 1,
    truncationPsi: 1,
    options: { ...DEFAULT_METHOD_OPTIONS },
  });
  try {
    await forward(generator); // warm-up: wasm heap growth, first-use allocations
    await trainer.step();
    const forwardMs: number[] = [];
    const stepMs: number[] = [];
    for (let i = 0; i < req.reps; i++) {
      forwardMs.push(await forward(generator));
      const t0 = performance.now();
      await trainer.step();
      stepMs.push(performance.now() - t0);
    }
    return { requestedThreads: req.threads, capabilities, workerIsolated: globalThis.crossOriginIsolated === true, forwardMs, stepMs };
  } finally {
    trainer.dispose(true);
    tf.dispose([refTokens, refDirection]);
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

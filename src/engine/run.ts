/**
 * One adaptation run, as one object: μ_s, the trainer, the schedule loop with progress (speed and
 * ETA), previews, pause / resume / cancel, checkpoints on request and at preview points, and the
 * recovery to the last consistent checkpoint when an iteration fails. The engine creates one per
 * `start()` and forgets it when `execute()` settles.
 */
import * as tf from '@tensorflow/tfjs';
import { AdapterTrainer, directionWeightOf, disposeTrainerEncoder, prepareTrainerEncoder, type TrainerEncoder } from '../adapter/trainer.ts';
import type { GeneratorView } from '../adapter/generator-view.ts';
import type { MethodOptions } from '../adapter/options.ts';
import { writeCheckpoint } from '../adapter/export.ts';
import { AdaptedState, runMetadata } from './adapted.ts';
import { classifyError } from './errors.ts';
import { readRunCheckpoint } from './exports.ts';
import type { MeanEmbeddingCache } from './mean-embeddings.ts';
import type { LoadedEncoder, LoadedGenerator } from './models.ts';
import { previewCameras, previewRenders, tick } from './rendering.ts';
import { PreviewEstimator } from './evaluation.ts';
import type { FaceEmbedder } from '../evaluate/types.ts';
import type { ClipTokenizer } from '../clip/tokenizer.ts';
import { checkZeroShotEncoders, needsMeanEmbedding, prepareZeroShotEncoder, zeroShotLossWeights } from '../adapter/zero-shot.ts';
import { EngineError, type AdaptSettings, type EngineEvent, type RgbaImage } from './types.ts';

export interface RunSpec {
  gen: LoadedGenerator;
  encoders: LoadedEncoder[];
  /** Null only in a text-only zero-shot run (settings.text). */
  reference: RgbaImage | null;
  /** CLIP's BPE vocabulary, for zero-shot runs. */
  tokenizer?: ClipTokenizer | null;
  settings: AdaptSettings;
  options: MethodOptions;
  /** Bytes of a 'checkpoint' event: the run continues from its iteration. */
  resumeFrom?: Uint8Array;
}

export interface RunHost {
  meanEmbeddings: MeanEmbeddingCache;
  /** The active tfjs backend, for classifying failures. */
  backend(): string | null;
  emit(e: EngineEvent): void;
  /** Makes the run's weights the engine's adapted weights (the previous ones are dropped). */
  install(adapted: AdaptedState): void;
  /** The evaluation's face model when it is loaded already (the live estimate's identity; never loaded for it). */
  loadedFace?(): FaceEmbedder | null;
}

/** Iterations per second over the last `window` iterations, and the time left at that speed. */
class SpeedMeter {
  private readonly durations: number[] = [];

  constructor(private readonly window = 10) {}

  add(milliseconds: number): void {
    this.durations.push(milliseconds);
    if (this.durations.length > this.window) this.durations.shift();
  }

  get itPerSec(): number {
    if (!this.durations.length) return 0;
    return 1000 / (this.durations.reduce((a, b) => a + b, 0) / this.durations.length);
  }

  etaSeconds(remaining: number): number {
    const rate = this.itPerSec;
    return rate > 0 ? remaining / rate : Infinity;
  }
}

export class AdaptationRun {
  readonly totalIterations: number;
  private trainer: AdapterTrainer | null = null;
  private adapted: AdaptedState | null = null;
  private pauseRequested = false;
  private cancelRequested = false;
  private finished = false;
  private checkpointRequests: (() => void)[] = [];
  private resumeWaiter: (() => void) | null = null;
  private readonly speed = new SpeedMeter(10);
  private estimator: PreviewEstimator | null = null;

  constructor(
    private readonly spec: RunSpec,
    private readonly host: RunHost,
  ) {
    this.totalIterations = spec.settings.iterations[0] + spec.settings.iterations[1];
  }

  /** Pauses after the current iteration (state 'paused'). */
  pause(): void {
    this.pauseRequested = true;
  }

  resume(): void {
    this.pauseRequested = false;
    this.resumeWaiter?.();
  }

  /** Stops after the current iteration (or the current μ_s batch); a paused run wakes up to stop. */
  cancel(): void {
    this.cancelRequested = true;
    this.resumeWaiter?.();
  }

  /**
   * A 'checkpoint' event of the current weights and optimiser state, served between iterations (a
   * paused run wakes up, serves it and pauses again). Null while there is no trainer yet (μ_s) or
   * after the run ended: the engine then checkpoints its adapted weights itself.
   */
  requestCheckpoint(): Promise<void> | null {
    if (!this.trainer || this.finished) return null;
    return new Promise<void>((resolve) => {
      this.checkpointRequests.push(resolve);
      this.resumeWaiter?.();
    });
  }

  /**
   * Runs to the end. Resolves when the run finished or was cancelled (see the 'state' events);
   * rejects with an EngineError when it failed, after restoring the last checkpoint's weights and
   * handing that checkpoint out as an event.
   */
  async execute(): Promise<void> {
    const { gen, settings, options } = this.spec;
    const { emit } = this.host;
    const total = this.totalIterations;
    const prepared: TrainerEncoder[] = [];
    let finalState: 'done' | 'cancelled' = 'done';
    try {
      // μ_s only feeds L_dir: encoders whose direction weight is 0 (the embedded MobileNetV2 by
      // default, or λ_dir = 0) need none, and a run with no such encoder skips the μ_s phase.
      const { reference } = this.spec;
      const text = settings.text ?? null;
      if (text) checkZeroShotEncoders(this.spec.encoders.map((e) => e.encoder), options, settings.lossWeights.dir, reference !== null);
      else if (!reference) throw new EngineError('not-ready', 'set a reference image first (or describe the target domain for a zero-shot run)');
      // A zero-shot run needs μ_s only for the image part of its direction (a reference and a text weight < 1).
      const withDirection = this.spec.encoders.filter(({ encoder }) =>
        text ? needsMeanEmbedding(encoder, options, settings.lossWeights.dir, text, reference !== null) : settings.lossWeights.dir > 0 && directionWeightOf(encoder, options) > 0,
      );
      emit({ type: 'state', state: 'preparing', message: withDirection.length ? 'computing the mean source embedding' : text ? 'embedding the descriptions' : 'preparing the reference' });
      const t0 = performance.now();
      const computed = withDirection.length === 0 ? [] : await this.host.meanEmbeddings.get({
        gen,
        encoders: withDirection,
        settings,
        options,
        shouldStop: () => this.cancelRequested,
        onProgress: (done, n) => {
          const rate = done / Math.max(1e-3, (performance.now() - t0) / 1000);
          emit({ type: 'progress', phase: 'mean-embedding', iteration: done, phaseIterations: n, globalIteration: 0, totalIterations: total, itPerSec: rate, etaSeconds: done ? (n - done) / rate : 0 });
        },
      });
      withDirection.forEach(({ info }, i) => {
        const { samples, stability, cached } = computed[i];
        emit({ type: 'mean-embedding', encoder: info.id, encoderName: info.name, samples, stability, cached });
      });
      const meanOf = (e: (typeof this.spec.encoders)[number]) => computed[withDirection.indexOf(e)]?.mean ?? null;
      const trainerEncoders: TrainerEncoder[] = [];
      for (const [i, { encoder }] of this.spec.encoders.entries()) {
        const block = options.tokenBlock < 0 ? encoder.defaultTokenBlock : options.tokenBlock;
        if (block >= encoder.numBlocks) throw new EngineError('bad-settings', `token block ${block} does not exist in ${encoder.name} (0..${encoder.numBlocks - 1})`);
        const meanEmbedding = meanOf(this.spec.encoders[i]);
        const e = text
          ? await prepareZeroShotEncoder({ encoder, reference, meanEmbedding, options, text, tokenizer: this.spec.tokenizer ?? null, templates: options.textTemplates })
          : prepareTrainerEncoder(encoder, reference!, meanEmbedding, options);
        prepared.push(e);
        trainerEncoders.push(e);
      }

      const resumed = this.spec.resumeFrom ? await readRunCheckpoint(gen, this.spec.resumeFrom) : null;
      let trainer: AdapterTrainer;
      try {
        trainer = new AdapterTrainer(
          gen.view,
          trainerEncoders,
          {
            iterations: settings.iterations,
            batchSize: settings.batchSize,
            learningRate: settings.learningRate,
            betas: settings.betas,
            // Text-only: no reference, so no L_dis (src/adapter/zero-shot.ts).
            lossWeights: text ? zeroShotLossWeights(settings.lossWeights, reference !== null) : settings.lossWeights,
            seed: settings.seed,
            truncationPsi: settings.truncationPsi,
            options,
          },
          resumed?.weights,
        );
      } finally {
        if (resumed) for (const t of resumed.weights.values()) t.dispose();
      }
      this.trainer = trainer;
      const position = resumed?.position ?? null;
      const lossTotals = position ? position.lossTotals.slice(0, position.globalIteration) : [];
      if (position) trainer.restore(position.globalIteration, position.adam);
      // The run's variables become the adapted weights (the previous ones are dropped).
      const adapted = new AdaptedState(trainer.variables as Map<string, tf.Tensor>, runMetadata(gen, this.spec.encoders, settings, options, trainer.globalIteration, lossTotals), lossTotals);
      this.adapted = adapted;
      this.host.install(adapted);
      adapted.lastCheckpoint = await this.makeCheckpoint();

      const sourceRenders = await previewRenders(gen.view, options);
      const previewSource = sourceRenders.images;
      this.estimator = reference ? new PreviewEstimator(reference, sourceRenders) : null;
      await this.emitPreview(previewSource);
      emit({ type: 'state', state: 'running' });

      while (!trainer.done) {
        await this.servePauseAndCheckpoints();
        if (this.cancelRequested) {
          finalState = 'cancelled';
          break;
        }
        const started = performance.now();
        const r = await trainer.step();
        this.speed.add(performance.now() - started);
        lossTotals.push(r.losses.total);
        adapted.meta = runMetadata(gen, this.spec.encoders, settings, options, trainer.globalIteration, lossTotals);
        emit({
          type: 'progress',
          phase: r.phase,
          iteration: r.iteration,
          phaseIterations: r.phase === 'tri-d' ? settings.iterations[0] : settings.iterations[1],
          globalIteration: r.globalIteration,
          totalIterations: total,
          losses: r.losses,
          itPerSec: this.speed.itPerSec,
          etaSeconds: this.speed.etaSeconds(total - r.globalIteration),
        });
        const phaseEnd = r.globalIteration === settings.iterations[0] || trainer.done;
        if (r.globalIteration % settings.previewEvery === 0 || phaseEnd) {
          await this.emitPreview(previewSource);
          adapted.lastCheckpoint = await this.makeCheckpoint();
        }
        await tick();
      }
      await this.serveCheckpoints();
      if (finalState === 'cancelled') {
        adapted.lastCheckpoint = await this.makeCheckpoint();
        emit({ type: 'checkpoint', globalIteration: trainer.globalIteration, bytes: adapted.lastCheckpoint.slice() });
      }
      emit({ type: 'state', state: finalState });
    } catch (e) {
      const err = classifyError(e, this.host.backend());
      if (err.code === 'cancelled') {
        emit({ type: 'state', state: 'cancelled' });
        return;
      }
      // Crashed mid-run: go back to the last consistent weights and hand them out as a checkpoint.
      if (this.trainer && this.adapted?.lastCheckpoint) {
        await this.recoverFromCheckpoint(this.adapted);
        emit({ type: 'checkpoint', globalIteration: this.adapted.globalIteration, bytes: this.adapted.lastCheckpoint.slice() });
      }
      emit({ type: 'error', error: err.toInfo() });
      emit({ type: 'state', state: 'error', message: err.message });
      throw err;
    } finally {
      this.finished = true;
      for (const e of prepared) disposeTrainerEncoder(e);
      this.trainer?.dispose(false);
      for (const r of this.checkpointRequests.splice(0)) r();
    }
  }

  private async emitPreview(source: RgbaImage[]): Promise<void> {
    const trainer = this.trainer!;
    const { yaws, seeds } = previewCameras(this.spec.options);
    const renders = await previewRenders(trainer.adapted as GeneratorView, this.spec.options);
    const adapted = renders.images;
    // A hint only: a failing estimate leaves the preview without one rather than failing the run.
    const estimate = this.estimator ? await this.estimator.estimate(renders, this.host.loadedFace?.() ?? null).catch(() => undefined) : undefined;
    this.host.emit({
      type: 'preview',
      globalIteration: trainer.globalIteration,
      source: source.map((i) => ({ ...i, data: new Uint8ClampedArray(i.data) })),
      adapted,
      yaws: seeds.flatMap(() => yaws),
      seeds: seeds.flatMap((s) => yaws.map(() => s)),
      ...(estimate ? { estimate } : {}),
    });
  }

  private async makeCheckpoint(): Promise<Uint8Array> {
    const trainer = this.trainer!;
    const a = this.adapted!;
    return writeCheckpoint(trainer.variables, a.meta, { globalIteration: trainer.globalIteration, adam: await trainer.optimizerState(), lossTotals: a.lossTotals });
  }

  private async serveCheckpoints(): Promise<void> {
    if (!this.checkpointRequests.length) return;
    const bytes = await this.makeCheckpoint();
    this.adapted!.lastCheckpoint = bytes;
    this.host.emit({ type: 'checkpoint', globalIteration: this.trainer!.globalIteration, bytes: bytes.slice() });
    for (const r of this.checkpointRequests.splice(0)) r();
  }

  /** Between iterations: serves checkpoint requests, then waits while paused (serving requests meanwhile). */
  private async servePauseAndCheckpoints(): Promise<void> {
    await this.serveCheckpoints();
    while (this.pauseRequested && !this.cancelRequested) {
      this.host.emit({ type: 'state', state: 'paused' });
      await new Promise<void>((resolve) => (this.resumeWaiter = resolve));
      this.resumeWaiter = null;
      await this.serveCheckpoints();
      if (!this.pauseRequested && !this.cancelRequested) this.host.emit({ type: 'state', state: 'running' });
    }
  }

  /** Puts the last checkpoint's weights, loss totals and metadata back into the adapted state. */
  private async recoverFromCheckpoint(adapted: AdaptedState): Promise<void> {
    try {
      const ck = await readRunCheckpoint(this.spec.gen, adapted.lastCheckpoint!);
      // The trainer's variables outlive it (dispose(false)); assign the checkpoint's values in place.
      for (const [k, t] of ck.weights) {
        const v = adapted.weights.get(k);
        if (v instanceof tf.Variable) v.assign(t);
        t.dispose();
      }
      adapted.lossTotals = ck.position.lossTotals;
      adapted.meta = ck.metadata;
    } catch {
      // Keep whatever is there; the error event follows.
    }
  }
}

import { describe, expect, it } from 'vitest';
import { EngineError, type EvaluationRequest } from '../../engine/types.ts';
import { boot, fakeEvaluation, tick } from './controller.test-doubles.ts';
import { canEvaluate, DEFAULT_EVALUATION_LATENTS, isReportStale, MAX_EVALUATION_LATENTS } from './evaluate-slice.ts';
import { canStart } from './studio-store.ts';

async function withAdapted() {
  const b = await boot();
  await b.c.reference.useExample('sketch');
  await b.c.run.importAdapted(new Blob(['weights']), 'adapted.safetensors');
  return b;
}

describe('evaluate slice', () => {
  it('needs adapted weights: before them nothing is asked of the engine', async () => {
    const { c, store, engine } = await boot();
    expect(canEvaluate(store.getState())).toBe(false);
    await c.evaluate.start();
    expect(engine.callsOf('evaluate')).toHaveLength(0);
    expect(store.getState().evaluation.error).toMatch(/no adapted weights/);
    expect(store.getState().evaluation.status).toBe('idle');
  });

  it('evaluates the current weights over 8 latents by default, with progress, and keeps the report', async () => {
    const { c, store, engine } = await withAdapted();
    expect(canEvaluate(store.getState())).toBe(true);
    let release!: () => void;
    engine.evaluationGate = new Promise((r) => (release = r));
    const done = c.evaluate.start();
    await tick();
    const running = store.getState().evaluation;
    expect(running.status).toBe('running');
    expect(running.progress).toEqual({ stage: 'evaluating', what: 'held-out latents', done: 0, total: DEFAULT_EVALUATION_LATENTS });
    expect(canEvaluate(store.getState())).toBe(false);
    expect(canStart(store.getState())).toBe(false); // the engine refuses a run while it evaluates
    release();
    await done;
    const s = store.getState();
    expect((engine.callsOf('evaluate')[0][0] as EvaluationRequest).latents).toBe(DEFAULT_EVALUATION_LATENTS);
    expect(s.evaluation.status).toBe('done');
    expect(s.evaluation.progress).toBeNull();
    expect(s.evaluation.report?.result.rows).toHaveLength(DEFAULT_EVALUATION_LATENTS);
    expect(s.evaluation.reportWeights).toEqual({ weightsVersion: s.weightsVersion, generatorId: 'demo-gen' });
    expect(isReportStale(s)).toBe(false);
    expect(canStart(s)).toBe(true);
  });

  it('the latent count is clamped and passed on', async () => {
    const { c, store, engine } = await withAdapted();
    c.evaluate.setLatents(2.4);
    expect(store.getState().evaluation.latents).toBe(2);
    c.evaluate.setLatents(0);
    expect(store.getState().evaluation.latents).toBe(1);
    c.evaluate.setLatents(10_000);
    expect(store.getState().evaluation.latents).toBe(MAX_EVALUATION_LATENTS);
    c.evaluate.setLatents(NaN);
    expect(store.getState().evaluation.latents).toBe(DEFAULT_EVALUATION_LATENTS);
    c.evaluate.setLatents(3);
    await c.evaluate.start();
    expect((engine.callsOf('evaluate')[0][0] as EvaluationRequest).latents).toBe(3);
    expect(store.getState().evaluation.report?.result.rows).toHaveLength(3);
  });

  it('a new run, other imported weights or another generator make the report stale', async () => {
    const { c, store, engine } = await withAdapted();
    await c.evaluate.start();
    expect(isReportStale(store.getState())).toBe(false);
    // Training moves the weights: each preview is a new weights version.
    engine.emit({ type: 'preview', globalIteration: 3, source: [], adapted: [], yaws: [0], seeds: [1] });
    expect(isReportStale(store.getState())).toBe(true);
    await c.evaluate.start();
    expect(isReportStale(store.getState())).toBe(false);
    await c.run.importAdapted(new Blob(['other']), 'other.safetensors');
    expect(isReportStale(store.getState())).toBe(true);
    await c.evaluate.start();
    store.setState({ generator: { ...store.getState().generator!, id: 'another-generator' } });
    expect(isReportStale(store.getState())).toBe(true);
  });

  it('cancel keeps the latents done so far; a cancel before the first one keeps the previous report', async () => {
    const { c, store, engine } = await withAdapted();
    let release!: () => void;
    engine.evaluationGate = new Promise((r) => (release = r));
    const done = c.evaluate.start();
    await tick();
    await c.evaluate.cancel();
    expect(engine.callsOf('cancelEvaluation')).toHaveLength(1);
    release();
    await done;
    let s = store.getState().evaluation;
    expect(s.status).toBe('cancelled');
    expect(s.report?.result.stopped).toBe(true);
    expect(s.report?.result.rows).toHaveLength(1);

    const previous = s.report;
    engine.evaluation = () => fakeEvaluation(1);
    engine.evaluationGate = new Promise((r) => (release = r));
    const again = c.evaluate.start();
    await tick();
    await c.evaluate.cancel();
    release();
    await again;
    s = store.getState().evaluation;
    expect(s.status).toBe('cancelled');
    expect(s.report).toBe(previous);
    expect(s.error).toBeNull();
  });

  it('a failed evaluation says why and keeps the previous report', async () => {
    const { c, store, engine } = await withAdapted();
    await c.evaluate.start();
    const previous = store.getState().evaluation.report;
    engine.evaluation = new EngineError('out-of-memory', 'the face model did not fit');
    await c.evaluate.start();
    const s = store.getState().evaluation;
    expect(s.status).toBe('error');
    expect(s.error).toMatch(/did not fit/);
    expect(s.report).toBe(previous);
  });

  it('progress events outside an evaluation are ignored', async () => {
    const { store, engine } = await withAdapted();
    engine.emit({ type: 'evaluation-progress', stage: 'loading', what: 'face model', done: 0, total: 2 });
    expect(store.getState().evaluation.progress).toBeNull();
  });
});

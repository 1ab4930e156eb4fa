/**
 * What the Evaluate panel and the adaptation panel's live line show, rendered to static markup from
 * the store (FakeEngine behind the controller): the summary table with its notes and arrows, per-latent
 * thumbnails, the stale marker, and the preview estimate.
 */
import { describe, expect, it } from 'vitest';
import { renderToStaticMarkup } from 'react-dom/server';
import { createStore } from 'zustand/vanilla';
import type { StudioState } from '../state/studio-store.ts';
import { StudioContext } from '../context.ts';
import { boot } from '../state/controller.test-doubles.ts';
import type { StudioController } from '../state/controller.ts';
import type { RenderQueue } from '../viewer/render-queue.ts';
import { EvaluatePanel } from './EvaluatePanel.tsx';
import { AdaptPanel } from './AdaptPanel.tsx';

/** Static markup of `node` over the store's current state (a server render reads a store's initial state, so it gets a snapshot store). */
function html(c: StudioController, node: React.ReactNode): string {
  const snapshot = createStore<StudioState>()(() => c.store.getState());
  const controller = Object.assign(Object.create(c) as StudioController, { store: snapshot });
  return renderToStaticMarkup(<StudioContext.Provider value={{ controller, renders: null as unknown as RenderQueue }}>{node}</StudioContext.Provider>);
}

const count = (s: string, needle: string) => s.split(needle).length - 1;

describe('Evaluate panel', () => {
  it('is disabled without adapted weights, then shows the table, notes, arrows and thumbnails; stale after training moves the weights', async () => {
    const { c, engine } = await boot();
    let out = html(c, <EvaluatePanel />);
    expect(out).toMatch(/<button[^>]*disabled=""[^>]*data-testid="evaluate-start"/);
    expect(out).not.toContain('data-testid="evaluation-table"');

    await c.reference.useExample('sketch');
    await c.run.importAdapted(new Blob(['w']), 'w.safetensors');
    c.evaluate.setLatents(2);
    await c.evaluate.start();
    out = html(c, <EvaluatePanel />);
    expect(out).toContain('data-status="done"');
    expect(out).toContain('data-testid="evaluation-table"');
    expect(out).toContain("a stand-in for the paper&#x27;s ArcFace · face crop: 0 detected, 2 fixed of 2 latents");
    expect(out).toContain('0.900'); // identity
    expect(out).toContain('0.0100 world units');
    expect(out).toContain('2.0 %</span> of head depth');
    // Palette 20 → 12: −40 % and closer (green, ↓); consistency 0.05 → 0.06: +20 %, worse (↑).
    expect(out).toMatch(/class="eval-better" data-testid="eval-change" data-pct="-40.0">−40.0 % ↓/);
    expect(out).toMatch(/class="eval-worse" data-testid="eval-change" data-pct="20.0">\+20.0 % ↑/);
    expect(count(out, 'data-testid="eval-latent"')).toBe(2);
    expect(count(out, 'class="eval-thumb"')).toBe(2 * 10);
    expect(out).toContain('data-stale="false"');

    engine.emit({ type: 'preview', globalIteration: 4, source: [], adapted: [], yaws: [0], seeds: [1] });
    out = html(c, <EvaluatePanel />);
    expect(out).toContain('data-stale="true"');
    expect(out).toContain('These results are for earlier weights (iteration 3)');
  });
});

describe('adaptation panel: the live estimate', () => {
  it('shows the preview-based estimate, saying it is one', async () => {
    const { c, engine } = await boot();
    await c.reference.useExample('sketch');
    expect(html(c, <AdaptPanel />)).not.toContain('live-estimate');
    engine.emit({
      type: 'preview',
      globalIteration: 2,
      source: [],
      adapted: [],
      yaws: [0],
      seeds: [1],
      estimate: { palette: { source: 20, adapted: 12, changePct: -40 }, depthDiff: 0.01, depthDiffPct: 2.5, identity: null, views: 6, milliseconds: 98 },
    });
    const out = html(c, <AdaptPanel />);
    expect(out).toContain('data-testid="live-estimate"');
    expect(out).toMatch(/Preview estimate: style distance 20\.0 → 12\.0 <span class="eval-better">\(−40 % ↓\)<\/span>/);
    expect(out).toContain('Δdepth 2.5 % of head');
    const line = /<div[^>]*data-testid="live-estimate"[^>]*>.*?<\/div>/.exec(out)![0];
    expect(line).not.toContain('identity'); // null: the face model was not loaded
    expect(out).toContain('from the previews; Evaluate gives the full report');
    expect(out).toContain('+98 ms per preview');

    // With the face model already loaded (after an evaluation), identity joins the line.
    engine.emit({
      type: 'preview',
      globalIteration: 3,
      source: [],
      adapted: [],
      yaws: [0],
      seeds: [1],
      estimate: { palette: { source: 20, adapted: 20.05, changePct: 0.25 }, depthDiff: 0.01, depthDiffPct: 2.5, identity: 0.934, views: 6, milliseconds: 700 },
    });
    const again = html(c, <AdaptPanel />);
    expect(again).toContain('20.0 → 20.1 <span>(±0 %)</span>');
    expect(again).toContain(' · identity 0.93');
  });
});

/** Adaptation: presets, advanced settings, run controls, live progress and per-loss charts. */
import { useController, useStudio } from '../context.ts';
import { PRESETS, presetMatching } from '../state/settings.ts';
import { formatDuration, formatRate } from '../state/format.ts';
import { LOSS_KEYS, LOSS_LABELS } from '../state/loss-history.ts';
import { canStart, isActive } from '../state/studio-store.ts';
import { ZeroShotSection } from './ZeroShotSection.tsx';
import { describeMeanEmbedding, isMeanEmbeddingStable, type AdaptSettings, type LossWeights } from '../../engine/types.ts';
import { ProgressBar } from './ProgressBar.tsx';
import { LossChart } from './LossChart.tsx';

const LOSS_COLORS: Record<string, string> = {
  total: '#e8e6e3',
  dir: '#6fb3ff',
  dis: '#ff9f5a',
  imageStructure: '#7fdc8a',
  featureStructure: '#d58cff',
};

function NumberField(props: {
  label: string;
  value: number;
  step?: number;
  min?: number;
  max?: number;
  testId: string;
  disabled?: boolean;
  onChange: (v: number) => void;
}) {
  return (
    <label className="field">
      <span>{props.label}</span>
      <input
        type="number"
        value={Number.isFinite(props.value) ? props.value : ''}
        step={props.step ?? 1}
        min={props.min}
        max={props.max}
        disabled={props.disabled}
        data-testid={props.testId}
        onChange={(e) => props.onChange(e.target.value === '' ? NaN : Number(e.target.value))}
      />
    </label>
  );
}

/** A numeric engine option (AdaptSettings.options); empty = the engine's default. */
function OptionField(props: {
  label: string;
  name: string;
  options: AdaptSettings['options'];
  testId: string;
  onChange: (options: AdaptSettings['options']) => void;
}) {
  const v = props.options[props.name];
  return (
    <label className="field">
      <span>{props.label}</span>
      <input
        type="number"
        min={1}
        placeholder="engine default"
        value={typeof v === 'number' ? v : ''}
        data-testid={props.testId}
        onChange={(e) => {
          const next = { ...props.options };
          if (e.target.value === '') delete next[props.name];
          else next[props.name] = Number(e.target.value);
          props.onChange(next);
        }}
      />
    </label>
  );
}

function Settings({ locked }: { locked: boolean }) {
  const c = useController();
  const s = useStudio((st) => st.settings);
  const encoders = useStudio((st) => st.encoders);
  const error = useStudio((st) => st.settingsError);
  const preset = presetMatching(s);
  const set = (patch: Partial<AdaptSettings>) => void c.run.updateSettings(patch);
  const setW = (k: keyof LossWeights, v: number) => set({ lossWeights: { ...s.lossWeights, [k]: v } });
  const selected = s.encoders.length === 0 ? encoders.map((e) => e.id) : s.encoders;

  return (
    <>
      <div className="presets" role="radiogroup" aria-label="Presets">
        {PRESETS.map((p) => (
          <button
            key={p.id}
            role="radio"
            aria-checked={preset === p.id}
            className={`chip${preset === p.id ? ' active' : ''}`}
            title={p.description}
            disabled={locked}
            data-testid={`preset-${p.id}`}
            onClick={() => c.run.applyPreset(p.id)}
          >
            {p.label}
          </button>
        ))}
        {preset === null && <span className="chip custom">Custom</span>}
      </div>
      <details className="advanced" data-testid="advanced-settings">
        <summary>Advanced settings</summary>
        <fieldset disabled={locked}>
          <legend>Iterations</legend>
          <div className="grid2">
            <NumberField label="Step 1 · Tri-D" value={s.iterations[0]} min={0} testId="iters-trid" onChange={(v) => set({ iterations: [v, s.iterations[1]] })} />
            <NumberField label="Step 2 · G2" value={s.iterations[1]} min={0} testId="iters-g2" onChange={(v) => set({ iterations: [s.iterations[0], v] })} />
            <NumberField label="Batch size" value={s.batchSize} min={1} max={16} testId="batch-size" onChange={(v) => set({ batchSize: v })} />
            <NumberField label="Learning rate" value={s.learningRate} step={0.0001} testId="learning-rate" onChange={(v) => set({ learningRate: v })} />
            <NumberField label="Preview every" value={s.previewEvery} min={1} testId="preview-every" onChange={(v) => set({ previewEvery: v })} />
            <NumberField label="μ_s samples" value={s.meanEmbeddingSamples} min={1} testId="mean-samples" onChange={(v) => set({ meanEmbeddingSamples: v })} />
          </div>
        </fieldset>
        <fieldset disabled={locked}>
          <legend>Live preview</legend>
          <div className="grid2">
            <OptionField label="Preview latents" name="previewLatents" options={s.options} testId="preview-latents" onChange={(options) => set({ options })} />
            <OptionField label="Preview views" name="previewViews" options={s.options} testId="preview-views" onChange={(options) => set({ options })} />
          </div>
        </fieldset>
        <fieldset disabled={locked}>
          <legend>Loss weights</legend>
          <div className="grid2">
            <NumberField label="λ_dir (direction)" value={s.lossWeights.dir} step={0.1} min={0} testId="w-dir" onChange={(v) => setW('dir', v)} />
            <NumberField label="λ_dis (REMD)" value={s.lossWeights.dis} step={0.1} min={0} testId="w-dis" onChange={(v) => setW('dis', v)} />
            <NumberField label="λ_I (image structure)" value={s.lossWeights.imageStructure} step={0.1} min={0} testId="w-istr" onChange={(v) => setW('imageStructure', v)} />
            <NumberField label="λ_F (feature structure)" value={s.lossWeights.featureStructure} step={0.5} min={0} testId="w-fstr" onChange={(v) => setW('featureStructure', v)} />
          </div>
        </fieldset>
        <fieldset disabled={locked}>
          <legend>Encoders</legend>
          {encoders.map((e) => (
            <label key={e.id} className="check">
              <input
                type="checkbox"
                checked={selected.includes(e.id)}
                onChange={(ev) => {
                  const next = ev.target.checked ? [...selected, e.id] : selected.filter((x) => x !== e.id);
                  // Keep at least one encoder: an empty list means "all loaded" to the engine.
                  set({ encoders: next.length === encoders.length || next.length === 0 ? [] : next });
                }}
              />
              {e.name}
            </label>
          ))}
        </fieldset>
        <fieldset disabled={locked}>
          <legend>Sampling</legend>
          <div className="grid2">
            <label className="field">
              <span>Seed</span>
              <span className="row">
                <input type="number" value={s.seed} data-testid="seed" onChange={(e) => set({ seed: Number(e.target.value) })} />
                <button className="small ghost" aria-label="Random seed" onClick={() => set({ seed: Math.floor(Math.random() * 1_000_000) })}>
                  Random
                </button>
              </span>
            </label>
            <NumberField label="Truncation ψ" value={s.truncationPsi} step={0.05} min={0.05} max={1} testId="psi" onChange={(v) => set({ truncationPsi: v })} />
          </div>
        </fieldset>
      </details>
      {error && (
        <div className="error" role="alert" data-testid="settings-error">
          {error}
        </div>
      )}
    </>
  );
}

const PHASES = [
  { id: 'mean-embedding', label: 'μ_s' },
  { id: 'tri-d', label: 'Step 1 · Tri-D' },
  { id: 'g2', label: 'Step 2 · G2' },
] as const;

/** μ_s of each encoder: samples, half-sample stability, cached or not; a warning with a hint when it is not stable. */
function MeanEmbeddingReports() {
  const reports = useStudio((s) => s.meanEmbeddings);
  if (!reports.length) return null;
  return (
    <ul className="mean-embeddings" aria-label="Mean source embedding" data-testid="mean-embedding-reports">
      {reports.map((m) => {
        const stable = isMeanEmbeddingStable(m);
        return (
          <li
            key={m.encoder}
            className={`small-text ${stable ? 'muted' : 'warning'}`}
            data-testid="mean-embedding-report"
            data-stable={stable}
            data-samples={m.samples}
            data-cached={m.cached}
            title="Stability: cosine between the means of two independent halves of the samples (1 = the direction no longer depends on which renders were drawn)."
          >
            {describeMeanEmbedding(m)}
            {reports.length > 1 && ` · ${m.encoderName}`}
            {!stable && <span className="hint"> — raise μ_s samples (Advanced settings) for a steadier direction</span>}
          </li>
        );
      })}
    </ul>
  );
}

/** The live estimate sent with each preview: palette distance to the reference, depth change, identity when cheap. */
function LiveEstimate() {
  const preview = useStudio((s) => s.preview);
  const est = preview?.estimate;
  if (!preview || !est || preview.globalIteration === 0) return null;
  const p = est.palette;
  return (
    <div
      className="live-estimate muted"
      data-testid="live-estimate"
      data-palette-change={p ? p.changePct.toFixed(1) : undefined}
      data-depth-pct={est.depthDiffPct.toFixed(2)}
      title={`Measured on the ${est.views} preview renders at iteration ${preview.globalIteration} (+${est.milliseconds.toFixed(0)} ms per preview), not the held-out latents of the evaluation report.`}
    >
      Preview estimate: style distance{' '}
      {p ? (
        <>
          {p.source.toFixed(1)} → {p.adapted.toFixed(1)}{' '}
          {Math.abs(p.changePct) < 0.5 ? (
            <span>(±0 %)</span>
          ) : (
            <span className={p.changePct < 0 ? 'eval-better' : 'eval-worse'}>
              ({p.changePct > 0 ? '+' : '−'}
              {Math.abs(p.changePct).toFixed(0)} % {p.changePct < 0 ? '↓' : '↑'})
            </span>
          )}
        </>
      ) : (
        '—'
      )}
      {est.identity !== null && <> · identity {est.identity.toFixed(2)}</>} · Δdepth {est.depthDiffPct.toFixed(1)} % of head
      <span className="hint"> — from the previews; Evaluate gives the full report</span>
    </div>
  );
}

function Progress() {
  const run = useStudio((s) => s.run);
  const checkpoint = useStudio((s) => s.checkpoint);
  const phaseIdx = PHASES.findIndex((p) => p.id === run.phase);
  return (
    <div className="run-progress" data-testid="run-progress" data-state={run.state}>
      <ol className="phases" aria-label="Adaptation steps">
        {PHASES.map((p, i) => (
          <li
            key={p.id}
            className={i === phaseIdx ? 'current' : i < phaseIdx || run.state === 'done' ? 'done' : ''}
            aria-current={i === phaseIdx ? 'step' : undefined}
            data-testid={`phase-${p.id}`}
          >
            {p.label}
          </li>
        ))}
      </ol>
      <MeanEmbeddingReports />
      <LiveEstimate />
      <ProgressBar value={run.globalIteration} max={run.totalIterations} label="Adaptation progress" testId="run-bar" indeterminate={run.state === 'preparing' && run.phase === null} />
      <dl className="stats">
        <div>
          <dt>State</dt>
          <dd data-testid="run-state">{run.state}</dd>
        </div>
        <div>
          <dt>Iteration</dt>
          <dd data-testid="iteration" data-global={run.globalIteration}>
            {run.globalIteration} / {run.totalIterations || '—'}
          </dd>
        </div>
        <div>
          <dt>Speed</dt>
          <dd data-testid="speed">{formatRate(run.itPerSec)}</dd>
        </div>
        <div>
          <dt>ETA</dt>
          <dd data-testid="eta">{isActive(run.state) ? formatDuration(run.etaSeconds) : '—'}</dd>
        </div>
      </dl>
      {run.phase && run.phaseIterations > 0 && (
        <div className="muted small-text">
          {PHASES[phaseIdx]?.label}: {run.iteration} / {run.phaseIterations}
        </div>
      )}
      {run.message && <div className="muted small-text" data-testid="run-message">{run.message}</div>}
      {checkpoint && (
        <div
          className="muted small-text"
          data-testid="checkpoint-info"
          data-iteration={checkpoint.globalIteration}
          data-restored={checkpoint.restored}
          data-stored={checkpoint.stored}
          title={checkpoint.stored ? 'Saved in this browser: a reload brings it back' : 'Being saved in this browser; a reload before it is saved brings back the previous one'}
        >
          {checkpoint.restored ? 'Restored checkpoint' : 'Last checkpoint'}: iteration {checkpoint.globalIteration}
          {checkpoint.totalIterations ? ` of ${checkpoint.totalIterations}` : ''}
          {checkpoint.stored ? '' : ' · saving…'}
        </div>
      )}
    </div>
  );
}

export function AdaptPanel() {
  const c = useController();
  const state = useStudio((s) => s.run.state);
  const startable = useStudio(canStart);
  // Resuming makes sense only for a checkpoint before the end of its run.
  const hasCheckpoint = useStudio((s) => s.checkpoint !== null && s.checkpoint.globalIteration < s.checkpoint.totalIterations);
  const losses = useStudio((s) => s.losses);
  const total = useStudio((s) => s.run.totalIterations);
  const hasReference = useStudio((s) => s.reference !== null);
  const zeroShot = useStudio((s) => s.settings.text !== undefined);
  const active = isActive(state);

  return (
    <section className="panel" aria-labelledby="adapt-title" data-testid="adapt-panel">
      <h2 id="adapt-title">Adaptation</h2>
      <Settings locked={active} />
      <ZeroShotSection locked={active} />
      <div className="controls" role="group" aria-label="Run controls">
        {!active && (
          <button className="primary" disabled={!startable} onClick={() => c.run.start()} data-testid="start">
            ▶ Start
          </button>
        )}
        {!active && hasCheckpoint && (
          <button disabled={!startable} onClick={() => c.run.resumeFromCheckpoint()} data-testid="resume-checkpoint">
            ↻ Resume from checkpoint
          </button>
        )}
        {state === 'running' && (
          <button onClick={() => c.run.pause()} data-testid="pause">
            ❚❚ Pause
          </button>
        )}
        {state === 'paused' && (
          <button className="primary" onClick={() => c.run.resume()} data-testid="resume">
            ▶ Resume
          </button>
        )}
        {active && (
          <button className="danger" onClick={() => c.run.stop()} data-testid="stop">
            ■ Stop
          </button>
        )}
      </div>
      {!hasReference && !zeroShot && <div className="muted small-text">Choose a reference image (or an example) to start — or describe the target (zero-shot).</div>}
      <Progress />
      <div className="charts" data-testid="loss-charts">
        {LOSS_KEYS.map((k) => (
          <LossChart key={k} label={LOSS_LABELS[k]} series={losses[k]} totalIterations={total} color={LOSS_COLORS[k]} testId={`loss-${k}`} />
        ))}
      </div>
    </section>
  );
}

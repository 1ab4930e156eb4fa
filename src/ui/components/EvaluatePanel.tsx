/**
 * The evaluation report: source vs the current adapted weights over N held-out latents × 5 views —
 * identity (a stand-in for ArcFace), depth difference, palette and texture distance to the reference,
 * multi-view consistency, CLIP lines when a CLIP is loaded — and per-latent thumbnails.
 */
import { useEffect, useRef } from 'react';
import { useController, useStudio } from '../context.ts';
import { drawRgba } from '../grid.ts';
import { canEvaluate, isReportStale, MAX_EVALUATION_LATENTS } from '../state/evaluate-slice.ts';
import type { EngineEvaluation, EvaluationRow, RgbaImage, SourceAdapted } from '../../engine/types.ts';
import { ProgressBar } from './ProgressBar.tsx';

const f3 = (x: number) => x.toFixed(3);

function Thumb({ img, label }: { img: RgbaImage; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (ref.current) drawRgba(ref.current, img);
  }, [img]);
  return <canvas ref={ref} className="eval-thumb" width={img.width} height={img.height} aria-label={label} role="img" />;
}

/** "−40.0 % ↓" or "+12.0 % ↑", green when the change is for the better (lower, unless `higherIsBetter`). */
function Change({ pct, higherIsBetter = false }: { pct: number | null; higherIsBetter?: boolean }) {
  if (pct === null || !Number.isFinite(pct)) return <span className="muted">—</span>;
  if (Math.abs(pct) < 0.05) return <span data-testid="eval-change" data-pct="0.0">±0.0 %</span>;
  const down = pct < 0;
  return (
    <span className={down !== higherIsBetter ? 'eval-better' : 'eval-worse'} data-testid="eval-change" data-pct={pct.toFixed(1)}>
      {pct > 0 ? '+' : '−'}
      {Math.abs(pct).toFixed(1)} % {down ? '↓' : '↑'}
    </span>
  );
}

function changePct(x: SourceAdapted): number | null {
  return x.source > 0 ? ((x.adapted - x.source) / x.source) * 100 : null;
}

function Summary({ report }: { report: EngineEvaluation }) {
  const { result } = report;
  const m = result.means;
  const n = result.rows.length;
  const mixed = n - m.detectedLatents - m.fixedCropLatents;
  return (
    <table className="eval-table" data-testid="evaluation-table">
      <thead>
        <tr>
          <th scope="col">Measure</th>
          <th scope="col">Source</th>
          <th scope="col">Adapted</th>
          <th scope="col">Change</th>
        </tr>
      </thead>
      <tbody>
        <tr data-testid="eval-identity">
          <th scope="row">
            Identity similarity
            <div className="eval-note">
              {report.identityModel
                ? `face-api descriptors, a stand-in for the paper's ArcFace · face crop: ${m.detectedLatents} detected, ${m.fixedCropLatents} fixed${mixed ? `, ${mixed} mixed` : ''} of ${n} latents`
                : (report.notes.find((x) => x.startsWith('identity')) ?? 'not measured')}
            </div>
          </th>
          <td colSpan={2}>{m.identity === null ? '—' : <span data-testid="eval-identity-value">{f3(m.identity)}</span>}</td>
          <td className="muted">1 = same face</td>
        </tr>
        <tr data-testid="eval-depth">
          <th scope="row">
            Depth difference
            <div className="eval-note">mean |Δdepth| on the source&apos;s foreground</div>
          </th>
          <td colSpan={2}>
            {m.depthDiff.toFixed(4)} world units · <span data-testid="eval-depth-pct">{m.depthDiffPct.toFixed(1)} %</span> of head depth
          </td>
          <td className="muted">0 = same shape</td>
        </tr>
        <tr data-testid="eval-palette">
          <th scope="row">
            Palette distance to the reference
            <div className="eval-note">sliced Wasserstein of Lab colours, the head’s face region vs the reference’s, ≈ ΔE</div>
          </th>
          {m.palette ? (
            <>
              <td>{m.palette.source.toFixed(2)}</td>
              <td>{m.palette.adapted.toFixed(2)}</td>
              <td>
                <Change pct={m.paletteChangePct} />
              </td>
            </>
          ) : (
            <td colSpan={3} className="muted">
              needs a reference image
            </td>
          )}
        </tr>
        <tr data-testid="eval-texture">
          <th scope="row">
            Texture distance to the reference
            <div className="eval-note">Gram matrices of early InceptionV3 layers (not used in training)</div>
          </th>
          {m.texture ? (
            <>
              <td>{f3(m.texture.source)}</td>
              <td>{f3(m.texture.adapted)}</td>
              <td>
                <Change pct={m.textureChangePct} />
              </td>
            </>
          ) : (
            <td colSpan={3} className="muted">
              {report.reference ? 'not measured' : 'needs a reference image'}
            </td>
          )}
        </tr>
        <tr data-testid="eval-consistency">
          <th scope="row">
            Multi-view consistency
            <div className="eval-note">neighbouring views reprojected through depth, masked L1 (lower = more consistent)</div>
          </th>
          <td>{f3(m.consistency.source)}</td>
          <td>{f3(m.consistency.adapted)}</td>
          <td>
            <Change pct={changePct(m.consistency)} />
          </td>
        </tr>
        {m.clip.map((c, i) => (
          <tr key={`sim-${i}`} data-testid="eval-clip">
            <th scope="row">
              {c.target === 'prompt' ? 'CLIP similarity to the prompt' : 'CLIP similarity to the reference'}
              <div className="eval-note">
                {report.clipEncoders[i]?.name ?? c.encoder} · direction alignment {f3(c.directionAlignment)}
              </div>
            </th>
            <td>{f3(c.similarity.source)}</td>
            <td>{f3(c.similarity.adapted)}</td>
            <td>
              <Change pct={changePct(c.similarity)} higherIsBetter />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function LatentRow({ row, yaws }: { row: EvaluationRow; yaws: number[] }) {
  return (
    <tr data-testid="eval-latent">
      <th scope="row" className="mono">
        {row.latent + 1}
      </th>
      <td>
        <div className="eval-thumbs" style={{ gridTemplateColumns: `repeat(${yaws.length}, auto)` }}>
          {row.thumbnails.source.map((img, v) => (
            <Thumb key={`s${v}`} img={img} label={`Latent ${row.latent + 1}, source, yaw ${yaws[v]?.toFixed(2)}`} />
          ))}
          {row.thumbnails.adapted.map((img, v) => (
            <Thumb key={`a${v}`} img={img} label={`Latent ${row.latent + 1}, adapted, yaw ${yaws[v]?.toFixed(2)}`} />
          ))}
        </div>
      </td>
      <td className="eval-nums">
        <div title="identity similarity (face crop: detected / fixed / mixed)">id {row.identity === null ? '—' : `${f3(row.identity)} (${row.identityCrop})`}</div>
        <div title="depth difference, % of head depth">Δdepth {row.depthDiffPct.toFixed(1)} %</div>
        {row.palette && (
          <div title="palette distance to the reference, source → adapted">
            palette {row.palette.source.toFixed(1)} → {row.palette.adapted.toFixed(1)}
          </div>
        )}
        {row.texture && (
          <div title="texture distance to the reference, source → adapted">
            texture {row.texture.source.toFixed(2)} → {row.texture.adapted.toFixed(2)}
          </div>
        )}
      </td>
    </tr>
  );
}

export function EvaluatePanel() {
  const c = useController();
  const ev = useStudio((s) => s.evaluation);
  const enabled = useStudio(canEvaluate);
  const stale = useStudio(isReportStale);
  const adaptedAvailable = useStudio((s) => s.adaptedAvailable);
  const report = ev.report;
  const running = ev.status === 'running';
  const progress = ev.progress;

  return (
    <section className="panel" aria-labelledby="evaluate-title" data-testid="evaluate-panel" data-status={ev.status} data-stale={stale}>
      <h2 id="evaluate-title">Evaluation</h2>
      <div className="muted small-text">Source vs the adapted weights on held-out latents, 5 views each. The first run loads a face model and a texture network (~40 MB, once).</div>
      <div className="controls row" role="group" aria-label="Evaluation controls">
        <label className="field eval-latents">
          <span>Latents</span>
          <input
            type="number"
            min={1}
            max={MAX_EVALUATION_LATENTS}
            value={ev.latents}
            disabled={running}
            data-testid="evaluate-latents"
            onChange={(e) => c.evaluate.setLatents(Number(e.target.value))}
          />
        </label>
        {!running && (
          <button className="primary" disabled={!enabled} onClick={() => void c.evaluate.start()} data-testid="evaluate-start" title={adaptedAvailable ? undefined : 'Run an adaptation or load adapted weights first'}>
            Evaluate adaptation
          </button>
        )}
        {running && (
          <button className="danger" onClick={() => void c.evaluate.cancel()} data-testid="evaluate-cancel">
            ■ Cancel
          </button>
        )}
      </div>
      {running && (
        <div data-testid="evaluate-progress">
          <ProgressBar
            value={progress?.stage === 'evaluating' ? progress.done : 0}
            max={progress?.stage === 'evaluating' ? progress.total : 1}
            label="Evaluation progress"
            testId="evaluate-bar"
            indeterminate={!progress || progress.stage === 'loading'}
          />
          <div className="muted small-text">
            {!progress ? 'Starting…' : progress.stage === 'loading' ? `Loading the ${progress.what}…` : `Latent ${progress.done} of ${progress.total} done`}
          </div>
        </div>
      )}
      {ev.error && (
        <div className="error" role="alert" data-testid="evaluate-error">
          {ev.error}
        </div>
      )}
      {report && (
        <div className={stale ? 'eval-report stale' : 'eval-report'} data-testid="evaluation-report">
          {stale && (
            <div className="warning small-text" data-testid="evaluation-stale">
              These results are for earlier weights (iteration {report.adaptedIterations.triD + report.adaptedIterations.g2}); evaluate again for the current ones.
            </div>
          )}
          {report.result.stopped && <div className="warning small-text">Cancelled: {report.result.rows.length} of {report.result.options.latents} latents evaluated.</div>}
          <div className="muted small-text">
            {report.result.rows.length} latent{report.result.rows.length === 1 ? '' : 's'} × {report.result.options.yaws.length} views · ψ {report.result.options.psi} · adapted weights after {report.adaptedIterations.triD} Tri-D + {report.adaptedIterations.g2} G2
            iterations · {report.result.seconds.toFixed(0)} s
          </div>
          <Summary report={report} />
          {report.notes.length > 0 && <div className="muted small-text">{report.notes.join(' · ')}</div>}
          <details className="eval-latents-details" open>
            <summary>Per latent (top: source, bottom: adapted)</summary>
            <div className="eval-scroll">
              <table className="eval-table eval-per-latent" data-testid="evaluation-latents">
                <tbody>
                  {report.result.rows.map((row) => (
                    <LatentRow key={row.latent} row={row} yaws={report.result.options.yaws} />
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </div>
      )}
    </section>
  );
}

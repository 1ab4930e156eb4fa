/**
 * Mix domains: adapted-weights files of the current base generator blended with one weight each
 * (W_base + Σ w_i (W_i − W_base)); the viewer, the multi-view strip, the evaluation and the export
 * then use the mix. The viewer's strength slider still scales the whole mix.
 */
import { useController, useStudio } from '../context.ts';
import { isActive } from '../state/studio-store.ts';
import { MIX_WEIGHT_MAX, MIX_WEIGHT_MIN, mixParts } from '../state/mix-slice.ts';
import { DropZone } from './DropZone.tsx';

export function MixPanel() {
  const c = useController();
  const parts = useStudio(mixParts);
  const mix = useStudio((s) => s.mix);
  const generator = useStudio((s) => s.generator);
  const running = useStudio((s) => isActive(s.run.state) || s.evaluation.status === 'running');
  const current = useStudio((s) => s.mix.installedVersion === s.weightsVersion);
  const sum = parts.reduce((a, p) => a + p.weight, 0);

  return (
    <section className="panel" aria-labelledby="mix-title" data-testid="mix-panel" data-busy={mix.busy} data-parts={parts.length}>
      <h2 id="mix-title">Mix domains</h2>
      <DropZone
        testId="mix-drop"
        accept=".safetensors"
        label="Add adapted weights to the mix (.safetensors)"
        hint="two or more files exported on this base generator"
        disabled={running || !generator}
        compact
        multiple
        onFile={(f) => void c.mix.add([{ file: f, name: f.name }])}
        onFiles={(fs) => void c.mix.add(fs.map((f) => ({ file: f, name: f.name })))}
      />
      {parts.length > 0 && (
        <ul className="mix-parts" data-testid="mix-parts">
          {parts.map((p) => (
            <li key={p.id} data-testid="mix-part">
              <div className="row mix-part-head">
                <span className="mix-part-name" title={p.name}>
                  {p.name}
                </span>
                <button className="link" onClick={() => void c.mix.remove(p.id)} disabled={running} aria-label={`Remove ${p.name} from the mix`} data-testid="mix-remove">
                  ✕
                </button>
              </div>
              <div className="muted small-text">
                {p.iterations.triD} Tri-D + {p.iterations.g2} G2 iterations{p.prompt !== undefined ? ` · “${p.prompt}”` : ''}
              </div>
              <label className="field inline">
                <span>weight</span>
                <input
                  type="range"
                  min={MIX_WEIGHT_MIN}
                  max={MIX_WEIGHT_MAX}
                  step={0.05}
                  value={p.weight}
                  disabled={running}
                  aria-label={`Weight of ${p.name}`}
                  data-testid="mix-weight"
                  onChange={(e) => c.mix.setWeight(p.id, Number(e.target.value))}
                />
                <output data-testid="mix-weight-value">{p.weight.toFixed(2)}</output>
              </label>
            </li>
          ))}
        </ul>
      )}
      {parts.length > 0 && (
        <div className="muted small-text" data-testid="mix-status">
          {mix.busy ? 'Blending… ' : ''}
          Weights sum to {sum.toFixed(2)}
          {Math.abs(sum - 1) > 1e-6 ? ' (not 1: the mix extrapolates or attenuates the domains)' : ' (an interpolation between the domains)'}.
          {current ? ' The viewer, the strip, Evaluate and Outputs use this mix.' : ' A run or an import has replaced the mix: moving a weight brings it back (export the current weights first to keep them).'}
        </div>
      )}
      {mix.error && (
        <div className="error" role="alert" data-testid="mix-error">
          {mix.error}
        </div>
      )}
    </section>
  );
}

/** Models: the loaded generator and encoders, loading new files with progress, the cached-model list. */
import { useController, useStudio } from '../context.ts';
import { formatBytes, formatParams } from '../state/format.ts';
import { isActive } from '../state/studio-store.ts';
import type { ModelInfo } from '../../engine/types.ts';
import { DropZone } from './DropZone.tsx';
import { ProgressBar } from './ProgressBar.tsx';

function ModelCard({ info, onUnload }: { info: ModelInfo; onUnload?: () => void }) {
  return (
    <div className="model-card" data-testid={`model-${info.kind}`} data-model-id={info.id}>
      <div className="model-card-head">
        <span className="model-kind">{info.kind === 'generator' ? 'Generator' : 'Encoder'}</span>
        <span className="model-name" title={info.name}>
          {info.name}
        </span>
        <span className="badge ready" data-testid={`${info.kind}-ready`}>
          ready
        </span>
      </div>
      <div className="model-summary">{info.summary}</div>
      <div className="model-meta">
        {info.parameters > 0 ? `${formatParams(info.parameters)} parameters · ` : ''}{info.origin === 'embedded' ? 'built in' : 'from file'} ·{' '}
        <span title={info.sha256}>sha256 {info.sha256.slice(0, 10)}…</span>
      </div>
      {onUnload && (
        <button className="link" onClick={onUnload} aria-label={`Unload ${info.name}`}>
          Unload
        </button>
      )}
    </div>
  );
}

export function ModelsPanel() {
  const c = useController();
  const generator = useStudio((s) => s.generator);
  const encoders = useStudio((s) => s.encoders);
  const cached = useStudio((s) => s.cachedModels);
  const loading = useStudio((s) => s.loading);
  const error = useStudio((s) => s.modelError);
  const hint = useStudio((s) => s.modelHint);
  const busy = useStudio((s) => isActive(s.run.state));

  return (
    <section className="panel" aria-labelledby="models-title" data-testid="models-panel">
      <h2 id="models-title">Models</h2>
      {generator ? (
        <ModelCard info={generator} />
      ) : (
        <div className="model-card empty">{loading?.target === 'generator' ? 'Loading generator…' : 'No generator loaded'}</div>
      )}
      {generator?.origin === 'file' && (
        <button className="link" onClick={() => c.models.useEmbeddedGenerator()} disabled={busy}>
          Switch back to the built-in demo generator
        </button>
      )}
      {encoders.map((e) => (
        <ModelCard key={e.id} info={e} onUnload={encoders.length > 1 ? () => c.models.unloadEncoder(e.id) : undefined} />
      ))}

      <DropZone
        testId="model-drop"
        accept=".pkl,.pt,.pth,.safetensors,.bin,.json"
        label="Drop an EG3D .pkl or CLIP .pt / .safetensors"
        hint="with the model's config .json where it has one · or click to choose files · parsed in the background worker"
        disabled={busy || loading !== null}
        compact
        multiple
        onFile={(f) => c.models.loadModelFile(f, f.name)}
        onFiles={(files) => c.models.loadModelFiles(files.map((f) => ({ file: f, name: f.name })))}
      />
      {loading && (
        <div className="loading" data-testid="model-loading">
          <div className="row between">
            <span>
              {loading.fileName}: {loading.what}
            </span>
            <span className="muted">
              {loading.total > 0 ? `${formatBytes(loading.loaded)} / ${formatBytes(loading.total)}` : ''}
            </span>
          </div>
          <ProgressBar value={loading.loaded} max={loading.total} label={`Loading ${loading.fileName}`} indeterminate={loading.total === 0} />
        </div>
      )}
      {error && (
        <div className="error" role="alert" data-testid="model-error">
          {error}
        </div>
      )}
      {hint && (
        <div className="model-hint" role="note" data-testid="model-hint">
          {hint}
        </div>
      )}

      {cached.length > 0 && (
        <div className="cached" data-testid="cached-models">
          <h3>Cached in this browser</h3>
          <ul>
            {cached.map((m) => (
              <li key={m.id} className="row between">
                <span className="model-name" title={`${m.summary} · sha256 ${m.sha256}`}>
                  {m.kind === 'generator' ? '◆' : '◇'} {m.name}
                </span>
                <span className="row">
                  <button
                    className="small"
                    onClick={() => c.models.selectCachedModel(m.id)}
                    disabled={busy || loading !== null || generator?.id === m.id || encoders.some((e) => e.id === m.id)}
                  >
                    Load
                  </button>
                  <button className="small ghost" onClick={() => c.models.forgetCachedModel(m.id)} aria-label={`Delete ${m.name} from the list`}>
                    Delete
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <p className="licence-note" data-testid="licence-note">
        EG3D code and weights are under the NVIDIA Source Code License (non-commercial use only, §3.3). Weights
        adapted from them are derivative works under the same terms. The built-in demo generator was trained by this
        project on procedural heads. Not to be confused with Stanford's unrelated "3D-Adapter" (arXiv 2410.18974).
      </p>
    </section>
  );
}

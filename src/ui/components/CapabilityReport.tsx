/** Start-up capability check: which backend the engine found and what it means for speed. */
import { useState } from 'react';
import { threadCountLabel } from '../../core/backend.ts';
import type { BackendPreference, Capabilities } from '../../engine/types.ts';
import { useController, useStudio } from '../context.ts';

const BACKEND_CHOICES: ReadonlyArray<{ value: BackendPreference; label: string }> = [
  { value: 'auto', label: 'Automatic (fastest found)' },
  { value: 'webgpu', label: 'WebGPU' },
  { value: 'wasm', label: 'WebAssembly (CPU)' },
  { value: 'cpu', label: 'JavaScript (CPU, slowest)' },
];

/** The badge's text: the backend, and for the CPU backends how many threads compute ("CPU (WebAssembly) · 2 threads"). */
export function capabilityLabel(caps: Capabilities): string {
  const backend =
    caps.backend === 'webgpu'
      ? caps.adapter?.isFallbackAdapter
        ? 'WebGPU (software fallback adapter)'
        : 'WebGPU'
      : caps.backend === 'wasm'
        ? 'CPU (WebAssembly)'
        : 'CPU (JavaScript)';
  const threads = caps.backend === 'webgpu' ? '' : threadCountLabel(caps);
  return threads ? `${backend} · ${threads}` : backend;
}

export function CapabilityReport() {
  const caps = useStudio((s) => s.capabilities);
  const probeError = useStudio((s) => s.probeError);
  const preference = useStudio((s) => s.backendPreference);
  const controller = useController();
  const [open, setOpen] = useState(false);
  const choose = async (p: BackendPreference) => {
    await controller.backend.chooseBackend(p);
    // The backend cannot change under loaded models: start again (reference, settings and the last
    // checkpoint are restored from this browser's storage).
    const url = new URL(window.location.href);
    url.searchParams.delete('backend');
    window.location.replace(url.toString());
  };
  if (probeError) {
    return (
      <div className="capability bad" data-testid="capability" role="status">
        <span className="dot" /> Device check failed: {probeError}
      </div>
    );
  }
  if (!caps) {
    return (
      <div className="capability pending" data-testid="capability" role="status">
        <span className="dot" /> Checking this device…
      </div>
    );
  }
  const tier = caps.backend === 'webgpu' ? (caps.adapter?.isFallbackAdapter ? 'slow' : 'good') : 'slow';
  const label = capabilityLabel(caps);
  return (
    <div
      className={`capability ${tier}`}
      data-testid="capability"
      data-backend={caps.backend}
      data-threads={caps.threads}
      data-isolated={caps.crossOriginIsolated === undefined ? undefined : String(caps.crossOriginIsolated)}
      role="status"
    >
      <button className="capability-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className="dot" /> {label}
      </button>
      {open && (
        <div className="capability-details" data-testid="capability-details">
          <p>{caps.summary}</p>
          <label className="backend-choice">
            Compute backend{' '}
            <select data-testid="backend-choice" value={preference} onChange={(e) => void choose(e.target.value as BackendPreference)}>
              {BACKEND_CHOICES.map((c) => (
                <option key={c.value} value={c.value}>
                  {c.label}
                </option>
              ))}
            </select>
          </label>
          <p className="muted">Changing it restarts the studio; your reference, settings and last checkpoint are kept.</p>
          {(caps.threads !== undefined || caps.crossOriginIsolated !== undefined) && (
            <dl data-testid="capability-threads">
              {caps.threads !== undefined && (
                <>
                  <dt>CPU threads</dt>
                  <dd>
                    {caps.threads}
                    {caps.cores ? ` of ${caps.cores} cores` : ''}
                  </dd>
                </>
              )}
              {caps.crossOriginIsolated !== undefined && (
                <>
                  <dt>Isolated</dt>
                  <dd>{caps.crossOriginIsolated ? 'yes (COOP/COEP)' : 'no: wasm runs on one thread'}</dd>
                </>
              )}
            </dl>
          )}
          {caps.adapter && (
            <dl>
              <dt>Vendor</dt>
              <dd>{caps.adapter.vendor || '—'}</dd>
              <dt>Architecture</dt>
              <dd>{caps.adapter.architecture || '—'}</dd>
              <dt>Description</dt>
              <dd>{caps.adapter.description || '—'}</dd>
              <dt>Max buffer</dt>
              <dd>{(caps.adapter.maxBufferSize / 2 ** 20).toFixed(0)} MiB</dd>
            </dl>
          )}
        </div>
      )}
    </div>
  );
}

/** The one-line summary shown in the status bar. */
export function CapabilitySummary() {
  const caps = useStudio((s) => s.capabilities);
  return caps ? (
    <span className="muted" data-testid="capability-summary">
      {caps.summary}
    </span>
  ) : null;
}

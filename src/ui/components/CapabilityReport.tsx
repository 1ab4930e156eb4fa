/** Start-up capability check: which backend the engine found and what it means for speed. */
import { useState } from 'react';
import { useStudio } from '../context.ts';

export function CapabilityReport() {
  const caps = useStudio((s) => s.capabilities);
  const probeError = useStudio((s) => s.probeError);
  const [open, setOpen] = useState(false);
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
  const label =
    caps.backend === 'webgpu'
      ? caps.adapter?.isFallbackAdapter
        ? 'WebGPU (software fallback adapter)'
        : 'WebGPU'
      : caps.backend === 'wasm'
        ? 'CPU (WebAssembly)'
        : 'CPU (JavaScript)';
  return (
    <div className={`capability ${tier}`} data-testid="capability" data-backend={caps.backend} role="status">
      <button className="capability-toggle" aria-expanded={open} onClick={() => setOpen(!open)}>
        <span className="dot" /> {label}
      </button>
      {open && (
        <div className="capability-details" data-testid="capability-details">
          <p>{caps.summary}</p>
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

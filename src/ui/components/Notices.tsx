/** Engine errors (with resume after a lost GPU device) and informational notices. */
import type { ErrorKind } from '../../core/errors.ts';
import { useController, useStudio } from '../context.ts';

/** The title the studio shows for each error kind (src/core/errors.ts): the one place they are written; a new kind fails to compile here until it has one. */
const ERROR_TITLES: Readonly<Record<ErrorKind, string>> = {
  'no-webgpu': 'WebGPU is not available',
  'device-lost': 'The GPU device was lost',
  'out-of-memory': 'Out of memory',
  'bad-reference': 'Reference problem',
  'incompatible-file': 'Incompatible file',
  'corrupt-file': 'Corrupt file',
  'bad-settings': 'Settings problem',
  'not-ready': 'Not ready',
  cancelled: 'Cancelled',
  internal: 'Something went wrong',
};

function errorTitle(kind: string): string {
  return (ERROR_TITLES as Record<string, string>)[kind] ?? 'Error';
}

export function Notices() {
  const c = useController();
  const error = useStudio((s) => s.engineError);
  const engineLost = useStudio((s) => s.engineLost);
  const checkpoint = useStudio((s) => s.checkpoint);
  const notice = useStudio((s) => s.notice);
  return (
    <div className="notices" aria-live="polite">
      {error && (
        <div className="banner error-banner" role="alert" data-testid="engine-error" data-code={error.code}>
          <strong>{errorTitle(error.code)}.</strong> {error.message}
          {engineLost && (
            <span>
              {' '}
              {checkpoint
                ? `Training can continue from the last checkpoint (iteration ${checkpoint.globalIteration}).`
                : 'No checkpoint was saved yet; start again.'}
            </span>
          )}
          <span className="banner-actions">
            {engineLost && checkpoint && (
              <button className="small primary" onClick={() => c.run.resumeFromCheckpoint()} data-testid="resume-after-loss">
                Resume from checkpoint
              </button>
            )}
            <button className="small ghost" onClick={() => c.dismissError()} aria-label="Dismiss">
              ✕
            </button>
          </span>
        </div>
      )}
      {notice && (
        <div className="banner info-banner" role="status" data-testid="notice">
          {notice}
          <span className="banner-actions">
            <button className="small ghost" onClick={() => c.dismissNotice()} aria-label="Dismiss">
              ✕
            </button>
          </span>
        </div>
      )}
    </div>
  );
}

/** The studio layout: header with the capability report, models + reference on the left, the orbit
 * viewer and multi-view strip in the centre, adaptation and outputs on the right. */
import { useEffect } from 'react';
import { CapabilityReport, CapabilitySummary } from './components/CapabilityReport.tsx';
import { ModelsPanel } from './components/ModelsPanel.tsx';
import { ReferencePanel } from './components/ReferencePanel.tsx';
import { AdaptPanel } from './components/AdaptPanel.tsx';
import { OutputsPanel } from './components/OutputsPanel.tsx';
import { MixPanel } from './components/MixPanel.tsx';
import { MultiViewStrip } from './components/MultiViewStrip.tsx';
import { EvaluatePanel } from './components/EvaluatePanel.tsx';
import { VideoPanel } from './components/VideoPanel.tsx';
import { Notices } from './components/Notices.tsx';
import { Viewer } from './viewer/Viewer.tsx';
import { useStudio } from './context.ts';

export function App() {
  const persistent = useStudio((s) => s.persistent);
  const generatorReady = useStudio((s) => s.generator !== null);
  const encoderReady = useStudio((s) => s.encoders.length > 0);

  // A file dropped outside the drop zones must not navigate away from the studio (losing the run).
  useEffect(() => {
    const stop = (e: DragEvent) => e.preventDefault();
    window.addEventListener('dragover', stop);
    window.addEventListener('drop', stop);
    return () => {
      window.removeEventListener('dragover', stop);
      window.removeEventListener('drop', stop);
    };
  }, []);

  return (
    <div className="app" data-testid="studio" data-ready={generatorReady && encoderReady}>
      <header className="topbar">
        <div className="brand">
          <span className="logo" aria-hidden>
            ◈
          </span>
          <div>
            <h1>Adapter3D Studio</h1>
            <div className="tagline">One-shot 3D domain adaptation of EG3D (3D-Adapter, Li et al.) — in your browser</div>
          </div>
        </div>
        <CapabilityReport />
      </header>
      <Notices />
      <main className="layout">
        <aside className="column left">
          <ReferencePanel />
          <ModelsPanel />
        </aside>
        <div className="column centre">
          <Viewer />
          <MultiViewStrip />
          <EvaluatePanel />
        </div>
        <aside className="column right">
          <AdaptPanel />
          <OutputsPanel />
          <VideoPanel />
          <MixPanel />
        </aside>
      </main>
      <footer className="statusbar">
        <CapabilitySummary />
        <span className="muted">{persistent ? 'Work is saved in this browser' : 'Storage unavailable: work is not saved across reloads'}</span>
      </footer>
    </div>
  );
}

/**
 * Outputs: adapted weights (.safetensors, full .pkl when the base is a pickle) and re-loading them; the
 * viewer latent's mesh (GLB / PLY; the adapted weights' when there are any, else the source's).
 */
import { useState } from 'react';
import { useController, useStudio } from '../context.ts';
import { downloadBlob } from '../grid.ts';
import { errorMessage } from '../state/controller.ts';
import { isActive } from '../state/studio-store.ts';
import { formatBytes } from '../state/format.ts';
import type { MeshFormat } from '../../engine/types.ts';
import { DropZone } from './DropZone.tsx';

function baseName(name: string): string {
  return name.replace(/\.[^.]+$/, '').replace(/[^\w.-]+/g, '_') || 'generator';
}

export function OutputsPanel() {
  const c = useController();
  const generator = useStudio((s) => s.generator);
  const adaptedAvailable = useStudio((s) => s.adaptedAvailable);
  const state = useStudio((s) => s.run.state);
  const iteration = useStudio((s) => s.run.globalIteration);
  const meshStatus = useStudio((s) => s.mesh.status);
  const meshResolution = useStudio((s) => s.mesh.resolution);
  const [status, setStatus] = useState<{ text: string; error: boolean } | null>(null);
  const running = state === 'running' || state === 'preparing';
  const fromPickle = generator?.origin === 'file' && generator.name.toLowerCase().endsWith('.pkl');

  async function save(kind: 'safetensors' | 'pkl') {
    setStatus({ text: kind === 'pkl' ? 'Writing the EG3D pickle…' : 'Exporting the adapted weights…', error: false });
    try {
      const bytes = kind === 'pkl' ? await c.run.exportPickle() : await c.run.exportSafetensors();
      const name = `${baseName(generator?.name ?? 'generator')}-adapted-it${iteration}.${kind}`;
      downloadBlob(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }), name);
      setStatus({ text: `Saved ${name} (${formatBytes(bytes.byteLength)}).`, error: false });
    } catch (e) {
      setStatus({ text: `Export failed: ${errorMessage(e)}`, error: true });
    }
  }

  async function saveMesh(format: MeshFormat) {
    setStatus({ text: `Extracting the mesh (${meshResolution}³ grid)…`, error: false });
    try {
      const out = await c.mesh.exportFile(format);
      if (!out) {
        const st = c.store.getState().mesh;
        setStatus({ text: st.status === 'cancelled' ? 'Mesh extraction cancelled.' : `Mesh export failed: ${st.error ?? 'no mesh'}`, error: st.status !== 'cancelled' });
        return;
      }
      downloadBlob(new Blob([out.bytes as Uint8Array<ArrayBuffer>], { type: format === 'glb' ? 'model/gltf-binary' : 'application/octet-stream' }), out.name);
      setStatus({ text: `Saved ${out.name} (${formatBytes(out.bytes.byteLength)}): ${out.mesh.vertices} vertices, ${out.mesh.faces} faces.`, error: false });
    } catch (e) {
      setStatus({ text: `Mesh export failed: ${errorMessage(e)}`, error: true });
    }
  }

  return (
    <section className="panel" aria-labelledby="outputs-title" data-testid="outputs-panel">
      <h2 id="outputs-title">Outputs</h2>
      <div className="controls">
        <button onClick={() => void save('safetensors')} disabled={!adaptedAvailable || running} data-testid="download-safetensors">
          ⤓ Adapted weights (.safetensors)
        </button>
        {fromPickle && (
          <button onClick={() => void save('pkl')} disabled={!adaptedAvailable || running} data-testid="download-pkl">
            ⤓ Full EG3D pickle (.pkl)
          </button>
        )}
        <button onClick={() => void saveMesh('glb')} disabled={!generator || isActive(state) || meshStatus === 'running'} data-testid="download-glb">
          ⤓ Mesh (.glb)
        </button>
        <button onClick={() => void saveMesh('ply')} disabled={!generator || isActive(state) || meshStatus === 'running'} data-testid="download-ply">
          ⤓ Mesh (.ply)
        </button>
      </div>
      <div className="muted small-text">
        Only Tri-D (<code>decoder.*</code>) and G2 (<code>superresolution.*</code>) change; the .safetensors holds just those,
        with the official key names, and loads only onto the same base generator.
        {running ? ' Pause or stop the run to export.' : ''} The mesh is the viewer&apos;s latent ({adaptedAvailable ? 'adapted' : 'source'}{' '}
        weights) at the grid chosen in the viewer&apos;s Mesh mode ({meshResolution}³), with vertex colours.
      </div>
      <DropZone
        testId="import-drop"
        accept=".safetensors"
        label="Load adapted weights (.safetensors)"
        hint="a file downloaded from this studio, for the current base generator"
        disabled={isActive(state) || !generator}
        compact
        onFile={(f) => void c.run.importAdapted(f, f.name)}
      />
      {status && (
        <div className={status.error ? 'error' : 'muted small-text'} role={status.error ? 'alert' : 'status'} data-testid="outputs-status">
          {status.text}
        </div>
      )}
      <p className="licence-note">
        Adapted weights of an NVIDIA EG3D checkpoint are derivative works: non-commercial use only (NVIDIA Source Code
        License §3.3).
      </p>
    </section>
  );
}

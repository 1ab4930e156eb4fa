/**
 * Multi-view strip: a few fixed latents × 5 yaws. While training it shows the engine's live previews;
 * otherwise it renders its own latents (re-rollable with "New faces"). Clicking a cell sends that latent
 * and yaw to the orbit viewer.
 */
import { useEffect, useRef, useState } from 'react';
import type { RgbaImage } from '../../engine/types.ts';
import { useController, useStudio, useStudioContext } from '../context.ts';
import { composeGrid, downloadBlob, drawRgba, previewRows, rgbaToPngBlob } from '../grid.ts';
import { isActive, STRIP_YAWS } from '../state/studio-store.ts';
import { errorMessage } from '../state/controller.ts';

function Cell({ img, label, onClick }: { img: RgbaImage | null; label: string; onClick: () => void }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (img && ref.current) drawRgba(ref.current, img);
  }, [img]);
  return (
    <button className={`strip-cell${img ? '' : ' empty'}`} onClick={onClick} aria-label={label} title={img ? label : `${label} (rendering…)`} aria-busy={!img}>
      <canvas ref={ref} width={64} height={64} />
    </button>
  );
}

export function MultiViewStrip() {
  const c = useController();
  const { renders } = useStudioContext();
  const v = useStudio((s) => s.viewer);
  const generatorId = useStudio((s) => s.generator?.id ?? null);
  const preview = useStudio((s) => s.preview);
  const active = useStudio((s) => isActive(s.run.state));
  const adaptedAvailable = useStudio((s) => s.adaptedAvailable);
  const version = useStudio((s) => s.weightsVersion);
  // The strip's own renders, for one generator: another generator's faces are never shown (not even
  // for the moment before its renders arrive).
  const [own, setOwn] = useState<{ generatorId: string | null; images: Record<string, RgbaImage> }>({ generatorId: null, images: {} });
  const ownImages = own.generatorId === generatorId ? own.images : {};
  const [busy, setBusy] = useState<string | null>(null);
  const showAdapted = adaptedAvailable && v.view !== 'source';
  const strength = showAdapted ? v.strength : 0;
  const live = active && preview !== null;

  // Own renders only while no run is active: during a run the engine's previews fill the strip, and extra
  // renders would take worker time from training. They queue behind the main view.
  useEffect(() => {
    if (!generatorId || active) return;
    let alive = true;
    const context = { generatorId, weightsVersion: version };
    v.stripSeeds.forEach((seed, i) =>
      STRIP_YAWS.forEach((yaw, j) => {
        const slot = `strip-${i}-${j}`;
        void renders.request(slot, { seed, yaw, pitch: 0, psi: v.psi, mode: v.mode, strength }, context, 'low').then((img) => {
          if (!alive || !img) return;
          const key = `${seed}|${yaw}|${strength}|${v.mode}`;
          setOwn((o) => ({ generatorId, images: { ...(o.generatorId === generatorId ? o.images : {}), [key]: img } }));
        });
      }),
    );
    return () => {
      alive = false;
      // Superseded strip renders must not hold up the worker (e.g. once training starts).
      renders.cancel((slot) => slot.startsWith('strip-'));
    };
  }, [generatorId, active, v.stripSeeds, v.psi, v.mode, strength, version, renders]);

  let rows: Array<{ seed: number; cells: Array<{ img: RgbaImage | null; yaw: number }> }>;
  if (live && preview) {
    rows = previewRows<RgbaImage | null>(showAdapted ? preview.adapted : preview.source, preview.seeds, preview.yaws);
  } else {
    rows = v.stripSeeds.map((seed) => ({
      seed,
      cells: STRIP_YAWS.map((yaw) => ({ img: ownImages[`${seed}|${yaw}|${strength}|${v.mode}`] ?? null, yaw })),
    }));
  }

  async function downloadGrid() {
    if (!generatorId) return;
    const context = { generatorId, weightsVersion: version };
    setBusy('Rendering the grid…');
    try {
      const shown = live && preview ? previewRows(preview.source, preview.seeds, preview.yaws) : null;
      const seeds = shown ? shown.map((r) => r.seed) : v.stripSeeds;
      const yaws = shown ? shown[0].cells.map((c) => c.yaw) : STRIP_YAWS;
      const gridRows: Array<Array<RgbaImage | null>> = [];
      for (const [i, seed] of seeds.entries()) {
        const kinds = adaptedAvailable ? [0, v.strength] : [0];
        for (const s of kinds) {
          const row: Array<RgbaImage | null> = [];
          for (const [j, yaw] of yaws.entries()) {
            row.push(await renders.request(`grid-${i}-${j}-${s}`, { seed, yaw, pitch: 0, psi: v.psi, mode: v.mode, strength: s }, context, 'low'));
          }
          gridRows.push(row);
        }
      }
      // A request answers null only when the generator changed meanwhile: a grid of two generators is no grid.
      if (gridRows.some((row) => row.includes(null))) {
        setBusy('The generator changed while the grid was rendering; download it again.');
        return;
      }
      const blob = await rgbaToPngBlob(composeGrid(gridRows));
      downloadBlob(blob, `adapter3d-multiview-${adaptedAvailable ? 'source-vs-adapted' : 'source'}.png`);
      setBusy(null);
    } catch (e) {
      setBusy(`Could not make the grid: ${errorMessage(e)}`);
    }
  }

  return (
    <section className="strip-panel" aria-labelledby="strip-title" data-testid="multiview-strip" data-live={live}>
      <div className="row between">
        <h2 id="strip-title">
          Multi-view <span className="muted">{live ? '· live training preview' : `· ${showAdapted ? 'adapted' : 'source'}`}</span>
        </h2>
        <div className="row">
          <button className="small" onClick={() => c.viewer.rerollFaces()} disabled={live} data-testid="reroll">
            ⟳ New faces
          </button>
          <button className="small" onClick={() => void downloadGrid()} disabled={!generatorId || busy === 'Rendering the grid…'} data-testid="download-grid">
            ⤓ Grid PNG
          </button>
        </div>
      </div>
      {busy && <div className="muted small-text">{busy}</div>}
      <div className="strip">
        {rows.map((r, i) => (
          <div className="strip-row" key={`${r.seed}-${i}`}>
            <span className="strip-seed mono">seed {r.seed}</span>
            {r.cells.map((cell, j) => (
              <Cell
                key={j}
                img={cell.img}
                label={`Seed ${r.seed}, yaw ${cell.yaw.toFixed(2)} rad — show in the viewer`}
                onClick={() => c.viewer.update({ seed: r.seed, yaw: cell.yaw, pitch: 0 })}
              />
            ))}
          </div>
        ))}
      </div>
    </section>
  );
}

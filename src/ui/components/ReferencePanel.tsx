/** Reference image: drop / pick / paste, a movable square crop, the example gallery. */
import { useEffect, useRef, useState } from 'react';
import { useController, useStudio } from '../context.ts';
import { moveCrop, resizeCrop, rotateCrop } from '../reference/crop.ts';
import { EXAMPLES, drawExample } from '../examples/index.ts';
import { drawRgba } from '../grid.ts';
import type { ReferenceState } from '../state/studio-store.ts';
import { DropZone } from './DropZone.tsx';

const PREVIEW_MAX = 300;

function ExampleThumb({ id, label, onPick, disabled }: { id: string; label: string; onPick: () => void; disabled: boolean }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current?.getContext('2d');
    if (ctx) drawExample(id, ctx, ref.current!.width);
  }, [id]);
  return (
    <button className="example" onClick={onPick} disabled={disabled} data-testid={`example-${id}`} aria-label={`Use the example reference: ${label}`}>
      <canvas ref={ref} width={96} height={96} />
      <span>{label}</span>
    </button>
  );
}

function CropEditor({ reference }: { reference: ReferenceState }) {
  const c = useController();
  const canvas = useRef<HTMLCanvasElement>(null);
  const drag = useRef<{ x: number; y: number } | null>(null);
  const { image, crop } = reference;
  const scale = Math.min(PREVIEW_MAX / image.width, PREVIEW_MAX / image.height);
  const w = Math.round(image.width * scale), h = Math.round(image.height * scale);

  // The image, dimmed outside the crop square.
  useEffect(() => {
    const cv = canvas.current;
    const ctx = cv?.getContext('2d');
    if (!cv || !ctx) return;
    ctx.clearRect(0, 0, cv.width, cv.height);
    ctx.drawImage(image.bitmap as ImageBitmap, 0, 0, cv.width, cv.height);
    ctx.fillStyle = 'rgba(8,10,14,0.62)';
    ctx.beginPath();
    ctx.rect(0, 0, cv.width, cv.height);
    // The crop square, turned about its centre when the face-aware crop levels the eyes.
    const a = crop.angle ?? 0;
    const cx = (crop.x + crop.size / 2) * scale, cy = (crop.y + crop.size / 2) * scale, r = (crop.size / 2) * scale;
    [[-1, -1], [1, -1], [1, 1], [-1, 1]].forEach(([u, v], i) => {
      const px = cx + r * (u * Math.cos(a) - v * Math.sin(a)), py = cy + r * (u * Math.sin(a) + v * Math.cos(a));
      if (i === 0) ctx.moveTo(px, py);
      else ctx.lineTo(px, py);
    });
    ctx.closePath();
    ctx.fill('evenodd');
  }, [image, crop, scale, w, h]);
  const landmarks = reference.face?.landmarks;

  return (
    <div className="crop-editor" style={{ width: w, height: h }}>
      <canvas ref={canvas} width={w} height={h} className="crop-canvas" data-testid="crop-canvas" />
      <div
        className="crop-box"
        data-testid="crop-box"
        role="slider"
        aria-label="Crop position (drag to move, arrow keys to nudge)"
        aria-valuetext={`x ${crop.x}, y ${crop.y}, size ${crop.size}`}
        tabIndex={0}
        style={{ left: crop.x * scale, top: crop.y * scale, width: crop.size * scale, height: crop.size * scale, transform: crop.angle ? `rotate(${crop.angle}rad)` : undefined }}
        onPointerDown={(e) => {
          e.currentTarget.setPointerCapture(e.pointerId);
          drag.current = { x: e.clientX, y: e.clientY };
        }}
        onPointerMove={(e) => {
          if (!drag.current) return;
          const dx = e.clientX - drag.current.x, dy = e.clientY - drag.current.y;
          drag.current = { x: e.clientX, y: e.clientY };
          const current = c.store.getState().reference?.crop ?? crop;
          c.reference.previewCrop(moveCrop(current, dx, dy, scale, image.width, image.height));
        }}
        onPointerUp={() => {
          if (!drag.current) return;
          drag.current = null;
          void c.reference.commitCrop();
        }}
        onKeyDown={(e) => {
          const step = e.shiftKey ? 20 : 4;
          const d = ({ ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] } as Record<string, number[]>)[e.key];
          if (!d) return;
          e.preventDefault();
          c.reference.previewCrop(moveCrop(crop, d[0], d[1], scale, image.width, image.height));
        }}
        onKeyUp={(e) => {
          if (e.key.startsWith('Arrow')) void c.reference.commitCrop();
        }}
      />
      {landmarks && (
        <svg className="face-landmarks" width={w} height={h} viewBox={`0 0 ${w} ${h}`} data-testid="face-landmarks" data-count={landmarks.length} aria-hidden>
          {landmarks.map((p, i) => (
            <circle key={i} cx={p.x * scale} cy={p.y * scale} r={1.6} />
          ))}
        </svg>
      )}
    </div>
  );
}

function CroppedPreview() {
  const c = useController();
  const ref = useStudio((s) => s.reference);
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const img = ref && c.reference.croppedReference(128);
    if (img && canvas.current) drawRgba(canvas.current, img);
  }, [ref, c]);
  return <canvas ref={canvas} className="cropped" data-testid="reference-cropped" aria-label="The square reference the engine uses" />;
}

export function ReferencePanel() {
  const c = useController();
  const ref = useStudio((s) => s.reference);
  const error = useStudio((s) => s.referenceError);
  const busy = useStudio((s) => s.referenceBusy);
  const [pasteHint, setPasteHint] = useState(false);

  // Paste an image from the clipboard anywhere on the page (outside text fields).
  useEffect(() => {
    const onPaste = (e: ClipboardEvent) => {
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA')) return;
      const file = [...(e.clipboardData?.files ?? [])][0];
      if (!file) return;
      e.preventDefault();
      setPasteHint(true);
      void c.reference.setReferenceFile(file, file.name || 'pasted image');
    };
    window.addEventListener('paste', onPaste);
    return () => window.removeEventListener('paste', onPaste);
  }, [c]);

  return (
    <section className="panel" aria-labelledby="reference-title" data-testid="reference-panel">
      <h2 id="reference-title">Reference</h2>
      <DropZone
        testId="reference-drop"
        accept="image/*"
        label={ref ? 'Drop another image to replace' : 'Drop a reference image here'}
        hint={<>or click to choose · or paste (Ctrl+V){pasteHint ? ' ✓' : ''}</>}
        compact={ref !== null}
        onFile={(f) => c.reference.setReferenceFile(f, f.name)}
      />
      {busy && <div className="muted">Decoding…</div>}
      {error && (
        <div className="error" role="alert" data-testid="reference-error">
          {error}
        </div>
      )}
      {ref && (
        <div className="reference" data-testid="reference-ready" data-applied={ref.applied}>
          <CropEditor reference={ref} />
          <div className="crop-side">
            <CroppedPreview />
            <div className="reference-meta">
              <div className="model-name" title={ref.image.name}>
                {ref.image.name}
              </div>
              <div className="muted">
                {ref.image.originalWidth}×{ref.image.originalHeight}
                {ref.image.scaled ? ` (shown at ${ref.image.width}×${ref.image.height})` : ''}
              </div>
              <div className="muted">
                crop {Math.round(ref.crop.size)}² at ({Math.round(ref.crop.x)}, {Math.round(ref.crop.y)}){ref.crop.angle ? `, tilted ${((ref.crop.angle * 180) / Math.PI).toFixed(1)}°` : ''}
              </div>
              {ref.face && (
                <div className={ref.face.status === 'none' ? 'warning small-text' : 'muted small-text'} role={ref.face.status === 'none' ? 'alert' : 'status'} data-testid="face-status" data-status={ref.face.status}>
                  {ref.face.status === 'detecting' ? 'Looking for a face…' : ref.face.message}
                </div>
              )}
              {ref.face?.proposal && (
                <button className="small" onClick={() => void c.reference.useFaceCrop()} data-testid="use-face-crop">
                  Use the face crop
                </button>
              )}
              <label className="field">
                <span>Crop size</span>
                <input
                  type="range"
                  min={5}
                  max={100}
                  value={Math.round((ref.crop.size / Math.min(ref.image.width, ref.image.height)) * 100)}
                  onChange={(e) => c.reference.previewCrop(resizeCrop(ref.crop, Number(e.target.value) / 100, ref.image.width, ref.image.height))}
                  onPointerUp={() => void c.reference.commitCrop()}
                  onKeyUp={() => void c.reference.commitCrop()}
                  aria-label="Crop size"
                  data-testid="crop-size"
                />
              </label>
              <label className="field">
                <span>Tilt</span>
                <input
                  type="range"
                  min={-45}
                  max={45}
                  step={0.5}
                  value={((ref.crop.angle ?? 0) * 180) / Math.PI}
                  onChange={(e) => c.reference.previewCrop(rotateCrop(ref.crop, (Number(e.target.value) * Math.PI) / 180, ref.image.width, ref.image.height))}
                  onPointerUp={() => void c.reference.commitCrop()}
                  onKeyUp={() => void c.reference.commitCrop()}
                  aria-label="Crop tilt (degrees)"
                  data-testid="crop-tilt"
                />
              </label>
            </div>
          </div>
        </div>
      )}
      <div className="examples" role="group" aria-label="Example references">
        {EXAMPLES.map((e) => (
          <ExampleThumb key={e.id} id={e.id} label={e.label} disabled={busy} onPick={() => c.reference.useExample(e.id)} />
        ))}
      </div>
    </section>
  );
}

/**
 * The orbit viewer: a @react-three/fiber canvas showing the engine's neural render for the current
 * camera as a texture. Drag orbits (yaw/pitch clamped to EG3D's valid range), the wheel zooms, and a
 * shader composites source and adapted renders for the before/after split. The Mesh mode
 * (MeshView.tsx) shows the extracted meshes instead.
 */
import { useEffect, useMemo, useRef, useState } from 'react';
import { Canvas, useThree } from '@react-three/fiber';
import * as THREE from 'three';
import type { RgbaImage } from '../../engine/types.ts';
import { useController, useStudio, useStudioContext } from '../context.ts';
import { orbitDrag, wheelZoom } from './orbit.ts';
import { displayScale, pixelAlignOffset } from './scale.ts';
import type { ViewChoice } from '../state/studio-store.ts';
import { MeshView } from './MeshView.tsx';

const VERTEX = /* glsl */ `
varying vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

// uView: 0 = source only, 1 = adapted only, 2 = split (source left of uSplit, adapted right).
// Enlarged renders are filtered with Catmull-Rom (16 texel-centre taps at mip 0), clamped to the 2×2
// neighbourhood so edges do not ring: sharper than bilinear without nearest-neighbour's staircase.
// Reduced renders use the mipmaps (the scale is then 1/2ⁿ, an exact level).
const FRAGMENT = /* glsl */ `
uniform sampler2D uSource;
uniform sampler2D uAdapted;
uniform float uHasSource;
uniform float uHasAdapted;
uniform int uView;
uniform float uSplit;
uniform float uWidth;
uniform vec2 uTexSize;
uniform float uEnlarge;
varying vec2 vUv;

vec4 tap(sampler2D tex, vec2 texel) {
  return textureLod(tex, (texel + 0.5) / uTexSize, 0.0);
}

vec4 catmullRom(sampler2D tex, vec2 uv) {
  vec2 p = uv * uTexSize - 0.5;
  vec2 i = floor(p);
  vec2 f = p - i;
  vec2 w[4];
  w[0] = f * (-0.5 + f * (1.0 - 0.5 * f));
  w[1] = 1.0 + f * f * (-2.5 + 1.5 * f);
  w[2] = f * (0.5 + f * (2.0 - 1.5 * f));
  w[3] = f * f * (-0.5 + 0.5 * f);
  vec4 sum = vec4(0.0);
  vec4 lo = vec4(1.0);
  vec4 hi = vec4(0.0);
  for (int y = 0; y < 4; y++) {
    for (int x = 0; x < 4; x++) {
      vec4 c = tap(tex, i + vec2(float(x - 1), float(y - 1)));
      sum += c * (w[x].x * w[y].y);
      if (x == 1 || x == 2) {
        if (y == 1 || y == 2) {
          lo = min(lo, c);
          hi = max(hi, c);
        }
      }
    }
  }
  return clamp(sum, lo, hi);
}

vec4 sampleRender(sampler2D tex, vec2 uv) {
  return uEnlarge > 0.5 ? catmullRom(tex, uv) : texture2D(tex, uv);
}

void main() {
  vec2 uv = vec2(vUv.x, 1.0 - vUv.y); // RgbaImage rows run top to bottom
  vec4 s = uHasSource > 0.5 ? sampleRender(uSource, uv) : vec4(0.08, 0.09, 0.11, 1.0);
  vec4 a = uHasAdapted > 0.5 ? sampleRender(uAdapted, uv) : s;
  float fx = gl_FragCoord.x / uWidth;
  vec4 c = uView == 0 ? s : (uView == 1 ? a : (fx < uSplit ? s : a));
  if (uView == 2 && abs(fx - uSplit) * uWidth < 1.0) c = vec4(1.0);
  gl_FragColor = vec4(c.rgb, 1.0);
}`;

function makeTexture(img: RgbaImage): THREE.DataTexture {
  const bytes = new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const t = new THREE.DataTexture(bytes, img.width, img.height, THREE.RGBAFormat, THREE.UnsignedByteType);
  t.magFilter = THREE.LinearFilter;
  t.minFilter = THREE.LinearMipmapLinearFilter;
  t.generateMipmaps = true;
  t.wrapS = t.wrapT = THREE.ClampToEdgeWrapping;
  t.colorSpace = THREE.NoColorSpace;
  t.needsUpdate = true;
  return t;
}

/** Owns one GPU texture for the latest image and disposes the previous one. */
function useTexture(img: RgbaImage | null): THREE.DataTexture | null {
  const tex = useMemo(() => (img ? makeTexture(img) : null), [img]);
  useEffect(() => () => tex?.dispose(), [tex]);
  return tex;
}

function RenderPlane(props: {
  source: RgbaImage | null;
  adapted: RgbaImage | null;
  view: ViewChoice;
  split: number;
  zoom: number;
  onScale: (scale: number) => void;
}) {
  const { size, invalidate, gl } = useThree();
  const src = useTexture(props.source);
  const ad = useTexture(props.adapted);
  const material = useMemo(
    () =>
      new THREE.ShaderMaterial({
        vertexShader: VERTEX,
        fragmentShader: FRAGMENT,
        uniforms: {
          uSource: { value: null },
          uAdapted: { value: null },
          uHasSource: { value: 0 },
          uHasAdapted: { value: 0 },
          uView: { value: 1 },
          uSplit: { value: 0.5 },
          uWidth: { value: 1 },
          uTexSize: { value: new THREE.Vector2(1, 1) },
          uEnlarge: { value: 1 },
        },
      }),
    [],
  );
  useEffect(() => () => material.dispose(), [material]);
  // The drawing buffer in device pixels; world units are CSS pixels (orthographic camera, zoom 1).
  const canvasW = gl.domElement.width || size.width;
  const canvasH = gl.domElement.height || size.height;
  const perPixel = size.width > 0 ? size.width / canvasW : 1;
  const shown = props.view === 'source' ? props.source : (props.adapted ?? props.source);
  const renderSize = shown?.width ?? 0;
  const scale = displayScale(renderSize, Math.min(canvasW, canvasH), props.zoom);
  const span = renderSize * scale; // device pixels
  const u = material.uniforms;
  u.uSource.value = src;
  u.uAdapted.value = ad;
  u.uHasSource.value = src ? 1 : 0;
  u.uHasAdapted.value = ad ? 1 : 0;
  u.uView.value = props.view === 'source' ? 0 : props.view === 'adapted' ? 1 : 2;
  u.uSplit.value = props.split;
  u.uWidth.value = canvasW;
  (u.uTexSize.value as THREE.Vector2).set(shown?.width ?? 1, shown?.height ?? 1);
  u.uEnlarge.value = scale >= 1 ? 1 : 0;
  useEffect(() => invalidate());
  const { onScale } = props;
  useEffect(() => onScale(scale), [onScale, scale]);
  if (!shown) return null;
  const side = span * perPixel;
  const x = pixelAlignOffset(canvasW, span) * perPixel;
  const y = pixelAlignOffset(canvasH, span) * perPixel;
  return (
    <mesh material={material} position={[x, -y, 0]}>
      <planeGeometry args={[side, side]} />
    </mesh>
  );
}

/**
 * A small 3D head-and-nose gizmo in the corner that turns with the camera, so the pose is readable at a
 * glance (the render itself is a flat texture of the engine's output).
 */
function PoseGizmo({ yaw, pitch }: { yaw: number; pitch: number }) {
  const { viewport } = useThree();
  const r = 26;
  const x = viewport.width / 2 - r - 16, y = -viewport.height / 2 + r + 40;
  // The head as seen from a camera at (yaw, pitch): it turns the opposite way.
  return (
    <group position={[x, y, 40]} rotation={[pitch, -yaw, 0]}>
      <mesh>
        <sphereGeometry args={[r, 16, 12]} />
        <meshBasicMaterial color="#7c9cff" wireframe transparent opacity={0.45} />
      </mesh>
      <mesh position={[0, 0, r + 7]} rotation={[Math.PI / 2, 0, 0]}>
        <coneGeometry args={[6, 16, 12]} />
        <meshBasicMaterial color="#e6e8ee" />
      </mesh>
    </group>
  );
}

/** "4×" for whole-number enlargements, "1/2×" for reductions. */
function formatScale(scale: number): string {
  return scale >= 1 ? `${scale}×` : `1/${Math.round(1 / scale)}×`;
}

/** A render and the generator that made it (a render of another generator is never shown). */
interface Shown {
  generatorId: string;
  img: RgbaImage;
}

export function Viewer() {
  const c = useController();
  const { renders } = useStudioContext();
  const v = useStudio((s) => s.viewer);
  const generatorId = useStudio((s) => s.generator?.id ?? null);
  const adaptedAvailable = useStudio((s) => s.adaptedAvailable);
  const version = useStudio((s) => s.weightsVersion);
  const display = useStudio((s) => s.mesh.display);
  const [sourceRender, setSource] = useState<Shown | null>(null);
  const [adaptedRender, setAdapted] = useState<Shown | null>(null);
  const [pending, setPending] = useState(0);
  const [scale, setScale] = useState(1);
  const box = useRef<HTMLDivElement>(null);
  const drag = useRef<{ x: number; y: number; yaw: number; pitch: number; mode: 'orbit' | 'split' } | null>(null);
  const source = sourceRender && sourceRender.generatorId === generatorId ? sourceRender.img : null;
  const adapted = adaptedAvailable && adaptedRender && adaptedRender.generatorId === generatorId ? adaptedRender.img : null;

  // Adapted weights gone (another generator, a new start): their last render must not come back with the next ones.
  useEffect(() => {
    if (!adaptedAvailable) setAdapted(null);
  }, [adaptedAvailable]);

  // Ask for the renders this view needs; the queue drops superseded requests while one is in flight.
  useEffect(() => {
    // Mesh mode shows the extracted meshes: no neural renders meanwhile (they would slow the extraction).
    if (!generatorId || display === 'mesh') return;
    const base = { seed: v.seed, yaw: v.yaw, pitch: v.pitch, psi: v.psi, mode: v.mode };
    const context = { generatorId, weightsVersion: version };
    const wantAdapted = adaptedAvailable && v.view !== 'source';
    const wantSource = v.view !== 'adapted' || !adaptedAvailable;
    let live = true;
    const track = (p: Promise<RgbaImage | null>, set: (shown: Shown) => void) => {
      setPending((n) => n + 1);
      void p.then((img) => {
        setPending((n) => n - 1);
        if (live && img) set({ generatorId, img });
      });
    };
    if (wantSource) track(renders.request('main-source', { ...base, strength: 0 }, context), setSource);
    if (wantAdapted) track(renders.request('main-adapted', { ...base, strength: v.strength }, context), setAdapted);
    return () => {
      live = false;
    };
  }, [generatorId, adaptedAvailable, version, v.seed, v.yaw, v.pitch, v.psi, v.mode, v.view, v.strength, renders, display]);

  // Wheel zoom needs a non-passive listener to keep the page from scrolling.
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const onWheel = (e: WheelEvent) => {
      e.preventDefault();
      c.viewer.update({ zoom: wheelZoom(c.store.getState().viewer.zoom, e.deltaY) });
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [c]);

  const shownView: ViewChoice = adaptedAvailable ? v.view : 'source';
  const deg = (r: number) => `${((r * 180) / Math.PI).toFixed(1)}°`;

  const displayToggle = (
    <div className="segmented" role="radiogroup" aria-label="Viewer mode">
      {(['neural', 'mesh'] as const).map((k) => (
        <button key={k} role="radio" aria-checked={display === k} className={display === k ? 'active' : ''} data-testid={`display-${k}`} onClick={() => c.mesh.setDisplay(k)}>
          {k === 'neural' ? 'Neural render' : 'Mesh'}
        </button>
      ))}
    </div>
  );

  if (display === 'mesh') {
    return (
      <section className="viewer-panel" aria-label="Orbit viewer" data-testid="viewer-panel">
        <div className="viewer-toolbar" role="toolbar" aria-label="Viewer mode">
          {displayToggle}
        </div>
        <MeshView />
      </section>
    );
  }

  return (
    <section className="viewer-panel" aria-label="Orbit viewer" data-testid="viewer-panel">
      <div className="viewer-toolbar" role="toolbar" aria-label="Viewer options">
        {displayToggle}
        <div className="segmented" role="radiogroup" aria-label="Weights shown">
          {(['source', 'adapted', 'split'] as const).map((k) => (
            <button
              key={k}
              role="radio"
              aria-checked={shownView === k}
              className={shownView === k ? 'active' : ''}
              disabled={k !== 'source' && !adaptedAvailable}
              title={k !== 'source' && !adaptedAvailable ? 'Available once training (or imported weights) gives adapted weights' : undefined}
              data-testid={`view-${k}`}
              onClick={() => c.viewer.update({ view: k })}
            >
              {k === 'source' ? 'Source' : k === 'adapted' ? 'Adapted' : 'Before / after'}
            </button>
          ))}
        </div>
        <div className="segmented" role="radiogroup" aria-label="Render type">
          {(['rgb', 'depth', 'raw'] as const).map((m) => (
            <button
              key={m}
              role="radio"
              aria-checked={v.mode === m}
              className={v.mode === m ? 'active' : ''}
              data-testid={`mode-${m}`}
              onClick={() => c.viewer.update({ mode: m })}
            >
              {m === 'rgb' ? 'RGB' : m === 'depth' ? 'Depth' : 'Raw neural'}
            </button>
          ))}
        </div>
        <label className="field inline">
          <span>Strength</span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={v.strength}
            disabled={!adaptedAvailable}
            onChange={(e) => c.viewer.update({ strength: Number(e.target.value) })}
            aria-label="Adaptation strength"
            data-testid="strength"
          />
          <span className="mono">{v.strength.toFixed(2)}</span>
        </label>
      </div>
      <div
        ref={box}
        className="viewer"
        data-testid="viewer"
        data-view={shownView}
        data-yaw={v.yaw.toFixed(4)}
        data-pitch={v.pitch.toFixed(4)}
        data-source-ready={source !== null}
        data-adapted-ready={adapted !== null}
        data-rendering={pending > 0}
        data-display-scale={scale}
        tabIndex={0}
        aria-label="Drag to orbit, wheel to zoom, arrow keys to turn"
        onKeyDown={(e) => {
          const step = 0.05;
          const d = ({ ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] } as Record<string, number[]>)[e.key];
          if (!d) return;
          e.preventDefault();
          c.viewer.update({ yaw: v.yaw + d[0], pitch: v.pitch + d[1] });
        }}
        onPointerDown={(e) => {
          const onHandle = (e.target as HTMLElement).dataset.role === 'split-handle';
          e.currentTarget.setPointerCapture(e.pointerId);
          drag.current = { x: e.clientX, y: e.clientY, yaw: v.yaw, pitch: v.pitch, mode: onHandle ? 'split' : 'orbit' };
        }}
        onPointerMove={(e) => {
          const d = drag.current;
          if (!d) return;
          const rect = e.currentTarget.getBoundingClientRect();
          if (d.mode === 'split') {
            c.viewer.update({ split: (e.clientX - rect.left) / rect.width });
          } else {
            c.viewer.update(orbitDrag(d, e.clientX - d.x, e.clientY - d.y, Math.min(rect.width, rect.height)));
          }
        }}
        onPointerUp={() => (drag.current = null)}
        onPointerCancel={() => (drag.current = null)}
        onDoubleClick={() => c.viewer.update({ yaw: 0, pitch: 0, zoom: 1 })}
      >
        <Canvas
          orthographic
          flat
          linear
          frameloop="demand"
          dpr={[1, 2]}
          gl={{ antialias: false, powerPreference: 'low-power' }}
          camera={{ position: [0, 0, 100], zoom: 1, near: 0.1, far: 1000 }}
        >
          <RenderPlane source={source} adapted={adapted} view={shownView} split={v.split} zoom={v.zoom} onScale={setScale} />
          <PoseGizmo yaw={v.yaw} pitch={v.pitch} />
        </Canvas>
        {shownView === 'split' && (
          <>
            <div className="split-handle" data-role="split-handle" data-testid="split-handle" style={{ left: `${v.split * 100}%` }} aria-hidden />
            <span className="viewer-tag left">Source</span>
            <span className="viewer-tag right">Adapted</span>
          </>
        )}
        {shownView !== 'split' && <span className="viewer-tag left">{shownView === 'source' ? 'Source' : 'Adapted'}</span>}
        <div className="viewer-readout mono" data-testid="viewer-readout">
          yaw {deg(v.yaw)} · pitch {deg(v.pitch)}{source || adapted ? ` · ${formatScale(scale)}` : ''} · seed {v.seed}
          {pending > 0 ? ' · rendering…' : ''}
        </div>
        {!generatorId && <div className="viewer-empty">Loading the generator…</div>}
        {generatorId && !source && !adapted && <div className="viewer-empty">Rendering…</div>}
      </div>
      <div className="viewer-help muted small-text">
        Drag to orbit (yaw ±34°, pitch ±20°, EG3D's reliable range) · wheel to zoom · double-click to reset
        {!adaptedAvailable && ' · adapted views appear once training starts'}
      </div>
    </section>
  );
}

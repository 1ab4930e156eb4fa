/**
 * The viewer's Mesh mode: the engine's extracted meshes (density grid → marching cubes at EG3D's level
 * 10, vertex colours from the decoder's raw RGB) as lit three.js objects under drei's OrbitControls —
 * source and adapted side by side, or one of them — with the neural view's pose range as orbit limits
 * (switchable off to look all around). World frame as EG3D's: y up, the face toward +z.
 */
import { useEffect, useMemo, useRef } from 'react';
import { Canvas, useThree } from '@react-three/fiber';
import { OrbitControls } from '@react-three/drei';
import * as THREE from 'three';
import type { ExtractedMesh } from '../../engine/types.ts';
import { useController, useStudio } from '../context.ts';
import { currentMesh, MAX_MESH_SMOOTHING, MESH_RESOLUTIONS, shownMeshWeights, type MeshShow, type MeshWeights } from '../state/mesh-slice.ts';
import { PITCH_LIMIT, YAW_LIMIT } from '../state/studio-store.ts';
import { ProgressBar } from '../components/ProgressBar.tsx';

/** sRGB byte → linear float (the vertex colours are sRGB; three.js shades in linear light). */
const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

function geometryOf(m: ExtractedMesh): THREE.BufferGeometry {
  const g = new THREE.BufferGeometry();
  g.setAttribute('position', new THREE.BufferAttribute(m.positions, 3));
  g.setAttribute('normal', new THREE.BufferAttribute(m.normals, 3));
  const colors = new Float32Array(m.colors.length);
  for (let i = 0; i < colors.length; i++) colors[i] = SRGB_TO_LINEAR[m.colors[i]];
  g.setAttribute('color', new THREE.BufferAttribute(colors, 3));
  g.setIndex(new THREE.BufferAttribute(m.indices, 1));
  g.computeBoundingSphere();
  return g;
}

function MeshObject({ mesh, x }: { mesh: ExtractedMesh; x: number }) {
  const geometry = useMemo(() => geometryOf(mesh), [mesh]);
  useEffect(() => () => geometry.dispose(), [geometry]);
  return (
    <mesh geometry={geometry} position={[x, 0, 0]}>
      <meshStandardMaterial vertexColors roughness={0.8} metalness={0} />
    </mesh>
  );
}

/** Puts the camera at `position` (looking at the orbit target) whenever it changes: one head or two side by side. */
function CameraPlacement({ position }: { position: THREE.Vector3 }) {
  const camera = useThree((st) => st.camera);
  const controls = useThree((st) => st.controls) as unknown as { update(): void; target: THREE.Vector3 } | null;
  const invalidate = useThree((st) => st.invalidate);
  useEffect(() => {
    camera.position.copy(position);
    camera.lookAt(0, 0, 0);
    controls?.target.set(0, 0, 0);
    controls?.update();
    invalidate();
  }, [camera, controls, position, invalidate]);
  return null;
}

const STAGES: Record<string, string> = { density: 'Sampling the density grid', surface: 'Marching cubes', colours: 'Vertex colours', consistency: 'Checking against the render' };

/** Spacing of the two heads side by side (world units; a head spans ≈ 0.6). */
const PAIR_OFFSET = 0.5;

export function MeshView() {
  const c = useController();
  const s = useStudio((st) => st);
  const m = s.mesh;
  const v = s.viewer;
  const box = useRef<HTMLDivElement>(null);
  const shown = shownMeshWeights(s);
  const meshes = shown.map((w) => ({ w, mesh: currentMesh(s, w) }));
  const ready = meshes.filter((x): x is { w: MeshWeights; mesh: ExtractedMesh } => x.mesh !== null);
  const pair = shown.length === 2;
  const distance = pair ? 4.4 : 2.7;
  // The camera starts where the neural view's camera is (yaw right, negative pitch up), again when one
  // head becomes two side by side or back.
  const start = useMemo(
    () => new THREE.Vector3(distance * Math.sin(v.yaw) * Math.cos(v.pitch), -distance * Math.sin(v.pitch), distance * Math.cos(v.yaw) * Math.cos(v.pitch)),
    // only where Mesh mode opens: orbiting does not follow later pose changes of the neural view
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [distance],
  );
  const missing = shown.some((w) => !currentMesh(s, w));
  const running = m.status === 'running';
  const p = m.progress;
  const stage = p ? `${STAGES[p.stage] ?? p.stage}${p.stage === 'density' ? ` ${Math.round((100 * p.done) / Math.max(1, p.total))} %` : '…'}` : 'Starting…';

  return (
    <div className="mesh-mode" data-testid="mesh-mode">
      <div className="viewer-toolbar" role="toolbar" aria-label="Mesh options">
        <div className="segmented" role="radiogroup" aria-label="Meshes shown">
          {(['source', 'adapted', 'side-by-side'] as MeshShow[]).map((k) => {
            const active = s.adaptedAvailable ? m.show === k : k === 'source';
            return (
              <button
                key={k}
                role="radio"
                aria-checked={active}
                className={active ? 'active' : ''}
                disabled={k !== 'source' && !s.adaptedAvailable}
                data-testid={`mesh-show-${k}`}
                onClick={() => c.mesh.setShow(k)}
              >
                {k === 'source' ? 'Source' : k === 'adapted' ? 'Adapted' : 'Side by side'}
              </button>
            );
          })}
        </div>
        <label className="field inline">
          <span>Grid</span>
          <select value={m.resolution} onChange={(e) => c.mesh.setResolution(Number(e.target.value))} disabled={running} data-testid="mesh-resolution" aria-label="Mesh grid resolution">
            {MESH_RESOLUTIONS.map((r) => (
              <option key={r} value={r}>
                {r}³
              </option>
            ))}
          </select>
        </label>
        <label className="field inline">
          <span>Smoothing</span>
          <input
            type="number"
            min={0}
            max={MAX_MESH_SMOOTHING}
            value={m.smoothing}
            disabled={running}
            onChange={(e) => c.mesh.setSmoothing(Number(e.target.value))}
            data-testid="mesh-smoothing"
            aria-label="Taubin smoothing passes"
            style={{ width: '4em' }}
          />
        </label>
        <label className="field inline" title="Keep the orbit within EG3D's reliable pose range, as the neural view does">
          <input type="checkbox" checked={m.poseLimits} onChange={(e) => c.mesh.setPoseLimits(e.target.checked)} data-testid="mesh-pose-limits" />
          <span>Pose limits</span>
        </label>
        {running ? (
          <button className="small" onClick={() => void c.mesh.cancel()} data-testid="mesh-cancel">
            Cancel
          </button>
        ) : (
          <button className="small" onClick={() => void c.mesh.ensureShown()} disabled={!missing || !s.generator} data-testid="mesh-extract">
            Extract
          </button>
        )}
      </div>
      <div
        ref={box}
        className="viewer"
        data-testid="mesh-view"
        data-meshes={ready.length}
        data-vertices={ready.map((x) => x.mesh.vertices).join(',')}
        data-azimuth="0"
        data-polar={(Math.PI / 2).toFixed(4)}
        aria-label="Drag to orbit the mesh, wheel to zoom"
      >
        <Canvas flat dpr={[1, 2]} camera={{ fov: 18, near: 0.05, far: 50, position: start.toArray() }} gl={{ antialias: true, preserveDrawingBuffer: true }}>
          <color attach="background" args={['#08090c']} />
          <hemisphereLight args={['#ffffff', '#334', 0.9]} />
          <directionalLight position={[1.5, 2, 3]} intensity={1.6} />
          <directionalLight position={[-2, 0.5, -1]} intensity={0.4} />
          {ready.map(({ w, mesh }) => (
            <MeshObject key={w} mesh={mesh} x={pair ? (w === 'source' ? -PAIR_OFFSET : PAIR_OFFSET) : 0} />
          ))}
          <CameraPlacement position={start} />
          <OrbitControls
            makeDefault
            target={[0, 0, 0]}
            enablePan={false}
            minDistance={1}
            maxDistance={8}
            minAzimuthAngle={m.poseLimits ? -YAW_LIMIT : -Infinity}
            maxAzimuthAngle={m.poseLimits ? YAW_LIMIT : Infinity}
            minPolarAngle={m.poseLimits ? Math.PI / 2 - PITCH_LIMIT : 0}
            maxPolarAngle={m.poseLimits ? Math.PI / 2 + PITCH_LIMIT : Math.PI}
            onChange={(e) => {
              const ctl = e?.target as unknown as { getAzimuthalAngle(): number; getPolarAngle(): number } | undefined;
              if (!ctl || !box.current) return;
              box.current.dataset.azimuth = ctl.getAzimuthalAngle().toFixed(4);
              box.current.dataset.polar = ctl.getPolarAngle().toFixed(4);
            }}
          />
        </Canvas>
        {pair && ready.length > 0 && (
          <>
            <span className="viewer-tag left">Source</span>
            <span className="viewer-tag right">Adapted</span>
          </>
        )}
        {!pair && ready.length > 0 && <span className="viewer-tag left">{shown[0] === 'source' ? 'Source' : 'Adapted'}</span>}
        <div className="viewer-readout mono" data-testid="mesh-readout">
          {ready.length
            ? ready.map(({ w, mesh }) => `${w}: ${mesh.vertices.toLocaleString('en')} vertices, ${mesh.faces.toLocaleString('en')} faces, ${mesh.seconds.total.toFixed(1)} s${mesh.consistency && mesh.consistency.pixels > 0 ? `, mesh vs rendered depth ${mesh.consistency.meanError.toFixed(3)}` : ''}`).join(' · ')
            : `seed ${v.seed} · ${m.resolution}³`}
        </div>
        {running && (
          <div className="viewer-empty" data-testid="mesh-progress">
            <div>
              {m.running === 'adapted' ? 'Adapted' : 'Source'} mesh, {m.resolution}³: {stage}
              <ProgressBar value={p?.stage === 'density' ? p.done : 0} max={p?.stage === 'density' ? p.total : 1} label="Mesh extraction" indeterminate={!p || p.stage !== 'density'} />
            </div>
          </div>
        )}
        {!running && missing && (
          <div className="viewer-empty">{m.status === 'cancelled' ? 'Extraction cancelled.' : 'No mesh for this latent and grid yet: Extract.'}</div>
        )}
      </div>
      <div className="viewer-help muted small-text">
        Marching cubes at EG3D&apos;s density level 10 over a {m.resolution}³ grid of the generator&apos;s box; colours are the neural render&apos;s
        raw RGB at each vertex. Drag to orbit{m.poseLimits ? ' (within the neural view’s pose range; untick Pose limits to look all around)' : ''} · wheel to zoom.
        {m.error && (
          <span className="error" role="alert" data-testid="mesh-error">
            {' '}
            {m.error}
          </span>
        )}
      </div>
    </div>
  );
}

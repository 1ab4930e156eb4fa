/**
 * Mesh slice: the viewer's "Mesh" mode and the mesh exports. Meshes are extracted by the engine
 * (`extractMesh`: the generator's density on an N³ grid, marching cubes at EG3D's level 10, vertex
 * colours, GLB and PLY written at once) for the viewer's latent (seed, ψ), with the base weights and —
 * when there are adapted weights — the adapted ones. A mesh belongs to what it was made from (generator,
 * weights version, seed, ψ, resolution, smoothing) and is extracted again when any of those changed.
 */
import { DEFAULT_MESH_RESOLUTION, type ExtractedMesh, type MeshFormat, type MeshProgressEvent } from '../../engine/types.ts';
import { errorKind, errorMessage, type SliceContext } from './slice-context.ts';
import { isActive, type StudioState } from './studio-store.ts';

/** Grid sizes offered in the studio (points per axis; time and memory grow as N³). */
export const MESH_RESOLUTIONS = [32, 64, 128, 192, 256] as const;
export const MAX_MESH_SMOOTHING = 10;

export type MeshWeights = 'source' | 'adapted';
export type MeshShow = MeshWeights | 'side-by-side';
export type ViewerDisplay = 'neural' | 'mesh';

/** What a mesh was made from. */
export interface MeshKey {
  generatorId: string;
  weights: MeshWeights;
  weightsVersion: number;
  seed: number;
  psi: number;
  resolution: number;
  smoothing: number;
}

export interface MeshState {
  /** The viewer shows the neural render (default) or the extracted meshes. */
  display: ViewerDisplay;
  resolution: number;
  smoothing: number;
  /** Which meshes Mesh mode shows (without adapted weights: the source). */
  show: MeshShow;
  /** Keep the mesh orbit within EG3D's reliable pose range (as the neural view); off = orbit freely. */
  poseLimits: boolean;
  status: 'idle' | 'running' | 'done' | 'cancelled' | 'error';
  /** The weights being extracted and the engine's last progress event. */
  running: MeshWeights | null;
  progress: Omit<MeshProgressEvent, 'type'> | null;
  source: { key: MeshKey; mesh: ExtractedMesh } | null;
  adapted: { key: MeshKey; mesh: ExtractedMesh } | null;
  error: string | null;
}

export function initialMesh(): MeshState {
  return {
    display: 'neural',
    resolution: DEFAULT_MESH_RESOLUTION,
    smoothing: 0,
    show: 'side-by-side',
    poseLimits: true,
    status: 'idle',
    running: null,
    progress: null,
    source: null,
    adapted: null,
    error: null,
  };
}

/** The key a mesh of `weights` must have to show the current state. */
export function currentMeshKey(s: StudioState, weights: MeshWeights): MeshKey | null {
  if (!s.generator) return null;
  return {
    generatorId: s.generator.id,
    weights,
    weightsVersion: weights === 'adapted' ? s.weightsVersion : 0,
    seed: s.viewer.seed,
    psi: s.viewer.psi,
    resolution: s.mesh.resolution,
    smoothing: s.mesh.smoothing,
  };
}

function sameKey(a: MeshKey | null, b: MeshKey | null): boolean {
  return !!a && !!b && (Object.keys(a) as (keyof MeshKey)[]).every((k) => a[k] === b[k]);
}

/** The held mesh of `weights` when it matches the current state, else null. */
export function currentMesh(s: StudioState, weights: MeshWeights): ExtractedMesh | null {
  const held = s.mesh[weights];
  return held && sameKey(held.key, currentMeshKey(s, weights)) ? held.mesh : null;
}

/** The weights Mesh mode shows now (the adapted ones only when they exist). */
export function shownMeshWeights(s: StudioState): MeshWeights[] {
  if (!s.adaptedAvailable) return ['source'];
  return s.mesh.show === 'side-by-side' ? ['source', 'adapted'] : [s.mesh.show];
}

/** Whether the engine can extract now (a generator, no model load, no run, no other extraction). */
export function canExtractMesh(s: StudioState): boolean {
  return s.generator !== null && s.loading === null && !isActive(s.run.state) && s.mesh.status !== 'running';
}

export class MeshSlice {
  constructor(private readonly ctx: SliceContext) {}

  private patch(p: Partial<MeshState>): void {
    this.ctx.set({ mesh: { ...this.ctx.s.mesh, ...p } });
  }

  /** Neural render or Mesh mode; entering Mesh mode extracts the meshes it shows that are missing. */
  setDisplay(display: ViewerDisplay): void {
    this.patch({ display });
    if (display === 'mesh') void this.ensureShown();
  }

  setResolution(n: number): void {
    const r = MESH_RESOLUTIONS.reduce((best, x) => (Math.abs(x - n) < Math.abs(best - n) ? x : best), DEFAULT_MESH_RESOLUTION);
    this.patch({ resolution: r });
  }

  setSmoothing(n: number): void {
    this.patch({ smoothing: Number.isFinite(n) ? Math.min(MAX_MESH_SMOOTHING, Math.max(0, Math.round(n))) : 0 });
  }

  setShow(show: MeshShow): void {
    this.patch({ show });
    if (this.ctx.s.mesh.display === 'mesh') void this.ensureShown();
  }

  setPoseLimits(on: boolean): void {
    this.patch({ poseLimits: on });
  }

  onProgress(e: MeshProgressEvent): void {
    if (this.ctx.s.mesh.status !== 'running') return;
    const { type: _, ...progress } = e;
    this.patch({ progress });
  }

  /** Extracts every mesh Mesh mode shows that does not match the current state (one after the other). */
  async ensureShown(): Promise<void> {
    for (const w of shownMeshWeights(this.ctx.s)) {
      if (currentMesh(this.ctx.s, w)) continue;
      const m = await this.extract(w);
      if (!m) return; // cancelled or failed: do not start the next
    }
  }

  /** The current mesh of `weights`, extracted first when needed; null when that failed or was cancelled. */
  async extract(weights: MeshWeights): Promise<ExtractedMesh | null> {
    const { ctx } = this;
    const have = currentMesh(ctx.s, weights);
    if (have) return have;
    const s = ctx.s;
    if (weights === 'adapted' && !s.adaptedAvailable) {
      this.patch({ error: 'There are no adapted weights yet: run an adaptation or load adapted weights.' });
      return null;
    }
    if (!canExtractMesh(s)) {
      this.patch({ error: s.mesh.status === 'running' ? 'A mesh is being extracted; wait for it or cancel it.' : 'Wait for the model load or the running adaptation to finish.' });
      return null;
    }
    const engine = ctx.engine;
    const key = currentMeshKey(s, weights)!;
    this.patch({ status: 'running', running: weights, progress: null, error: null });
    try {
      // No consistency render here (a full volume render per mesh; the CLI and the tests report it).
      const mesh = await engine.extractMesh({ seed: key.seed, psi: key.psi, weights, resolution: key.resolution, smoothing: key.smoothing, formats: ['glb', 'ply'], consistency: false });
      this.patch({ status: 'done', running: null, progress: null, [weights]: { key, mesh } });
      return mesh;
    } catch (e) {
      if (errorKind(e) === 'cancelled') this.patch({ status: 'cancelled', running: null, progress: null });
      else this.patch({ status: 'error', running: null, progress: null, error: errorMessage(e) });
      return null;
    }
  }

  /** Stops the extraction in progress (between grid chunks). */
  async cancel(): Promise<void> {
    try {
      await this.ctx.engine.cancelMesh();
    } catch (e) {
      this.patch({ error: errorMessage(e) });
    }
  }

  /**
   * The mesh file to download: the adapted weights' mesh when there are adapted weights, else the
   * source's, for the viewer's latent (extracted first when needed).
   */
  async exportFile(format: MeshFormat): Promise<{ bytes: Uint8Array; name: string; mesh: ExtractedMesh } | null> {
    const weights: MeshWeights = this.ctx.s.adaptedAvailable ? 'adapted' : 'source';
    const mesh = await this.extract(weights);
    const bytes = mesh?.files[format];
    if (!mesh || !bytes) return null;
    const r = mesh.request;
    return { bytes, mesh, name: `adapter3d-seed${r.seed}-${weights}-${r.resolution}.${format}` };
  }
}

import { describe, expect, it } from 'vitest';
import { EngineError, type ExtractedMesh, type MeshRequest } from '../../engine/types.ts';
import { boot, FakeEngine, tick } from './controller.test-doubles.ts';
import { canExtractMesh, currentMesh, initialMesh, shownMeshWeights } from './mesh-slice.ts';

/** A one-triangle "mesh" per request, recording the requests; `gate` holds extraction until released. */
class MeshEngine extends FakeEngine {
  requests: MeshRequest[] = [];
  gate: Promise<void> | null = null;
  cancelled = false;
  async extractMesh(request: MeshRequest): Promise<ExtractedMesh> {
    this.requests.push(request);
    this.cancelled = false;
    this.emit({ type: 'mesh-progress', stage: 'density', done: 0, total: request.resolution ** 3 });
    if (this.gate) await this.gate;
    if (this.cancelled) throw new EngineError('cancelled', 'the density sampling was cancelled');
    return {
      request,
      weights: request.weights,
      positions: new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]),
      indices: new Uint32Array([0, 1, 2]),
      normals: new Float32Array([0, 0, 1, 0, 0, 1, 0, 0, 1]),
      colors: new Uint8Array(9).fill(request.weights === 'source' ? 10 : 200),
      vertices: 3,
      faces: 1,
      bounds: { min: [0, 0, 0], max: [1, 1, 0] },
      level: 10,
      densityRange: [-5, 50],
      seconds: { density: 1, surface: 0, colours: 0, consistency: 0, total: 1 },
      consistency: null,
      files: { glb: new Uint8Array([0x67, 0x6c, 0x54, 0x46]), ply: new TextEncoder().encode('ply\n') },
    };
  }
  async cancelMesh() {
    this.cancelled = true;
  }
}

describe('mesh slice', () => {
  it('starts in the neural view at 256³ with pose limits on', () => {
    const m = initialMesh();
    expect([m.display, m.resolution, m.poseLimits, m.smoothing]).toEqual(['neural', 256, true, 0]);
  });

  it('entering Mesh mode extracts the source mesh for the viewer latent, with progress, and keeps it', async () => {
    const engine = new MeshEngine();
    const { c, store } = await boot(undefined, engine);
    let release!: () => void;
    engine.gate = new Promise((r) => (release = r));
    c.viewer.update({ seed: 5 });
    c.mesh.setResolution(60); // → the nearest offered size
    c.mesh.setDisplay('mesh');
    await tick();
    const s = store.getState();
    expect(s.mesh.display).toBe('mesh');
    expect(s.mesh.status).toBe('running');
    expect(s.mesh.progress).toEqual({ stage: 'density', done: 0, total: 64 ** 3 });
    expect(canExtractMesh(s)).toBe(false);
    expect(shownMeshWeights(s)).toEqual(['source']); // no adapted weights yet
    release();
    await tick();
    await tick();
    expect(engine.requests).toEqual([{ seed: 5, psi: 0.7, weights: 'source', resolution: 64, smoothing: 0, formats: ['glb', 'ply'], consistency: false }]);
    expect(store.getState().mesh.status).toBe('done');
    expect(currentMesh(store.getState(), 'source')?.vertices).toBe(3);
    // the same latent again: nothing new is extracted; another seed makes it stale
    await c.mesh.ensureShown();
    expect(engine.requests).toHaveLength(1);
    c.viewer.update({ seed: 6 });
    expect(currentMesh(store.getState(), 'source')).toBeNull();
    c.mesh.setSmoothing(2.6);
    expect(store.getState().mesh.smoothing).toBe(3);
    await c.mesh.ensureShown();
    expect(engine.requests[1]).toMatchObject({ seed: 6, smoothing: 3 });
  });

  it('side by side with adapted weights extracts both; new weights make the adapted one stale', async () => {
    const engine = new MeshEngine();
    const { c, store } = await boot(undefined, engine);
    await c.reference.useExample('sketch');
    await c.run.importAdapted(new Blob(['weights']), 'adapted.safetensors');
    c.mesh.setResolution(32);
    expect(shownMeshWeights(store.getState())).toEqual(['source', 'adapted']);
    await c.mesh.ensureShown();
    expect(engine.requests.map((r) => r.weights)).toEqual(['source', 'adapted']);
    expect(currentMesh(store.getState(), 'adapted')?.colors[0]).toBe(200);
    await c.run.importAdapted(new Blob(['other weights']), 'other.safetensors');
    expect(currentMesh(store.getState(), 'adapted')).toBeNull();
    expect(currentMesh(store.getState(), 'source')).not.toBeNull(); // the base did not change
    // the export takes the adapted weights' mesh, extracting it again
    const out = await c.mesh.exportFile('glb');
    expect(out?.name).toBe('adapter3d-seed7-adapted-32.glb');
    expect(engine.requests.map((r) => r.weights)).toEqual(['source', 'adapted', 'adapted']);
    c.mesh.setShow('adapted');
    expect(shownMeshWeights(store.getState())).toEqual(['adapted']);
  });

  it('cancel ends in the cancelled state and extracts nothing further; engine errors are shown', async () => {
    const engine = new MeshEngine();
    const { c, store } = await boot(undefined, engine);
    let release!: () => void;
    engine.gate = new Promise((r) => (release = r));
    const running = c.mesh.exportFile('ply');
    await tick();
    await c.mesh.cancel();
    release();
    expect(await running).toBeNull();
    expect(store.getState().mesh.status).toBe('cancelled');
    engine.gate = null;
    engine.extractMesh = async () => {
      throw new EngineError('out-of-memory', 'the wasm heap is full');
    };
    expect(await c.mesh.extract('source')).toBeNull();
    expect(store.getState().mesh).toMatchObject({ status: 'error', error: 'the wasm heap is full' });
    // adapted meshes need adapted weights
    expect(await c.mesh.extract('adapted')).toBeNull();
    expect(store.getState().mesh.error).toMatch(/no adapted weights/);
  });
});

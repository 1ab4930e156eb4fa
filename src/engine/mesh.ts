/**
 * Mesh extraction for the engine (EG3D's `gen_samples.py --shapes`, then a surface): the generator's
 * raw σ on a grid in its box (src/eg3d/density-grid.ts), marching cubes at the official level 10
 * (src/mesh/; another level on request), optional Taubin smoothing and vertex-clustering decimation, vertex colours, GLB / PLY files, and the consistency check
 * against the volume renderer.
 *
 * - Weights: the base generator ('source') or the engine's adapted Tri-D ('adapted'). The tri-planes
 *   come from the backbone, which the adaptation does not change, so the shape moves only through the
 *   adapted decoder.
 * - Colours: the decoder's first three feature channels at each vertex — the raw RGB that EG3D
 *   composites into its 128² `image_raw` (before the super-resolution) — in the viewer's 8-bit
 *   conversion (2F − 1 → x·127.5 + 128). They are the neural render's low-resolution colours, not the
 *   super-resolved image's.
 * - Consistency: the mesh rasterised into the render camera (the frontal view unless the request says
 *   otherwise; distance from the camera along each pixel's ray, as EG3D's `image_depth`) against the
 *   volume-rendered depth map of the same weights, mean |difference| over the pixels that are
 *   foreground in the render (Otsu threshold) and covered by the mesh; with its median (the bias) and
 *   the mean |difference − median| (the residual). The level-10 surface is where the density starts
 *   to rise, the rendered depth the expected termination a little further in: on the demo generator
 *   the mesh lies a uniform ≈ 2.4 cm in front (camera at 2.7), with a residual of a few millimetres.
 */
import * as tf from '@tensorflow/tfjs';
import { cameraFromYawPitch, frontalCamera } from '../eg3d/camera.ts';
import { decodeAtPoints, OFFICIAL_SHAPE_LEVEL, sampleDensityGrid, TRIMMED_VALUE } from '../eg3d/density-grid.ts';
import type { WeightMap } from '../eg3d/weights.ts';
import type { GeneratorView } from '../adapter/generator-view.ts';
import { latentFromSeed } from '../adapter/trainer.ts';
import { foregroundMask, headDepth, projectPoint } from '../evaluate/geometry.ts';
import { SettingsError } from '../core/errors.ts';
import { marchingCubes } from '../mesh/marching-cubes.ts';
import { meshBounds, vertexNormals, type TriangleMesh } from '../mesh/mesh.ts';
import { rasterizeMin } from '../mesh/raster.ts';
import { taubinSmooth } from '../mesh/smooth.ts';
import { decimateByClustering } from '../mesh/decimate.ts';
import { writeGlb } from '../mesh/glb.ts';
import { writePly } from '../mesh/ply.ts';
import type { LoadedGenerator } from './models.ts';
import { tick } from './rendering.ts';
import { MESH_FORMATS, type EngineEvent, type ExtractedMesh, type MeshConsistency, type MeshRequest } from './types.ts';

export interface MeshHost {
  emit: (e: EngineEvent) => void;
  shouldStop: () => boolean;
}

/** The base generator's view, or the same with the adapted Tri-D + G2 weights. */
function viewOf(gen: LoadedGenerator, adapted: ReadonlyMap<string, tf.Tensor> | null): GeneratorView {
  return adapted ? gen.view.withWeights(new Map(adapted) as WeightMap) : gen.view;
}

export function checkMeshRequest(r: MeshRequest): void {
  if (!Number.isInteger(r.seed) || r.seed < 0) throw new SettingsError(`the mesh seed must be a whole number ≥ 0 (got ${r.seed})`);
  if (!Number.isFinite(r.psi)) throw new SettingsError(`ψ must be a number (got ${r.psi})`);
  if (r.level !== undefined && !Number.isFinite(r.level)) throw new SettingsError(`the surface level must be a number (got ${r.level})`);
  if (r.smoothing !== undefined && (!Number.isInteger(r.smoothing) || r.smoothing < 0 || r.smoothing > 50)) {
    throw new SettingsError(`smoothing must be 0–50 iterations (got ${r.smoothing})`);
  }
  if (r.decimate !== undefined && !(Number.isFinite(r.decimate) && r.decimate >= 1 && r.decimate <= 16)) {
    throw new SettingsError(`decimation must be 1–16 grid steps (got ${r.decimate})`);
  }
  for (const f of r.formats ?? []) if (!MESH_FORMATS.includes(f)) throw new SettingsError(`unknown mesh format '${f}' (${MESH_FORMATS.join(', ')})`);
  // the resolution is checked by the density sampler (8…512)
}

/** min / max of the grid's values, ignoring the trimmed border. */
function valueRange(values: Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === TRIMMED_VALUE) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/** RGB bytes from the decoder's raw RGB features (the viewer's conversion of image_raw). */
export function featureColours(rgb: Float32Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  for (let i = 0; i < rgb.length; i++) out[i] = Math.min(255, Math.max(0, Math.round((rgb[i] * 2 - 1) * 127.5 + 128)));
  return out;
}

/** Mesh depth seen from `camera` (R×R, NaN where the mesh does not cover) and the comparison with a rendered depth map. */
export function meshConsistency(mesh: TriangleMesh, camera: ArrayLike<number>, renderedDepth: Float32Array, resolution: number): MeshConsistency {
  const vertices = mesh.positions.length / 3;
  const screen = new Float32Array(vertices * 2);
  const dist = new Float32Array(vertices);
  for (let v = 0; v < vertices; v++) {
    const p = projectPoint(camera, resolution, [mesh.positions[v * 3], mesh.positions[v * 3 + 1], mesh.positions[v * 3 + 2]]);
    screen[v * 2] = p ? p.x : NaN;
    screen[v * 2 + 1] = p ? p.y : NaN;
    dist[v] = p ? p.distance : NaN;
  }
  const meshDepth = rasterizeMin(screen, dist, mesh.indices, resolution, resolution);
  const fg = foregroundMask(renderedDepth);
  let fgCount = 0;
  const diffs: number[] = [];
  for (let i = 0; i < fg.length; i++) {
    if (!fg[i]) continue;
    fgCount++;
    if (Number.isNaN(meshDepth[i])) continue;
    diffs.push(meshDepth[i] - renderedDepth[i]);
  }
  const n = diffs.length;
  const head = headDepth(renderedDepth, fg);
  const meanError = n ? diffs.reduce((a, d) => a + Math.abs(d), 0) / n : NaN;
  const sorted = Float64Array.from(diffs).sort();
  const bias = n ? (n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2) : NaN;
  return {
    meanError,
    meanErrorPct: head > 0 ? (100 * meanError) / head : NaN,
    headDepth: head,
    bias,
    residual: n ? diffs.reduce((a, d) => a + Math.abs(d - bias), 0) / n : NaN,
    pixels: n,
    coverage: fgCount ? n / fgCount : 0,
    resolution,
    meshDepth,
    renderedDepth,
  };
}

/** Extracts the mesh of one latent with the base or adapted weights (see the file comment). */
export async function extractMesh(gen: LoadedGenerator, adapted: ReadonlyMap<string, tf.Tensor> | null, request: MeshRequest, host: MeshHost): Promise<ExtractedMesh> {
  checkMeshRequest(request);
  const t0 = performance.now();
  const view = viewOf(gen, adapted);
  const cfg = view.config;
  const boxWarp = cfg.rendering.boxWarp;
  const lrMul = cfg.decoder.lrMul;
  const level = request.level ?? OFFICIAL_SHAPE_LEVEL;
  const progress = (stage: 'density' | 'surface' | 'colours' | 'consistency', done: number, total: number) =>
    host.emit({ type: 'mesh-progress', stage, done, total });
  const { planes, ws } = tf.tidy(() => {
    const z = tf.tensor2d(latentFromSeed(request.seed, cfg.zDim), [1, cfg.zDim]);
    const w = view.mapping(z, tf.tensor2d(frontalCamera(), [1, 25]), request.psi, null);
    return { planes: view.planes(w), ws: w };
  });
  try {
    const grid = await sampleDensityGrid(planes, view.weights, {
      resolution: request.resolution,
      boxWarp,
      lrMul,
      triplaneImpl: view.settings.triplaneImpl,
      shouldStop: host.shouldStop,
      onProgress: async (done, total) => {
        progress('density', done, total);
        await tick();
      },
    });
    const tDensity = performance.now();
    const densityRange = valueRange(grid.values);
    progress('surface', 0, 1);
    const n = grid.resolution;
    let mesh: TriangleMesh = marchingCubes({ values: grid.values, dims: [n, n, n], origin: grid.origin, spacing: [grid.spacing, grid.spacing, grid.spacing] }, level);
    if (request.smoothing) mesh = taubinSmooth(mesh, { iterations: request.smoothing });
    if (request.decimate) mesh = decimateByClustering(mesh, request.decimate * grid.spacing);
    const normals = vertexNormals(mesh.positions, mesh.indices);
    progress('surface', 1, 1);
    await tick();
    const tSurface = performance.now();
    const { rgb } = await decodeAtPoints(planes, view.weights, mesh.positions, {
      boxWarp,
      lrMul,
      triplaneImpl: view.settings.triplaneImpl,
      shouldStop: host.shouldStop,
      onProgress: async (done, total) => {
        progress('colours', done, total);
        await tick();
      },
    });
    const colors = featureColours(rgb);
    const tColours = performance.now();

    let consistency: MeshConsistency | null = null;
    if (request.consistency ?? true) {
      progress('consistency', 0, 1);
      const camera = cameraFromYawPitch(request.yaw ?? 0, request.pitch ?? 0);
      const depth = tf.tidy(() => view.render(planes, tf.tensor2d(camera, [1, 25]), { kind: 'deterministic' }).depth);
      const r = depth.shape[1];
      const rendered = (await depth.data()) as Float32Array;
      depth.dispose();
      consistency = meshConsistency({ positions: mesh.positions, indices: mesh.indices }, camera, rendered.slice(), r);
      progress('consistency', 1, 1);
    }
    const tConsistency = performance.now();
    const full: TriangleMesh = { positions: mesh.positions, indices: mesh.indices, normals, colors };
    const name = `seed ${request.seed} ${adapted ? 'adapted' : 'source'}`;
    const files: ExtractedMesh['files'] = {};
    for (const f of request.formats ?? []) files[f] = f === 'glb' ? writeGlb(full, { name }) : writePly(full, `Adapter3D Studio ${name}, level ${level}, ${n}^3 grid`);
    return {
      request: { ...request },
      weights: adapted ? 'adapted' : 'source',
      positions: mesh.positions,
      indices: mesh.indices,
      normals,
      colors,
      vertices: mesh.positions.length / 3,
      faces: mesh.indices.length / 3,
      bounds: meshBounds(mesh.positions),
      level,
      densityRange,
      seconds: {
        density: (tDensity - t0) / 1000,
        surface: (tSurface - tDensity) / 1000,
        colours: (tColours - tSurface) / 1000,
        consistency: (tConsistency - tColours) / 1000,
        total: (performance.now() - t0) / 1000,
      },
      consistency,
      files,
    };
  } finally {
    tf.dispose([planes, ws]);
  }
}

/**
 * Vertex-clustering decimation: vertices are grouped by the cell of a regular grid (side `cell`, world
 * units) they fall in, each group becomes one vertex at the group's mean position (and mean colour), and
 * triangles whose corners land in fewer than three groups are dropped. Fast and predictable (faces fall
 * roughly with the square of the cell size), not feature-preserving: for a lighter mesh to view or share,
 * not for measuring.
 */
import { InternalError } from '../core/errors.ts';
import type { TriangleMesh } from './mesh.ts';

export function decimateByClustering(mesh: TriangleMesh, cell: number): TriangleMesh {
  if (!(cell > 0) || !Number.isFinite(cell)) throw new InternalError(`decimation cell must be a positive size (got ${cell})`);
  const p = mesh.positions;
  const vertices = p.length / 3;
  const clusterOf = new Uint32Array(vertices);
  const ids = new Map<string, number>();
  const sums: number[] = [];
  const colourSums: number[] = [];
  const counts: number[] = [];
  for (let v = 0; v < vertices; v++) {
    const key = `${Math.floor(p[v * 3] / cell)},${Math.floor(p[v * 3 + 1] / cell)},${Math.floor(p[v * 3 + 2] / cell)}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = counts.length;
      ids.set(key, id);
      counts.push(0);
      sums.push(0, 0, 0);
      colourSums.push(0, 0, 0);
    }
    clusterOf[v] = id;
    counts[id]++;
    for (let k = 0; k < 3; k++) {
      sums[id * 3 + k] += p[v * 3 + k];
      if (mesh.colors) colourSums[id * 3 + k] += mesh.colors[v * 3 + k];
    }
  }
  const positions = new Float32Array(counts.length * 3);
  const colors = mesh.colors ? new Uint8Array(counts.length * 3) : undefined;
  for (let c = 0; c < counts.length; c++) {
    for (let k = 0; k < 3; k++) {
      positions[c * 3 + k] = sums[c * 3 + k] / counts[c];
      if (colors) colors[c * 3 + k] = Math.round(colourSums[c * 3 + k] / counts[c]);
    }
  }
  const kept: number[] = [];
  const seen = new Set<string>();
  for (let t = 0; t < mesh.indices.length; t += 3) {
    const a = clusterOf[mesh.indices[t]], b = clusterOf[mesh.indices[t + 1]], c = clusterOf[mesh.indices[t + 2]];
    if (a === b || b === c || a === c) continue;
    // the same triangle from several original ones (same winding) is kept once
    const r = Math.min(a, b, c);
    const key = r === a ? `${a},${b},${c}` : r === b ? `${b},${c},${a}` : `${c},${a},${b}`;
    if (seen.has(key)) continue;
    seen.add(key);
    kept.push(a, b, c);
  }
  return { positions, indices: Uint32Array.from(kept), ...(colors ? { colors } : {}) };
}

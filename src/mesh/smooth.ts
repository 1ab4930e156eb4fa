/**
 * Taubin smoothing (λ|μ): alternating shrink (λ > 0) and inflate (μ < −λ) umbrella steps over each
 * vertex's neighbours, which removes the grid's staircase without the shrinkage of plain Laplacian
 * smoothing. Positions change in place of a copy; the connectivity is unchanged.
 */
import type { TriangleMesh } from './mesh.ts';

export interface SmoothOptions {
  /** λ|μ pairs (0 = no smoothing). */
  iterations: number;
  lambda?: number;
  mu?: number;
}

/** Vertex adjacency as CSR (offsets, neighbours), each undirected edge listed at both ends once per triangle side. */
function adjacency(vertices: number, indices: Uint32Array): { offsets: Uint32Array; neighbours: Uint32Array } {
  const degree = new Uint32Array(vertices + 1);
  for (let t = 0; t < indices.length; t += 3) {
    degree[indices[t]] += 2;
    degree[indices[t + 1]] += 2;
    degree[indices[t + 2]] += 2;
  }
  const offsets = new Uint32Array(vertices + 1);
  for (let v = 0; v < vertices; v++) offsets[v + 1] = offsets[v] + degree[v];
  const fill = offsets.slice(0, vertices);
  const neighbours = new Uint32Array(offsets[vertices]);
  for (let t = 0; t < indices.length; t += 3) {
    const a = indices[t], b = indices[t + 1], c = indices[t + 2];
    neighbours[fill[a]++] = b;
    neighbours[fill[a]++] = c;
    neighbours[fill[b]++] = a;
    neighbours[fill[b]++] = c;
    neighbours[fill[c]++] = a;
    neighbours[fill[c]++] = b;
  }
  return { offsets, neighbours };
}

/** A smoothed copy of the mesh's positions (same vertices and triangles; normals dropped). */
export function taubinSmooth(mesh: TriangleMesh, opts: SmoothOptions): TriangleMesh {
  const iterations = Math.max(0, Math.floor(opts.iterations));
  if (iterations === 0) return mesh;
  const lambda = opts.lambda ?? 0.5;
  const mu = opts.mu ?? -0.53;
  const vertices = mesh.positions.length / 3;
  const { offsets, neighbours } = adjacency(vertices, mesh.indices);
  let p = mesh.positions.slice();
  let q = new Float32Array(p.length);
  const step = (factor: number) => {
    for (let v = 0; v < vertices; v++) {
      const from = offsets[v];
      const to = offsets[v + 1];
      const i = v * 3;
      if (to === from) {
        q[i] = p[i];
        q[i + 1] = p[i + 1];
        q[i + 2] = p[i + 2];
        continue;
      }
      let sx = 0, sy = 0, sz = 0;
      for (let k = from; k < to; k++) {
        const j = neighbours[k] * 3;
        sx += p[j];
        sy += p[j + 1];
        sz += p[j + 2];
      }
      const n = to - from;
      q[i] = p[i] + factor * (sx / n - p[i]);
      q[i + 1] = p[i + 1] + factor * (sy / n - p[i + 1]);
      q[i + 2] = p[i + 2] + factor * (sz / n - p[i + 2]);
    }
    [p, q] = [q, p];
  };
  for (let it = 0; it < iterations; it++) {
    step(lambda);
    step(mu);
  }
  return { positions: p, indices: mesh.indices, colors: mesh.colors };
}

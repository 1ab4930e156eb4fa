/**
 * Marching cubes over a scalar grid: the surface where the field crosses `level`, with "inside" =
 * value ≥ level (for a density grid: the dense region). Each cube's triangles come from a case table
 * (256 sign patterns) that this module builds itself when it loads, by walking the cube's faces:
 *
 * - on every face (corners counter-clockwise seen from outside) each edge whose ends differ in sign
 *   holds one surface vertex; the face's segments join an in→out crossing to the next out→in crossing
 *   counter-clockwise. On a face with two inside corners on a diagonal (the ambiguous face) that rule
 *   keeps the two inside corners connected — the same choice on both cubes sharing the face, since it
 *   depends on that face's corners only, so the surface has no cracks;
 * - the segments of the six faces chain into closed loops (every crossing edge starts a segment on one
 *   of its faces and ends one on the other), and each loop is fanned into triangles.
 *
 * Vertices sit on grid edges at the linear interpolation of the level and are shared by every cube
 * around their edge (an indexed, watertight mesh away from the grid's border).
 */
import { InternalError } from '../core/errors.ts';
import type { TriangleMesh } from './mesh.ts';

/** Corner c of a cube is (c & 1, (c >> 1) & 1, (c >> 2) & 1). Edge e joins corners EDGE_CORNERS[e]. */
const EDGE_CORNERS: [number, number][] = [];
for (let axis = 0; axis < 3; axis++) {
  for (let j = 0; j < 4; j++) {
    // the two other axes' bits, in increasing axis order
    const others = [0, 1, 2].filter((a) => a !== axis);
    const c0 = ((j & 1) << others[0]) | (((j >> 1) & 1) << others[1]);
    EDGE_CORNERS.push([c0, c0 | (1 << axis)]);
  }
}

function edgeOf(a: number, b: number): number {
  const e = EDGE_CORNERS.findIndex(([c0, c1]) => (c0 === a && c1 === b) || (c0 === b && c1 === a));
  if (e < 0) throw new InternalError(`corners ${a} and ${b} do not share a cube edge`);
  return e;
}

const corner = (c: number): [number, number, number] => [c & 1, (c >> 1) & 1, (c >> 2) & 1];

/** The six faces, corners in cyclic order, oriented counter-clockwise seen from outside. */
const FACES: number[][] = (() => {
  const cyclic: [number[], [number, number, number]][] = [
    [[0, 2, 6, 4], [-1, 0, 0]],
    [[1, 3, 7, 5], [1, 0, 0]],
    [[0, 1, 5, 4], [0, -1, 0]],
    [[2, 3, 7, 6], [0, 1, 0]],
    [[0, 1, 3, 2], [0, 0, -1]],
    [[4, 5, 7, 6], [0, 0, 1]],
  ];
  return cyclic.map(([cs, n]) => {
    const [a, b, c] = cs.map(corner);
    const u = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    const v = [c[0] - b[0], c[1] - b[1], c[2] - b[2]];
    const cross = [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
    return cross[0] * n[0] + cross[1] * n[1] + cross[2] * n[2] > 0 ? cs : [...cs].reverse();
  });
})();

/** Triangles (as edge triples) for one sign pattern, before the global orientation flip. */
function trianglesFor(mask: number): number[] {
  const inside = (c: number) => ((mask >> c) & 1) === 1;
  const next = new Map<number, number>();
  for (const f of FACES) {
    const starts: number[] = [];
    for (let k = 0; k < 4; k++) {
      const a = f[k];
      const b = f[(k + 1) % 4];
      if (inside(a) && !inside(b)) starts.push(k);
    }
    for (const k of starts) {
      // the next out→in edge counter-clockwise from this in→out edge
      for (let s = 1; s < 4; s++) {
        const m = (k + s) % 4;
        const a = f[m];
        const b = f[(m + 1) % 4];
        if (!inside(a) && inside(b)) {
          next.set(edgeOf(f[k], f[(k + 1) % 4]), edgeOf(a, b));
          break;
        }
      }
    }
  }
  const tris: number[] = [];
  const seen = new Set<number>();
  for (const start of next.keys()) {
    if (seen.has(start)) continue;
    const loop: number[] = [];
    let e = start;
    while (!seen.has(e)) {
      seen.add(e);
      loop.push(e);
      const n = next.get(e);
      if (n === undefined) throw new InternalError(`marching-cubes table: open loop for case ${mask}`);
      e = n;
    }
    if (e !== start) throw new InternalError(`marching-cubes table: loop of case ${mask} does not close`);
    for (let i = 1; i + 1 < loop.length; i++) tris.push(loop[0], loop[i], loop[i + 1]);
  }
  return tris;
}

/** Case table: TABLE_OFFSETS[mask]..TABLE_OFFSETS[mask + 1] index TABLE_EDGES (edge triples). */
const { TABLE_OFFSETS, TABLE_EDGES } = (() => {
  const all: number[][] = [];
  for (let mask = 0; mask < 256; mask++) all.push(trianglesFor(mask));
  // Orientation: with only corner 0 inside, the triangle must face away from corner 0 (toward +1,+1,+1).
  const [e0, e1, e2] = all[1];
  const mid = (e: number) => {
    const [a, b] = EDGE_CORNERS[e].map(corner);
    return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, (a[2] + b[2]) / 2];
  };
  const [p, q, r] = [mid(e0), mid(e1), mid(e2)];
  const u = [q[0] - p[0], q[1] - p[1], q[2] - p[2]];
  const v = [r[0] - p[0], r[1] - p[1], r[2] - p[2]];
  const nx = u[1] * v[2] - u[2] * v[1];
  const ny = u[2] * v[0] - u[0] * v[2];
  const nz = u[0] * v[1] - u[1] * v[0];
  const flip = nx + ny + nz < 0;
  const offsets = new Uint16Array(257);
  const edges: number[] = [];
  for (let mask = 0; mask < 256; mask++) {
    offsets[mask] = edges.length;
    const t = all[mask];
    for (let i = 0; i < t.length; i += 3) edges.push(t[i], flip ? t[i + 2] : t[i + 1], flip ? t[i + 1] : t[i + 2]);
  }
  offsets[256] = edges.length;
  return { TABLE_OFFSETS: offsets, TABLE_EDGES: Uint8Array.from(edges) };
})();

/** Number of triangles the table gives for a sign pattern (tests). */
export function caseTriangleCount(mask: number): number {
  return (TABLE_OFFSETS[mask + 1] - TABLE_OFFSETS[mask]) / 3;
}

export interface ScalarGrid {
  /** Values at grid points, x fastest: index = x + nx·(y + ny·z). */
  values: Float32Array;
  /** Points per axis. */
  dims: [number, number, number];
  /** World position of grid point (0, 0, 0). */
  origin: [number, number, number];
  /** World distance between neighbouring grid points, per axis. */
  spacing: [number, number, number];
}

/** Growable Float32 / Uint32 storage (meshes of unknown size without boxing every number). */
class Grow<T extends Float32Array | Uint32Array> {
  length = 0;
  constructor(
    public data: T,
    private readonly make: (n: number) => T,
  ) {}
  push3(a: number, b: number, c: number): void {
    if (this.length + 3 > this.data.length) {
      const d = this.make(Math.max(1024, this.data.length * 2));
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = a;
    this.data[this.length++] = b;
    this.data[this.length++] = c;
  }
  result(): T {
    return this.data.slice(0, this.length) as T;
  }
}

/**
 * The isosurface of `grid` at `level` (inside = value ≥ level; NaN counts as outside). Triangles are
 * counter-clockwise seen from the outside (normals point away from the inside).
 */
export function marchingCubes(grid: ScalarGrid, level: number): TriangleMesh {
  const [nx, ny, nz] = grid.dims;
  const { values, origin, spacing } = grid;
  if (values.length !== nx * ny * nz) throw new InternalError(`grid holds ${values.length} values, dims ${grid.dims.join('×')} need ${nx * ny * nz}`);
  if (!Number.isFinite(level)) throw new InternalError(`marching cubes needs a finite level (got ${level})`);
  const positions = new Grow(new Float32Array(3 * 1024), (n) => new Float32Array(n));
  const indices = new Grow(new Uint32Array(3 * 1024), (n) => new Uint32Array(n));
  if (nx < 2 || ny < 2 || nz < 2) return { positions: positions.result(), indices: indices.result() };
  const plane = nx * ny;
  // Vertex ids of the edges around the current slab z…z+1: x- and y-edges on layers z and z+1,
  // z-edges between them (−1 = not made yet).
  let xLo = new Int32Array(plane).fill(-1);
  let yLo = new Int32Array(plane).fill(-1);
  let xHi = new Int32Array(plane).fill(-1);
  let yHi = new Int32Array(plane).fill(-1);
  const zMid = new Int32Array(plane);
  const inside = (v: number) => v >= level; // NaN → false
  let vertexCount = 0;
  const vertexOn = (i0: number, i1: number, x: number, y: number, z: number, axis: number): number => {
    const a = values[i0];
    const b = values[i1];
    const f = (level - a) / (b - a);
    // equal ends cannot cross; a NaN end (outside) puts the vertex mid-edge
    const t = Number.isFinite(f) ? Math.min(1, Math.max(0, f)) : 0.5;
    positions.push3(
      origin[0] + (x + (axis === 0 ? t : 0)) * spacing[0],
      origin[1] + (y + (axis === 1 ? t : 0)) * spacing[1],
      origin[2] + (z + (axis === 2 ? t : 0)) * spacing[2],
    );
    return vertexCount++;
  };
  const cubeVerts = new Int32Array(12);
  for (let z = 0; z + 1 < nz; z++) {
    zMid.fill(-1);
    for (let y = 0; y + 1 < ny; y++) {
      for (let x = 0; x + 1 < nx; x++) {
        const i000 = x + nx * (y + ny * z);
        let mask = 0;
        if (inside(values[i000])) mask |= 1;
        if (inside(values[i000 + 1])) mask |= 2;
        if (inside(values[i000 + nx])) mask |= 4;
        if (inside(values[i000 + nx + 1])) mask |= 8;
        if (inside(values[i000 + plane])) mask |= 16;
        if (inside(values[i000 + plane + 1])) mask |= 32;
        if (inside(values[i000 + plane + nx])) mask |= 64;
        if (inside(values[i000 + plane + nx + 1])) mask |= 128;
        const from = TABLE_OFFSETS[mask];
        const to = TABLE_OFFSETS[mask + 1];
        if (from === to) continue;
        for (let k = from; k < to; k++) {
          const e = TABLE_EDGES[k];
          const axis = (e >> 2) as 0 | 1 | 2;
          const j = e & 3;
          // offsets of the edge's first corner along the two other axes (increasing axis order)
          const o1 = j & 1;
          const o2 = (j >> 1) & 1;
          let id: number;
          if (axis === 0) {
            // x-edge at (x, y+o1, z+o2)
            const arr = o2 ? xHi : xLo;
            const p = x + nx * (y + o1);
            id = arr[p];
            if (id < 0) {
              const i0 = i000 + o1 * nx + o2 * plane;
              id = arr[p] = vertexOn(i0, i0 + 1, x, y + o1, z + o2, 0);
            }
          } else if (axis === 1) {
            // y-edge at (x+o1, y, z+o2)
            const arr = o2 ? yHi : yLo;
            const p = x + o1 + nx * y;
            id = arr[p];
            if (id < 0) {
              const i0 = i000 + o1 + o2 * plane;
              id = arr[p] = vertexOn(i0, i0 + nx, x + o1, y, z + o2, 1);
            }
          } else {
            // z-edge at (x+o1, y+o2, z)
            const p = x + o1 + nx * (y + o2);
            id = zMid[p];
            if (id < 0) {
              const i0 = i000 + o1 + o2 * nx;
              id = zMid[p] = vertexOn(i0, i0 + plane, x + o1, y + o2, z, 2);
            }
          }
          cubeVerts[e] = id;
        }
        for (let k = from; k < to; k += 3) indices.push3(cubeVerts[TABLE_EDGES[k]], cubeVerts[TABLE_EDGES[k + 1]], cubeVerts[TABLE_EDGES[k + 2]]);
      }
    }
    // layer z+1 becomes the next slab's lower layer
    [xLo, xHi] = [xHi, xLo];
    [yLo, yHi] = [yHi, yLo];
    xHi.fill(-1);
    yHi.fill(-1);
  }
  return { positions: positions.result(), indices: indices.result() };
}

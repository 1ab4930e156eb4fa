/**
 * The triangle mesh every part of src/mesh/ works on: indexed triangles with per-vertex positions
 * (world units), optional unit normals and optional RGB8 colours. Plain typed arrays, so a mesh
 * crosses the worker boundary as it is.
 */
import { InternalError } from '../core/errors.ts';

export interface TriangleMesh {
  /** [V·3] x, y, z. */
  positions: Float32Array;
  /** [F·3] vertex indices, counter-clockwise seen from outside (normals point out of the dense region). */
  indices: Uint32Array;
  /** [V·3] unit normals (optional). */
  normals?: Float32Array;
  /** [V·3] RGB, 0–255 (optional). */
  colors?: Uint8Array;
}

export interface Bounds {
  min: [number, number, number];
  max: [number, number, number];
}

export function vertexCount(m: TriangleMesh): number {
  return m.positions.length / 3;
}

export function faceCount(m: TriangleMesh): number {
  return m.indices.length / 3;
}

/** Checks the arrays agree with each other (lengths, index range). */
export function checkMesh(m: TriangleMesh): void {
  const v = m.positions.length / 3;
  if (!Number.isInteger(v)) throw new InternalError(`mesh positions must hold x, y, z per vertex (got ${m.positions.length} floats)`);
  if (m.indices.length % 3 !== 0) throw new InternalError(`mesh indices must hold 3 per triangle (got ${m.indices.length})`);
  if (m.normals && m.normals.length !== m.positions.length) throw new InternalError(`mesh normals (${m.normals.length}) do not match positions (${m.positions.length})`);
  if (m.colors && m.colors.length !== m.positions.length) throw new InternalError(`mesh colours (${m.colors.length}) do not match positions (${m.positions.length})`);
  for (let i = 0; i < m.indices.length; i++) if (m.indices[i] >= v) throw new InternalError(`mesh index ${m.indices[i]} out of range (${v} vertices)`);
}

export function meshBounds(positions: Float32Array): Bounds {
  const min: [number, number, number] = [Infinity, Infinity, Infinity];
  const max: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (let i = 0; i < positions.length; i += 3) {
    for (let k = 0; k < 3; k++) {
      const x = positions[i + k];
      if (x < min[k]) min[k] = x;
      if (x > max[k]) max[k] = x;
    }
  }
  return { min, max };
}

/** Area-weighted vertex normals (unit length; zero where a vertex has no area around it). */
export function vertexNormals(positions: Float32Array, indices: Uint32Array): Float32Array {
  const n = new Float32Array(positions.length);
  for (let t = 0; t < indices.length; t += 3) {
    const a = indices[t] * 3;
    const b = indices[t + 1] * 3;
    const c = indices[t + 2] * 3;
    const ux = positions[b] - positions[a];
    const uy = positions[b + 1] - positions[a + 1];
    const uz = positions[b + 2] - positions[a + 2];
    const vx = positions[c] - positions[a];
    const vy = positions[c + 1] - positions[a + 1];
    const vz = positions[c + 2] - positions[a + 2];
    // cross product = 2·area·unit normal: summing it weights each face by its area
    const nx = uy * vz - uz * vy;
    const ny = uz * vx - ux * vz;
    const nz = ux * vy - uy * vx;
    for (const i of [a, b, c]) {
      n[i] += nx;
      n[i + 1] += ny;
      n[i + 2] += nz;
    }
  }
  for (let i = 0; i < n.length; i += 3) {
    const l = Math.hypot(n[i], n[i + 1], n[i + 2]);
    if (l > 0) {
      n[i] /= l;
      n[i + 1] /= l;
      n[i + 2] /= l;
    }
  }
  return n;
}

/** Total surface area. */
export function surfaceArea(m: TriangleMesh): number {
  const p = m.positions;
  let area = 0;
  for (let t = 0; t < m.indices.length; t += 3) {
    const a = m.indices[t] * 3;
    const b = m.indices[t + 1] * 3;
    const c = m.indices[t + 2] * 3;
    const ux = p[b] - p[a], uy = p[b + 1] - p[a + 1], uz = p[b + 2] - p[a + 2];
    const vx = p[c] - p[a], vy = p[c + 1] - p[a + 1], vz = p[c + 2] - p[a + 2];
    area += 0.5 * Math.hypot(uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx);
  }
  return area;
}

/** Signed enclosed volume (divergence theorem): positive when the triangles face outward. */
export function signedVolume(m: TriangleMesh): number {
  const p = m.positions;
  let vol = 0;
  for (let t = 0; t < m.indices.length; t += 3) {
    const a = m.indices[t] * 3;
    const b = m.indices[t + 1] * 3;
    const c = m.indices[t + 2] * 3;
    vol += p[a] * (p[b + 1] * p[c + 2] - p[b + 2] * p[c + 1]) - p[a + 1] * (p[b] * p[c + 2] - p[b + 2] * p[c]) + p[a + 2] * (p[b] * p[c + 1] - p[b + 1] * p[c]);
  }
  return vol / 6;
}

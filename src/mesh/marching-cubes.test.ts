import { describe, expect, it } from 'vitest';
import { caseTriangleCount, marchingCubes, type ScalarGrid } from './marching-cubes.ts';
import { meshBounds, signedVolume, surfaceArea, vertexNormals } from './mesh.ts';
import { taubinSmooth } from './smooth.ts';

/** f = R − |p − c| on an n³ grid over [−0.5, 0.5]³ (inside = positive). */
function sphereGrid(n: number, r: number, c: [number, number, number] = [0.03, -0.02, 0.01]): ScalarGrid {
  const values = new Float32Array(n * n * n);
  const h = 1 / (n - 1);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) values[x + n * (y + n * z)] = r - Math.hypot(-0.5 + x * h - c[0], -0.5 + y * h - c[1], -0.5 + z * h - c[2]);
  return { values, dims: [n, n, n], origin: [-0.5, -0.5, -0.5], spacing: [h, h, h] };
}

function edgeUse(indices: Uint32Array): Map<string, number> {
  const m = new Map<string, number>();
  for (let t = 0; t < indices.length; t += 3) {
    for (let k = 0; k < 3; k++) {
      const a = indices[t + k];
      const b = indices[t + ((k + 1) % 3)];
      const key = a < b ? `${a},${b}` : `${b},${a}`;
      m.set(key, (m.get(key) ?? 0) + 1);
    }
  }
  return m;
}

describe('marchingCubes', () => {
  it('builds a case table with no triangles for the empty and full cubes and 1–4 loops otherwise', () => {
    expect(caseTriangleCount(0)).toBe(0);
    expect(caseTriangleCount(255)).toBe(0);
    expect(caseTriangleCount(1)).toBe(1); // one corner cut off
    expect(caseTriangleCount(3)).toBe(2); // an edge cut off: a quad
    for (let m = 1; m < 255; m++) expect(caseTriangleCount(m)).toBeGreaterThan(0);
  });

  it('extracts a sphere: radius and area within 1 %, closed, facing outward', () => {
    const r = 0.35;
    const c: [number, number, number] = [0.03, -0.02, 0.01];
    const mesh = marchingCubes(sphereGrid(72, r, c), 0);
    const p = mesh.positions;
    let sum = 0;
    let maxDev = 0;
    for (let i = 0; i < p.length; i += 3) {
      const d = Math.hypot(p[i] - c[0], p[i + 1] - c[1], p[i + 2] - c[2]);
      sum += d;
      maxDev = Math.max(maxDev, Math.abs(d - r));
    }
    const meanR = sum / (p.length / 3);
    const area = surfaceArea(mesh);
    const volume = signedVolume(mesh);
    console.log(`sphere r=${r} on 72³: ${p.length / 3} vertices, ${mesh.indices.length / 3} triangles; mean radius ${meanR.toFixed(5)}, area ${area.toFixed(5)} vs ${(4 * Math.PI * r * r).toFixed(5)}, volume ${volume.toFixed(5)} vs ${((4 / 3) * Math.PI * r ** 3).toFixed(5)}`);
    expect(Math.abs(meanR - r) / r).toBeLessThan(0.01);
    expect(maxDev / r).toBeLessThan(0.01);
    expect(Math.abs(area - 4 * Math.PI * r * r) / (4 * Math.PI * r * r)).toBeLessThan(0.01);
    expect(volume).toBeGreaterThan(0); // outward triangles
    expect(Math.abs(volume - (4 / 3) * Math.PI * r ** 3) / ((4 / 3) * Math.PI * r ** 3)).toBeLessThan(0.01);
    // watertight: every edge is shared by exactly two triangles; Euler characteristic 2 (a sphere)
    const edges = edgeUse(mesh.indices);
    expect([...edges.values()].filter((k) => k !== 2)).toEqual([]);
    expect(p.length / 3 - edges.size + mesh.indices.length / 3).toBe(2);
    // normals point away from the centre
    const n = vertexNormals(mesh.positions, mesh.indices);
    let outward = 0;
    for (let i = 0; i < p.length; i += 3) if (n[i] * (p[i] - c[0]) + n[i + 1] * (p[i + 1] - c[1]) + n[i + 2] * (p[i + 2] - c[2]) > 0) outward++;
    expect(outward).toBe(p.length / 3);
    const b = meshBounds(p);
    for (let k = 0; k < 3; k++) {
      expect(b.min[k]).toBeCloseTo(c[k] - r, 2);
      expect(b.max[k]).toBeCloseTo(c[k] + r, 2);
    }
  });

  it('keeps ambiguous faces crack-free (two touching blobs, random fields)', () => {
    // random field: lots of ambiguous faces; the surface must still be closed away from the border
    let s = 12345;
    const rand = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const n = 12;
    const values = new Float32Array(n * n * n);
    for (let z = 0; z < n; z++)
      for (let y = 0; y < n; y++)
        for (let x = 0; x < n; x++) {
          const border = x === 0 || y === 0 || z === 0 || x === n - 1 || y === n - 1 || z === n - 1;
          values[x + n * (y + n * z)] = border ? -1 : rand() - 0.5;
        }
    const mesh = marchingCubes({ values, dims: [n, n, n], origin: [0, 0, 0], spacing: [1, 1, 1] }, 0);
    expect(mesh.indices.length).toBeGreaterThan(0);
    expect([...edgeUse(mesh.indices).values()].filter((k) => k !== 2)).toEqual([]);
    expect(signedVolume(mesh)).toBeGreaterThan(0);
  });

  it('returns an empty mesh when the level is never crossed, and NaN counts as outside', () => {
    const g = sphereGrid(8, 0.3);
    expect(marchingCubes(g, 10).indices.length).toBe(0);
    const nan = { ...g, values: g.values.map((v, i) => (i % 7 === 0 ? NaN : v)) };
    const m = marchingCubes(nan, 0);
    expect(m.indices.length).toBeGreaterThan(0);
    expect(m.positions.every((v) => Number.isFinite(v))).toBe(true);
  });

  it('Taubin smoothing takes the staircase off a voxelised sphere without shrinking it (radius within 1 %)', () => {
    const r = 0.3;
    const c: [number, number, number] = [0, 0, 0];
    // occupancy (1 inside, 0 outside) at level ½: every vertex at an edge midpoint, a staircase
    const g = sphereGrid(40, r, c);
    const mesh = marchingCubes({ ...g, values: g.values.map((v) => (v >= 0 ? 1 : 0)) }, 0.5);
    const spread = (p: Float32Array) => {
      const ds: number[] = [];
      for (let i = 0; i < p.length; i += 3) ds.push(Math.hypot(p[i], p[i + 1], p[i + 2]));
      const mean = ds.reduce((a, b) => a + b, 0) / ds.length;
      return { mean, sd: Math.sqrt(ds.reduce((a, b) => a + (b - mean) ** 2, 0) / ds.length) };
    };
    const before = spread(mesh.positions);
    const smooth = taubinSmooth(mesh, { iterations: 5 });
    const after = spread(smooth.positions);
    expect(smooth.indices).toBe(mesh.indices);
    expect(Math.abs(after.mean - r) / r).toBeLessThan(0.01);
    console.log(`voxelised sphere: radius ${before.mean.toFixed(4)} ± ${before.sd.toFixed(4)} → smoothed ${after.mean.toFixed(4)} ± ${after.sd.toFixed(4)}`);
    expect(after.sd).toBeLessThan(before.sd * 0.7);
  });
});

describe('decimateByClustering', () => {
  it('cuts a sphere to a fraction of its faces while keeping its radius (within 1 %) and outward winding', async () => {
    const { decimateByClustering } = await import('./decimate.ts');
    const r = 0.35;
    const mesh = marchingCubes(sphereGrid(72, r, [0, 0, 0]), 0);
    const colors = new Uint8Array(mesh.positions.length).fill(100);
    const small = decimateByClustering({ ...mesh, colors }, 3 / 71);
    const faces = small.indices.length / 3;
    expect(faces).toBeLessThan(mesh.indices.length / 3 / 4);
    expect(faces).toBeGreaterThan(500);
    let sum = 0;
    for (let i = 0; i < small.positions.length; i += 3) sum += Math.hypot(small.positions[i], small.positions[i + 1], small.positions[i + 2]);
    expect(Math.abs(sum / (small.positions.length / 3) - r) / r).toBeLessThan(0.01);
    expect(signedVolume(small)).toBeGreaterThan(0.9 * signedVolume(mesh));
    expect(small.colors!.every((c) => c === 100)).toBe(true);
    expect(() => decimateByClustering(mesh, 0)).toThrow(/positive/);
  });
});

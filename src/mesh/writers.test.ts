import { describe, expect, it } from 'vitest';
import * as THREE from 'three';
import { GLTFLoader } from 'three/examples/jsm/loaders/GLTFLoader.js';
import { PLYLoader } from 'three/examples/jsm/loaders/PLYLoader.js';
import { marchingCubes } from './marching-cubes.ts';
import { meshBounds, type TriangleMesh } from './mesh.ts';
import { writeGlb } from './glb.ts';
import { writePly } from './ply.ts';

/** A small coloured ellipsoid: colour encodes the vertex height so a swapped channel or vertex shows. */
function coloured(): TriangleMesh {
  const n = 20;
  const values = new Float32Array(n * n * n);
  const h = 1 / (n - 1);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const px = -0.5 + x * h, py = -0.5 + y * h, pz = -0.5 + z * h;
        values[x + n * (y + n * z)] = 1 - Math.hypot(px / 0.4, py / 0.3, pz / 0.2);
      }
  const m = marchingCubes({ values, dims: [n, n, n], origin: [-0.5, -0.5, -0.5], spacing: [h, h, h] }, 0);
  const colors = new Uint8Array(m.positions.length);
  for (let v = 0; v < m.positions.length / 3; v++) {
    colors[v * 3] = Math.round((m.positions[v * 3 + 1] + 0.5) * 255);
    colors[v * 3 + 1] = 17;
    colors[v * 3 + 2] = 200;
  }
  return { ...m, colors };
}

describe('mesh writers', () => {
  const mesh = coloured();
  const vertices = mesh.positions.length / 3;
  const bounds = meshBounds(mesh.positions);

  it('GLB parses back with three.js GLTFLoader: vertex and index count, bounds, colours', async () => {
    const glb = writeGlb(mesh, { name: 'head' });
    expect(new TextDecoder().decode(glb.subarray(0, 4))).toBe('glTF');
    expect(new DataView(glb.buffer).getUint32(8, true)).toBe(glb.byteLength);
    const ab = glb.buffer.slice(glb.byteOffset, glb.byteOffset + glb.byteLength) as ArrayBuffer;
    const gltf = await new GLTFLoader().parseAsync(ab, '');
    let found: THREE.Mesh | null = null;
    gltf.scene.traverse((o) => {
      if ((o as THREE.Mesh).isMesh) found = o as THREE.Mesh;
    });
    expect(found).not.toBeNull();
    const geom = (found as unknown as THREE.Mesh).geometry;
    expect(geom.getAttribute('position').count).toBe(vertices);
    expect(geom.getIndex()!.count).toBe(mesh.indices.length);
    geom.computeBoundingBox();
    const bb = geom.boundingBox!;
    expect(bb.min.toArray()).toEqual(bounds.min.map((x) => Math.fround(x)));
    expect(bb.max.toArray()).toEqual(bounds.max.map((x) => Math.fround(x)));
    expect(bounds.max[0]).toBeCloseTo(0.4, 1);
    const col = geom.getAttribute('color');
    expect(col.itemSize).toBe(4);
    expect(col.normalized).toBe(true);
    for (const v of [0, Math.floor(vertices / 2), vertices - 1]) {
      expect(Math.round(col.getX(v) * 255)).toBe(mesh.colors![v * 3]);
      expect(Math.round(col.getY(v) * 255)).toBe(17);
      expect(Math.round(col.getZ(v) * 255)).toBe(200);
    }
    expect(geom.getAttribute('normal').count).toBe(vertices);
  });

  it('PLY parses back with three.js PLYLoader: vertex count, bounds, colours, faces', () => {
    const ply = writePly(mesh);
    const header = new TextDecoder().decode(ply.subarray(0, 400));
    expect(header).toMatch(/^ply\nformat binary_little_endian 1.0\n/);
    expect(header).toContain(`element vertex ${vertices}\n`);
    expect(header).toContain(`element face ${mesh.indices.length / 3}\n`);
    const geom = new PLYLoader().parse(ply.buffer.slice(ply.byteOffset, ply.byteOffset + ply.byteLength) as ArrayBuffer);
    expect(geom.getAttribute('position').count).toBe(vertices);
    expect(geom.getIndex()!.count).toBe(mesh.indices.length);
    expect(Array.from(geom.getIndex()!.array.slice(0, 6))).toEqual(Array.from(mesh.indices.slice(0, 6)));
    geom.computeBoundingBox();
    expect(geom.boundingBox!.min.toArray()).toEqual(bounds.min.map((x) => Math.fround(x)));
    expect(geom.boundingBox!.max.toArray()).toEqual(bounds.max.map((x) => Math.fround(x)));
    const col = geom.getAttribute('color');
    for (const v of [0, Math.floor(vertices / 2), vertices - 1]) {
      // PLYLoader reads the bytes as sRGB and stores them as linear bytes: expect that conversion of ours
      const lin = (byte: number) => Math.round(new THREE.Color(byte / 255, 0, 0).convertSRGBToLinear().r * 255);
      expect(Math.round(col.getX(v) * 255)).toBe(lin(mesh.colors![v * 3]));
      expect(Math.round(col.getY(v) * 255)).toBe(lin(17));
      expect(Math.round(col.getZ(v) * 255)).toBe(lin(200));
    }
  });

  it('writes an empty mesh as a valid file of zero vertices', async () => {
    const empty: TriangleMesh = { positions: new Float32Array(0), indices: new Uint32Array(0) };
    const ply = writePly(empty);
    expect(new TextDecoder().decode(ply)).toContain('element vertex 0\n');
    const glb = writeGlb(empty);
    expect(new DataView(glb.buffer).getUint32(8, true)).toBe(glb.byteLength);
  });
});

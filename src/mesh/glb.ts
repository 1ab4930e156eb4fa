/**
 * Binary glTF 2.0 (.glb) writer for one triangle mesh: a single node / mesh / primitive with POSITION
 * (float32, with the min/max the format requires), NORMAL (float32, computed when the mesh has none),
 * COLOR_0 (unsigned-byte RGBA, normalised) when the mesh has colours, and UNSIGNED_INT indices; one
 * matte material whose base colour is multiplied by the vertex colours. glTF is y-up, metres: the
 * generator's world frame (y up, the face toward +z) is written as it is.
 */
import { checkMesh, meshBounds, vertexNormals, type TriangleMesh } from './mesh.ts';

const FLOAT = 5126;
const UNSIGNED_BYTE = 5121;
const UNSIGNED_INT = 5125;
const ARRAY_BUFFER = 34962;
const ELEMENT_ARRAY_BUFFER = 34963;

const pad4 = (n: number) => (n + 3) & ~3;

export interface GlbOptions {
  /** The asset's generator string and node name. */
  generator?: string;
  name?: string;
}

export function writeGlb(mesh: TriangleMesh, opts: GlbOptions = {}): Uint8Array {
  checkMesh(mesh);
  const vertices = mesh.positions.length / 3;
  const normals = mesh.normals ?? vertexNormals(mesh.positions, mesh.indices);
  const parts: { bytes: Uint8Array; target: number }[] = [
    { bytes: new Uint8Array(mesh.positions.buffer, mesh.positions.byteOffset, mesh.positions.byteLength), target: ARRAY_BUFFER },
    { bytes: new Uint8Array(normals.buffer, normals.byteOffset, normals.byteLength), target: ARRAY_BUFFER },
  ];
  let rgba: Uint8Array | null = null;
  if (mesh.colors) {
    rgba = new Uint8Array(vertices * 4);
    for (let v = 0; v < vertices; v++) {
      rgba[v * 4] = mesh.colors[v * 3];
      rgba[v * 4 + 1] = mesh.colors[v * 3 + 1];
      rgba[v * 4 + 2] = mesh.colors[v * 3 + 2];
      rgba[v * 4 + 3] = 255;
    }
    parts.push({ bytes: rgba, target: ARRAY_BUFFER });
  }
  parts.push({ bytes: new Uint8Array(mesh.indices.buffer, mesh.indices.byteOffset, mesh.indices.byteLength), target: ELEMENT_ARRAY_BUFFER });

  const bufferViews: Record<string, number>[] = [];
  let offset = 0;
  for (const p of parts) {
    bufferViews.push({ buffer: 0, byteOffset: offset, byteLength: p.bytes.byteLength, target: p.target });
    offset = pad4(offset + p.bytes.byteLength);
  }
  const binLength = offset;
  const bounds = meshBounds(mesh.positions);
  const accessors: Record<string, unknown>[] = [
    { bufferView: 0, componentType: FLOAT, count: vertices, type: 'VEC3', ...(vertices > 0 ? { min: bounds.min, max: bounds.max } : {}) },
    { bufferView: 1, componentType: FLOAT, count: vertices, type: 'VEC3' },
  ];
  const attributes: Record<string, number> = { POSITION: 0, NORMAL: 1 };
  if (rgba) {
    attributes.COLOR_0 = accessors.length;
    accessors.push({ bufferView: 2, componentType: UNSIGNED_BYTE, normalized: true, count: vertices, type: 'VEC4' });
  }
  const indicesAccessor = accessors.length;
  accessors.push({ bufferView: bufferViews.length - 1, componentType: UNSIGNED_INT, count: mesh.indices.length, type: 'SCALAR' });
  const json = {
    asset: { version: '2.0', generator: opts.generator ?? 'Adapter3D Studio' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0, name: opts.name ?? 'mesh' }],
    meshes: [{ name: opts.name ?? 'mesh', primitives: [{ attributes, indices: indicesAccessor, material: 0, mode: 4 }] }],
    materials: [{ name: 'vertex colours', pbrMetallicRoughness: { baseColorFactor: [1, 1, 1, 1], metallicFactor: 0, roughnessFactor: 0.85 }, doubleSided: false }],
    buffers: [{ byteLength: binLength }],
    bufferViews,
    accessors,
  };
  const jsonBytes = new TextEncoder().encode(JSON.stringify(json));
  const jsonLength = pad4(jsonBytes.byteLength);
  const total = 12 + 8 + jsonLength + 8 + binLength;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x46546c67, true); // 'glTF'
  dv.setUint32(4, 2, true);
  dv.setUint32(8, total, true);
  dv.setUint32(12, jsonLength, true);
  dv.setUint32(16, 0x4e4f534a, true); // 'JSON'
  out.set(jsonBytes, 20);
  out.fill(0x20, 20 + jsonBytes.byteLength, 20 + jsonLength); // JSON chunk padded with spaces
  let p = 20 + jsonLength;
  dv.setUint32(p, binLength, true);
  dv.setUint32(p + 4, 0x004e4942, true); // 'BIN\0'
  p += 8;
  for (let i = 0; i < parts.length; i++) out.set(parts[i].bytes, p + (bufferViews[i].byteOffset as number));
  return out;
}

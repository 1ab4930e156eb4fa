/**
 * PLY writer (binary little-endian 1.0): vertices with float x, y, z, float nx, ny, nz (computed when
 * the mesh has none) and, when the mesh has colours, uchar red, green, blue; faces as
 * `list uchar int vertex_indices` (triangles). Reads in MeshLab, Blender, three.js' PLYLoader.
 */
import { checkMesh, vertexNormals, type TriangleMesh } from './mesh.ts';

export function writePly(mesh: TriangleMesh, comment = 'Adapter3D Studio mesh'): Uint8Array {
  checkMesh(mesh);
  const vertices = mesh.positions.length / 3;
  const faces = mesh.indices.length / 3;
  const normals = mesh.normals ?? vertexNormals(mesh.positions, mesh.indices);
  const colors = mesh.colors;
  const header =
    'ply\nformat binary_little_endian 1.0\n' +
    `comment ${comment.replace(/\s+/g, ' ')}\n` +
    `element vertex ${vertices}\n` +
    'property float x\nproperty float y\nproperty float z\n' +
    'property float nx\nproperty float ny\nproperty float nz\n' +
    (colors ? 'property uchar red\nproperty uchar green\nproperty uchar blue\n' : '') +
    `element face ${faces}\nproperty list uchar int vertex_indices\nend_header\n`;
  const head = new TextEncoder().encode(header);
  const vertexBytes = 24 + (colors ? 3 : 0);
  const out = new Uint8Array(head.byteLength + vertices * vertexBytes + faces * 13);
  out.set(head, 0);
  const dv = new DataView(out.buffer);
  let p = head.byteLength;
  for (let v = 0; v < vertices; v++) {
    for (let k = 0; k < 3; k++) dv.setFloat32(p + 4 * k, mesh.positions[v * 3 + k], true);
    for (let k = 0; k < 3; k++) dv.setFloat32(p + 12 + 4 * k, normals[v * 3 + k], true);
    p += 24;
    if (colors) {
      out[p] = colors[v * 3];
      out[p + 1] = colors[v * 3 + 1];
      out[p + 2] = colors[v * 3 + 2];
      p += 3;
    }
  }
  for (let f = 0; f < faces; f++) {
    out[p] = 3;
    dv.setInt32(p + 1, mesh.indices[f * 3], true);
    dv.setInt32(p + 5, mesh.indices[f * 3 + 1], true);
    dv.setInt32(p + 9, mesh.indices[f * 3 + 2], true);
    p += 13;
  }
  return out;
}

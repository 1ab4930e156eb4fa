/**
 * Tri-plane sampling as one WGSL compute kernel for tfjs's webgpu backend (same maths as
 * `sampleTriplanesInto` in triplane.ts). One invocation computes one (point, channel) output: it
 * projects the point onto the three planes, reads the 4 bilinear taps of each (zero outside) and
 * averages. The program is handed to the backend's `runWebGPUProgram`, which adds the standard
 * tfjs prelude (bindings, uniforms, `setOutputAtIndex`, dispatch reshaping past 65535 groups).
 *
 * This module does not import @tensorflow/tfjs-backend-webgpu, so bundles without WebGPU stay lean;
 * the program object matches the backend's `WebGPUProgram` interface structurally.
 */
import * as tf from '@tensorflow/tfjs';
import { isWebGPUBackend, type ProgramUniform, type WebGPUBackendLike, type WebGPUProgramLike } from '../nn/webgpu-program.ts';

// The program types moved to src/nn/webgpu-program.ts (importable from every numeric layer); re-exported here.
export { isWebGPUBackend, runFloatProgram, type ProgramUniform, type WebGPUBackendLike, type WebGPUProgramLike } from '../nn/webgpu-program.ts';

const WORKGROUP = 64;

function triplaneProgram(points: number, channels: number): WebGPUProgramLike {
  const outputShape = [points, channels];
  return {
    outputShape,
    shaderKey: 'eg3dTriplaneSample',
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil((points * channels) / WORKGROUP), 1, 1],
    variableNames: ['planes', 'xyz'],
    uniforms: 'planeOffset : i32, height : i32, width : i32, channels : i32, scale : f32,',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn planeTap(base : i32, row : i32, col : i32, c : i32) -> f32 {
        if (row < 0 || row >= uniforms.height || col < 0 || col >= uniforms.width) {
          return 0.0;
        }
        return planes[base + (row * uniforms.width + col) * uniforms.channels + c];
      }

      // grid_sample(bilinear, align_corners=False, zeros): u → column, v → row.
      fn samplePlane(plane : i32, u : f32, v : f32, c : i32) -> f32 {
        let w = f32(uniforms.width);
        let h = f32(uniforms.height);
        // Clamping keeps far-away points in i32 range; beyond [-1, size] every tap is outside anyway.
        let ix = clamp(((u + 1.0) * w - 1.0) * 0.5, -2.0, w + 1.0);
        let iy = clamp(((v + 1.0) * h - 1.0) * 0.5, -2.0, h + 1.0);
        let x0f = floor(ix);
        let y0f = floor(iy);
        let fx = ix - x0f;
        let fy = iy - y0f;
        let x0 = i32(x0f);
        let y0 = i32(y0f);
        let base = uniforms.planeOffset + plane * uniforms.height * uniforms.width * uniforms.channels;
        let top = (1.0 - fx) * planeTap(base, y0, x0, c) + fx * planeTap(base, y0, x0 + 1, c);
        let bottom = (1.0 - fx) * planeTap(base, y0 + 1, x0, c) + fx * planeTap(base, y0 + 1, x0 + 1, c);
        return (1.0 - fy) * top + fy * bottom;
      }

      fn main(index : i32) {
        if (index < uniforms.size) {
          let p = index / uniforms.channels;
          let c = index - p * uniforms.channels;
          let x = xyz[3 * p] * uniforms.scale;
          let y = xyz[3 * p + 1] * uniforms.scale;
          let z = xyz[3 * p + 2] * uniforms.scale;
          // EG3D's released plane axes: (x, y), (x, z), (z, x).
          let s = samplePlane(0, x, y, c) + samplePlane(1, x, z, c) + samplePlane(2, z, x, c);
          setOutputAtIndex(index, s / 3.0);
        }
      }
    `,
  };
}

/**
 * Runs the kernel: `planesFlat` is the `[N·3·H·W·C]` plane data, `xyz` `[P, 3]` points of batch
 * element `n`; returns `[P, C]` (a constant: not recorded on the gradient tape).
 */
export function runTriplaneKernel(
  planesFlat: tf.Tensor1D,
  geom: { height: number; width: number; channels: number },
  n: number,
  xyz: tf.Tensor2D,
  boxWarp: number,
): tf.Tensor2D {
  if (!isWebGPUBackend()) throw new Error(`the tri-plane WGSL kernel needs the webgpu backend (active: ${tf.getBackend()})`);
  const { height, width, channels } = geom;
  const points = xyz.shape[0];
  if (points === 0) return tf.zeros([0, channels]);
  const planeOffset = n * 3 * height * width * channels;
  if (planeOffset + 3 * height * width * channels > planesFlat.size) throw new Error(`batch index ${n} is outside the plane buffer`);
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  const xyzFlat = tf.reshape(xyz, [points * 3]);
  try {
    // One entry per scalar field: the backend aligns each entry by its length (4 values → 16 bytes),
    // which would not match the WGSL layout of four consecutive i32 fields.
    const uniforms: ProgramUniform = [
      { type: 'int32', data: [planeOffset] },
      { type: 'int32', data: [height] },
      { type: 'int32', data: [width] },
      { type: 'int32', data: [channels] },
      { type: 'float32', data: [2 / boxWarp] },
    ];
    const info = backend.runWebGPUProgram(triplaneProgram(points, channels), [planesFlat, xyzFlat], 'float32', uniforms);
    return tf.engine().makeTensorFromTensorInfo(info) as tf.Tensor2D;
  } finally {
    xyzFlat.dispose();
  }
}

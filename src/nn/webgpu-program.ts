/**
 * The WebGPU program types the project's fused WGSL kernels share (src/nn/adam-kernels-webgpu.ts,
 * src/eg3d/*-webgpu.ts, src/clip/vit-kernels-webgpu.ts; src/eg3d/triplane-webgpu.ts re-exports them).
 * A program object structurally matches tfjs-backend-webgpu's `WebGPUProgram` and is handed to the
 * backend's `runWebGPUProgram`, which adds the standard tfjs prelude (bindings, uniforms,
 * `setOutputAtIndex`, dispatch reshaping past 65535 groups).
 *
 * Nothing here imports @tensorflow/tfjs-backend-webgpu, so bundles without WebGPU stay lean.
 */
import * as tf from '@tensorflow/tfjs';

/** The parts of tfjs-backend-webgpu's `WebGPUProgram` the project's kernels use. */
export interface WebGPUProgramLike {
  outputShape: number[];
  shaderKey: string;
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  variableNames: string[];
  uniforms: string;
  workgroupSize: [number, number, number];
  size: boolean;
  getUserCode(): string;
}

export type ProgramUniform = Array<{ type: 'int32' | 'float32'; data: number[] }>;

export interface WebGPUBackendLike {
  runWebGPUProgram(program: WebGPUProgramLike, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: ProgramUniform): tf.TensorInfo;
}

export function isWebGPUBackend(): boolean {
  return tf.getBackend() === 'webgpu';
}

/**
 * Runs a float32 program on the active webgpu backend and returns its output as a tensor; on another backend,
 * throws `wrongBackend(active backend)` (each kernel module's own typed error).
 */
export function runFloatProgram(program: WebGPUProgramLike, inputs: tf.Tensor[], uniforms: ProgramUniform | undefined, wrongBackend: (active: string) => Error): tf.Tensor {
  if (!isWebGPUBackend()) throw wrongBackend(tf.getBackend());
  const backend = tf.backend() as unknown as WebGPUBackendLike;
  return tf.engine().makeTensorFromTensorInfo(backend.runWebGPUProgram(program, inputs, 'float32', uniforms));
}

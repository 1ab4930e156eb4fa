/**
 * WebGPU counters for the GPU benchmarks (tfjs-backend-webgpu 4.x, read from its source): the backend's
 * `recordAndSubmit` (one compute dispatch per program run), `runWebGPUProgram` (new `shaderKey`s in
 * `pipelineCache` = shader programs compiled), `uploadToGPU` (a tensor whose values still sit on the CPU is
 * copied into a GPU buffer), `getBufferData` (a GPU buffer mapped and copied back to the CPU = a readback),
 * `device.queue.writeBuffer` (uniforms), and the buffer pool (`bufferManager.acquireBuffer`): `numBytesUsed`
 * is tfjs' count of bytes in buffers handed out, `numBytesAllocated` the pool's real allocation (freed
 * buffers stay allocated for reuse). Peaks are sampled at every buffer acquisition.
 */
import * as tf from '@tensorflow/tfjs';

export interface GpuCounts {
  dispatches: number;
  /** Distinct shader programs (shaderKey) run. */
  programsRun: number;
  /** Programs compiled (new pipelines) during the measurement. */
  programsCompiled: number;
  uploadBytes: number;
  uploads: number;
  uniformBytes: number;
  readbackBytes: number;
  readbacks: number;
  /** Where the readbacks came from (first project frame of each call stack, with counts). */
  readbackSites: Map<string, number>;
  /** tfjs' bytes in GPU buffers handed out: at the start, peak. */
  usedBytesStart: number;
  usedBytesPeak: number;
  /** The buffer pool's real allocation: at the start, peak. */
  allocatedBytesStart: number;
  allocatedBytesPeak: number;
}

interface BufferManagerLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  acquireBuffer: (...args: unknown[]) => unknown;
}
interface WebGPUBackendLike {
  bufferManager: BufferManagerLike;
  pipelineCache: Record<string, unknown>;
  tensorMap: { get(id: unknown): { values: unknown; shape: number[]; dtype: string } | undefined };
  device: { queue: { writeBuffer: (...args: unknown[]) => unknown } };
  adapterInfo?: { vendor?: string; architecture?: string };
  recordAndSubmit: (program: { shaderKey?: string }, ...rest: unknown[]) => unknown;
  uploadToGPU: (dataId: unknown) => unknown;
  getBufferData: (buffer: { size: number }) => Promise<unknown>;
  runWebGPUProgram: (...args: unknown[]) => unknown;
}

/** The webgpu backend, or null when tfjs runs another backend. */
export function webgpuBackend(): WebGPUBackendLike | null {
  return tf.getBackend() === 'webgpu' ? (tf.backend() as unknown as WebGPUBackendLike) : null;
}

/** "vendor architecture" of the WebGPU adapter tfjs runs on (SwiftShader reports google / swiftshader). */
export function adapterName(): string {
  const info = webgpuBackend()?.adapterInfo;
  return [info?.vendor, info?.architecture].filter(Boolean).join(' ') || 'unknown adapter';
}

function callSite(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(2);
  const own = lines.find((l) => /\/(src|scripts)\//.test(l) && !/counters\.ts/.test(l));
  return (own ?? lines[0] ?? '?').trim().replace(/^at /, '').replace(/\(?file:\/\/\/?.*?\/(src|scripts)\//, '$1/').replace(/\)$/, '');
}

/** Counts what the backend does while `fn` runs; the patches are removed afterwards. */
export async function countGpu<T>(fn: () => Promise<T>): Promise<{ result: T; counts: GpuCounts }> {
  const be = webgpuBackend();
  if (!be) throw new Error('countGpu needs the webgpu backend');
  const bm = be.bufferManager;
  const c: GpuCounts = {
    dispatches: 0, programsRun: 0, programsCompiled: 0, uploadBytes: 0, uploads: 0, uniformBytes: 0, readbackBytes: 0, readbacks: 0,
    readbackSites: new Map(), usedBytesStart: bm.numBytesUsed, usedBytesPeak: bm.numBytesUsed,
    allocatedBytesStart: bm.numBytesAllocated, allocatedBytesPeak: bm.numBytesAllocated,
  };
  const keys = new Set<string>();
  const compiledBefore = Object.keys(be.pipelineCache).length;
  const orig = {
    recordAndSubmit: be.recordAndSubmit,
    uploadToGPU: be.uploadToGPU,
    getBufferData: be.getBufferData,
    acquireBuffer: bm.acquireBuffer,
    writeBuffer: be.device.queue.writeBuffer,
  };
  be.recordAndSubmit = function (program, ...rest) {
    c.dispatches++;
    if (program.shaderKey) keys.add(program.shaderKey);
    return orig.recordAndSubmit.call(this, program, ...rest);
  };
  be.uploadToGPU = function (dataId) {
    const d = be.tensorMap.get(dataId);
    if (d && d.values != null) {
      c.uploads++;
      c.uploadBytes += 4 * d.shape.reduce((a, b) => a * b, 1);
    }
    return orig.uploadToGPU.call(this, dataId);
  };
  be.getBufferData = function (buffer) {
    c.readbacks++;
    c.readbackBytes += buffer.size;
    const site = callSite();
    c.readbackSites.set(site, (c.readbackSites.get(site) ?? 0) + 1);
    return orig.getBufferData.call(this, buffer);
  };
  bm.acquireBuffer = function (...args) {
    const r = orig.acquireBuffer.apply(this, args);
    c.usedBytesPeak = Math.max(c.usedBytesPeak, bm.numBytesUsed);
    c.allocatedBytesPeak = Math.max(c.allocatedBytesPeak, bm.numBytesAllocated);
    return r;
  };
  const queue = be.device.queue;
  queue.writeBuffer = function (...args) {
    const data = args[2] as ArrayBufferView | ArrayBuffer | undefined;
    c.uniformBytes += data ? data.byteLength : 0;
    return orig.writeBuffer.apply(this, args);
  };
  try {
    const result = await fn();
    c.programsRun = keys.size;
    c.programsCompiled = Object.keys(be.pipelineCache).length - compiledBefore;
    return { result, counts: c };
  } finally {
    be.recordAndSubmit = orig.recordAndSubmit;
    be.uploadToGPU = orig.uploadToGPU;
    be.getBufferData = orig.getBufferData;
    bm.acquireBuffer = orig.acquireBuffer;
    queue.writeBuffer = orig.writeBuffer;
  }
}

export const MiB = (b: number) => b / 2 ** 20;

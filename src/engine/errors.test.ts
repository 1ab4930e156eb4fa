/** The engine's one error classifier: AppError kinds pass through, failures of the runtime are recognised. */
import { describe, expect, it } from 'vitest';
import { ConvShapeError } from '../nn/conv.ts';
import { TruncatedFileError } from '../io/byte-source.ts';
import { UnsupportedArchitectureError } from '../eg3d/config.ts';
import { MeanEmbeddingCancelled } from '../adapter/mean-embedding.ts';
import { MethodOptionError } from '../adapter/options.ts';
import { AdaptedFileError } from '../adapter/export.ts';
import { classifyError, fileError, isOutOfMemory, toErrorInfo } from './errors.ts';
import { EngineError } from './types.ts';

describe('classifyError', () => {
  it('keeps the kind of every AppError (an internal shape error is not an incompatible file)', () => {
    expect(classifyError(new ConvShapeError('conv2d: channels 3 ≠ 4')).code).toBe('internal');
    expect(classifyError(new TruncatedFileError('g.pkl', 10, 20, 15)).code).toBe('corrupt-file');
    expect(classifyError(new UnsupportedArchitectureError("architecture is 'resnet'")).code).toBe('incompatible-file');
    expect(classifyError(new MeanEmbeddingCancelled()).code).toBe('cancelled');
    expect(classifyError(new MethodOptionError('previewViews must be ≥ 1')).code).toBe('bad-settings');
    expect(classifyError(new AdaptedFileError('incompatible', 'other base')).code).toBe('incompatible-file');
    expect(classifyError(new AdaptedFileError('corrupt', 'bad json')).code).toBe('corrupt-file');
    const e = new EngineError('device-lost', 'gone');
    expect(classifyError(e)).toBe(e);
    expect(classifyError(new ConvShapeError('x'))).toBeInstanceOf(EngineError);
  });

  it('recognises out-of-memory, a wasm abort and a lost device; the rest is internal', () => {
    expect(classifyError(new Error('Failed to allocate 4294967296 bytes')).code).toBe('out-of-memory');
    expect(classifyError(new RangeError('Array buffer allocation failed')).code).toBe('out-of-memory');
    expect(classifyError(new RangeError('Invalid typed array length: 1e12')).code).toBe('out-of-memory');
    expect(classifyError(new Error('GPU OOM while creating a buffer')).code).toBe('out-of-memory');
    expect(classifyError(new WebAssembly.RuntimeError('unreachable')).code).toBe('out-of-memory');
    expect(classifyError(new Error('RuntimeError: Aborted(). Build with -sASSERTIONS for more info.')).code).toBe('out-of-memory');
    const tfjsTypeError = new TypeError("Cannot read properties of undefined (reading 'dataIdMap')");
    tfjsTypeError.stack = 'TypeError: ...\n    at Engine.runKernel (node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js:4400:25)';
    expect(classifyError(tfjsTypeError, 'wasm').code).toBe('out-of-memory');
    expect(classifyError(tfjsTypeError, 'webgpu').code).toBe('internal');
    expect(classifyError(new Error('Device was lost: destroyed')).code).toBe('device-lost');
    expect(classifyError(new Error('zoom level out of range')).code).toBe('internal');
    expect(isOutOfMemory(new Error('the room is full'))).toBe(false);
    expect(classifyError('a string').toInfo()).toEqual({ code: 'internal', message: 'a string' });
    expect(toErrorInfo(new Error('Failed to allocate')).code).toBe('out-of-memory');
  });

  it('a GPU out-of-memory (WebGPU error or a buffer over the device limits) says what to do on the GPU', () => {
    class GPUOutOfMemoryError extends Error {
      override name = 'GPUOutOfMemoryError';
    }
    for (const e of [
      new GPUOutOfMemoryError('Allocation of 8589934592 bytes failed'),
      new Error('Buffer size (6442450944) exceeds the max buffer size limit (4294967296).'),
      new Error('Out of memory'),
    ]) {
      const err = classifyError(e, 'webgpu');
      expect(err.code, e.message).toBe('out-of-memory');
      expect(err.message).toMatch(/GPU ran out of memory/);
      expect(err.message).toMatch(/batch size 1/);
      expect(err.message).toMatch(/one CLIP encoder/);
    }
    // The same messages on the CPU backends keep the generic advice; unrelated errors stay internal.
    expect(classifyError(new Error('Out of memory'), 'wasm').message).not.toMatch(/GPU/);
    expect(classifyError(new Error('shader compilation failed'), 'webgpu').code).toBe('internal');
  });

  it('fileError names the file for file kinds only', () => {
    expect(fileError(new TruncatedFileError('g.pkl', 10, 20, 15), 'g.pkl').message).toMatch(/^g\.pkl: /);
    expect(fileError(new UnsupportedArchitectureError('no'), 'x.pkl').message).toBe('x.pkl: no');
    expect(fileError(new ConvShapeError('bad'), 'x.pkl')).toMatchObject({ code: 'internal', message: 'bad' });
  });
});

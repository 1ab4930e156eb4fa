/**
 * The one classifier that maps anything thrown — an AppError from the numeric core, a tfjs / wasm /
 * WebGPU failure, a stray TypeError — to an `EngineError` (types.ts: the AppError every AdapterEngine
 * call rejects with, whose kind crosses the worker boundary as `code`).
 * Out-of-memory, a dead wasm module and a lost GPU device are recognised here and nowhere else.
 * No tfjs here: the worker client (page side) classifies a dying worker's error with it too.
 */
import { AppError } from '../core/errors.ts';
import { EngineError, type EngineErrorInfo } from './types.ts';

const OUT_OF_MEMORY = /out of memory|allocation failed|Failed to allocate|Array buffer allocation|Invalid typed array length|Invalid array buffer length/i;
const OUT_OF_MEMORY_CASED = /\bOOM\b/;
const DEVICE_LOST = /device (?:was |is |has been )?lost|GPUDevice.*\blost\b|DeviceLost/i;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** An allocation failure: a wasm heap or GPU buffer that could not grow, a typed array too large. */
export function isOutOfMemory(e: unknown): boolean {
  const message = messageOf(e);
  return OUT_OF_MEMORY.test(message) || OUT_OF_MEMORY_CASED.test(message);
}

/**
 * A wasm heap exhaustion aborts the Emscripten module (RuntimeError "Aborted()"); tfjs then fails on
 * its next kernel with a TypeError from its own internals. Both mean the backend is gone. `backend`
 * is the active tfjs backend ('wasm' enables the TypeError case).
 */
function isWasmAbort(e: unknown, backend: string | null = null): boolean {
  if (typeof WebAssembly !== 'undefined' && e instanceof WebAssembly.RuntimeError) return true;
  const message = messageOf(e);
  if (/Aborted\(|memory access out of bounds|Cannot enlarge memory/.test(message)) return true;
  return (
    e instanceof TypeError &&
    /Cannot read properties of undefined/.test(message) &&
    /tfjs-core|engine\.ts|runKernel/.test(e.stack ?? '') &&
    backend === 'wasm'
  );
}

/** WebGPU's out-of-memory error, or a buffer beyond the device's limits (Dawn's validation message). */
function isGpuTooLarge(e: unknown): boolean {
  const name = e instanceof Error ? e.name : typeof e === 'object' && e !== null ? String((e as { constructor?: { name?: string } }).constructor?.name) : '';
  return name === 'GPUOutOfMemoryError' || /exceeds the max(?:imum)? (?:storage )?buffer|maxBufferSize|maxStorageBufferBindingSize/i.test(messageOf(e));
}

/** A GPU device loss that surfaced as an exception (the backend's device-lost callback is the other route). */
function isDeviceLost(e: unknown): boolean {
  return DEVICE_LOST.test(messageOf(e));
}

/**
 * Maps anything thrown to an EngineError: an AppError keeps its kind and message (a cancelled μ_s is
 * 'cancelled', a ConvShapeError 'internal'); otherwise out-of-memory, a wasm abort and a lost device
 * are recognised, and the rest is 'internal'. `backend`: the active tfjs backend, when known.
 */
export function classifyError(e: unknown, backend: string | null = null): EngineError {
  if (e instanceof EngineError) return e;
  if (e instanceof AppError) return new EngineError(e.kind, e.message, { cause: e });
  const message = messageOf(e);
  if (backend === 'webgpu' && (isOutOfMemory(e) || isGpuTooLarge(e))) {
    return new EngineError(
      'out-of-memory',
      `The GPU ran out of memory (${message}). Use batch size 1, or one CLIP encoder (ViT-B/32) instead of two, ` +
        'or step1Output = raw-upsampled for step 1, then start again; the loaded generator and the adapted weights exported or checkpointed so far are kept.',
      { cause: e },
    );
  }
  if (isOutOfMemory(e)) {
    return new EngineError('out-of-memory', `Ran out of memory (${message}). Try batch size 1, fewer preview views, or the embedded demo model.`, { cause: e });
  }
  if (isWasmAbort(e, backend)) {
    return new EngineError(
      'out-of-memory',
      `The WebAssembly backend stopped (${message}): its memory is capped at 4 GiB, which one iteration at this resolution exceeds. ` +
        'Reload, then use batch size 1, step1Output = raw-upsampled, or the embedded demo model; full-size EG3D needs WebGPU.',
      { cause: e },
    );
  }
  if (isDeviceLost(e)) return new EngineError('device-lost', `The GPU device was lost (${message}).`, { cause: e });
  return new EngineError('internal', message, { cause: e });
}

/**
 * Errors while loading a file: like classifyError, with the file's name in front of the message of
 * the file kinds (a corrupt or incompatible file). An internal error (e.g. a ConvShapeError) stays
 * internal: it is a bug, not the user's file.
 */
export function fileError(e: unknown, what: string, backend: string | null = null): EngineError {
  const err = classifyError(e, backend);
  if ((err.code === 'corrupt-file' || err.code === 'incompatible-file') && !err.message.startsWith(`${what}:`)) {
    return new EngineError(err.code, `${what}: ${err.message}`, { cause: err.cause ?? e });
  }
  return err;
}

/** The info that crosses the worker boundary, for anything thrown. */
export function toErrorInfo(e: unknown, backend: string | null = null): EngineErrorInfo {
  return classifyError(e, backend).toInfo();
}

/**
 * The WebGPU buffer pool between training iterations (memory plan item 4, docs/method.md). tfjs-backend-webgpu
 * keeps every freed buffer for reuse under its exact (size, usage) key, so the pool's real allocation grows past
 * the bytes tensors hold (1.2–4.4× measured, docs/benchmarks.md) and fragmentation by size could push a run that
 * fits an 8 GiB GPU out of it. `trimWebGPUPool` destroys the free buffers when the pool holds more than
 * `maxSlackBytes` beyond what is in use; the next iteration re-creates what it needs.
 *
 * It reads tfjs-webgpu 4.x's `BufferManager` fields (`freeBuffers`, `numFreeBuffers`, `numBytesUsed`,
 * `numBytesAllocated`), checked at run time: another tfjs version without them is left alone. Call it only
 * when the GPU queue holds no work on the free buffers (after a readback, e.g. the iteration's loss values).
 */
import * as tf from '@tensorflow/tfjs';
import { isWebGPUBackend } from './webgpu-program.ts';

/** Slack above which a training iteration trims the pool (1 GiB). */
export const POOL_SLACK_BYTES = 2 ** 30;

interface PoolBuffer {
  size: number;
  destroy(): void;
}

interface BufferPoolLike {
  numBytesUsed: number;
  numBytesAllocated: number;
  numFreeBuffers: number;
  freeBuffers: Map<string, PoolBuffer[]>;
}

function pool(): BufferPoolLike | null {
  if (!isWebGPUBackend()) return null;
  const p = (tf.backend() as unknown as { bufferManager?: Partial<BufferPoolLike> }).bufferManager;
  if (!p || !(p.freeBuffers instanceof Map) || typeof p.numBytesAllocated !== 'number' || typeof p.numBytesUsed !== 'number' || typeof p.numFreeBuffers !== 'number') {
    return null;
  }
  return p as BufferPoolLike;
}

/** Bytes tensors hold and bytes the pool has allocated, on webgpu; null on other backends. */
export function webgpuPoolBytes(): { used: number; allocated: number } | null {
  const p = pool();
  return p ? { used: p.numBytesUsed, allocated: p.numBytesAllocated } : null;
}

/** Destroys the pool's free buffers when it holds more than `maxSlackBytes` beyond the bytes in use; returns the bytes freed. */
export function trimWebGPUPool(maxSlackBytes = POOL_SLACK_BYTES): number {
  const p = pool();
  if (!p || p.numBytesAllocated - p.numBytesUsed <= maxSlackBytes) return 0;
  let freed = 0;
  // The keys stay (emptied): tfjs' releaseBuffer returns early when the map itself is empty.
  for (const buffers of p.freeBuffers.values()) {
    for (const b of buffers) {
      b.destroy();
      freed += b.size;
    }
    p.numFreeBuffers -= buffers.length;
    buffers.length = 0;
  }
  p.numBytesAllocated -= freed;
  return freed;
}

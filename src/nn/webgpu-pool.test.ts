/**
 * Trimming tfjs-webgpu's buffer pool (webgpu-pool.ts): on webgpu, freed buffers of many sizes make the pool
 * hold more than tensors use; a trim above the slack destroys exactly the free ones, tensors alive across it
 * keep their values, later ops and releases work (buffers return to the pool), and below the slack nothing
 * happens. On other backends it is a no-op.
 */
import { expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackends } from '../testing/backends.ts';
import { trimWebGPUPool, webgpuPoolBytes } from './webgpu-pool.ts';

describeBackends('WebGPU buffer pool trimming', (suite) => {
  it('destroys the free buffers above the slack and nothing else', async () => {
    if (!suite.isWebGPU) {
      expect(webgpuPoolBytes()).toBeNull();
      expect(trimWebGPUPool(0)).toBe(0);
      return;
    }
    // Tensors of ≥ 1,000 values: tfjs-webgpu runs smaller ops on the CPU.
    const kept = tf.range(1, 4097);
    const keptDoubled = tf.mul(kept, 2); // lives on the GPU across the trim
    // Freed results of many sizes: each size is its own pool key.
    for (let n = 100; n < 140; n++) {
      const t = tf.add(tf.ones([n * 16]), 1);
      await t.data();
      t.dispose();
    }
    const before = webgpuPoolBytes()!;
    expect(before.allocated - before.used).toBeGreaterThan(100 * 16 * 4 * 30);
    expect(trimWebGPUPool(before.allocated)).toBe(0); // below the slack: nothing
    expect(webgpuPoolBytes()).toEqual(before);
    const freed = trimWebGPUPool(0);
    const after = webgpuPoolBytes()!;
    expect(freed).toBe(before.allocated - before.used);
    expect(after).toEqual({ used: before.used, allocated: before.used });
    expect(Array.from((await keptDoubled.data()).slice(0, 5))).toEqual([2, 4, 6, 8, 10]);
    // The pool still works: new buffers, and releases back into it (no buffer stays counted as used).
    const usedBefore = webgpuPoolBytes()!.used;
    for (let k = 0; k < 3; k++) {
      const t = tf.tidy(() => tf.add(tf.mul(kept, 3), 1));
      expect(Array.from((await t.data()).slice(0, 5))).toEqual([4, 7, 10, 13, 16]);
      t.dispose();
    }
    const settle = tf.tidy(() => tf.add(kept, 0));
    await settle.data();
    settle.dispose();
    expect(webgpuPoolBytes()!.used).toBeLessThanOrEqual(usedBefore);
    expect(webgpuPoolBytes()!.allocated).toBeGreaterThan(webgpuPoolBytes()!.used);
    tf.dispose([kept, keptDoubled]);
  });
});

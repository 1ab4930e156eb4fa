import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlobByteSource } from '../io/byte-source.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { readEG3DPickle } from './checkpoint.ts';
import { PickleExportError, storagePatches, writeEG3DPickleWithReplacedTensors } from './pickle-export.ts';

/** Number of differing elements (bitwise float compare; a loop is far faster than deep equality). */
function mismatches(a: Float32Array, b: Float32Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) n++;
  return n;
}

const PKL = join(process.cwd(), '..', 'shared', 'fixtures', 'eg3d-tiny.pkl');

describe('writeEG3DPickleWithReplacedTensors', () => {
  it.each(['file source (chunked copy)', 'Blob source (slices)'])('replaces only decoder.* and superresolution.* (%s)', async (mode) => {
    const fileBytes = new Uint8Array(readFileSync(PKL));
    const source = mode.startsWith('Blob') ? new BlobByteSource(new Blob([fileBytes]), 'eg3d-tiny.pkl') : await NodeFileByteSource.open(PKL);
    const ckpt = await readEG3DPickle(source);
    const replaced = ckpt.keys.filter((k) => k.startsWith('decoder.') || k.startsWith('superresolution.'));
    expect(replaced.length).toBeGreaterThan(20);
    const replacements = new Map<string, Float32Array>();
    for (const k of replaced) {
      const { data } = await ckpt.read(k);
      replacements.set(k, data.map((v, i) => -1.5 * v + 0.25 + i * 1e-3));
    }
    const blob = await writeEG3DPickleWithReplacedTensors(ckpt, replacements);
    expect(blob.size).toBe(fileBytes.length);

    const again = await readEG3DPickle(new BlobByteSource(blob, 'adapted.pkl'));
    expect(again.keys).toEqual(ckpt.keys);
    expect(again.initKwargs).toEqual(ckpt.initKwargs);
    for (const k of ckpt.keys) {
      const got = (await again.read(k)).data;
      const expected = replacements.get(k) ?? (await ckpt.read(k)).data;
      expect(got.length, k).toBe(expected.length);
      expect(mismatches(got, expected), k).toBe(0);
    }
    // Everything outside the replaced storages is byte-identical.
    const out = new Uint8Array(await blob.arrayBuffer());
    let changed = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== fileBytes[i]) changed++;
    const replacedBytes = replaced.reduce((s, k) => s + replacements.get(k)!.length * 4, 0);
    expect(changed).toBeGreaterThan(0);
    expect(changed).toBeLessThanOrEqual(replacedBytes);
  });

  it('refuses keys outside G_ema and wrong sizes', async () => {
    const ckpt = await readEG3DPickle(await NodeFileByteSource.open(PKL));
    await expect(writeEG3DPickleWithReplacedTensors(ckpt, new Map([['D.b4.fc.weight', new Float32Array(4)]]))).rejects.toThrow(PickleExportError);
    await expect(writeEG3DPickleWithReplacedTensors(ckpt, new Map([['decoder.net.0.weight', new Float32Array(5)]]))).rejects.toThrow(/5 values given/);
  });
});

describe('storagePatches', () => {
  it('writes a transposed view with a storage offset as per-run patches', () => {
    // view [3,2] with strides [1,3] at offset 1 → storage elements 1,4,2,5,3,6
    const patches = storagePatches({ shape: [3, 2], stride: [1, 3], offset: 1 }, 'float32', Float32Array.from([10, 40, 20, 50, 30, 60]));
    const storage = new Float32Array(8);
    const bytes = new Uint8Array(storage.buffer);
    for (const p of patches) bytes.set(p.bytes, p.byteOffset);
    expect(Array.from(storage)).toEqual([0, 10, 20, 30, 40, 50, 60, 0]);
    expect(() => storagePatches({ shape: [3], stride: [0], offset: 0 }, 'float32', new Float32Array(3))).toThrow(PickleExportError);
  });

  it('writes half storages in fp16', () => {
    const [p] = storagePatches({ shape: [2], stride: [1], offset: 2 }, 'float16', Float32Array.from([1, -2]));
    expect(p.byteOffset).toBe(4);
    expect(Array.from(new Uint16Array(p.bytes.slice().buffer))).toEqual([0x3c00, 0xc000]);
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ByteSource } from './byte-source.ts';
import { SafetensorsFile } from './safetensors.ts';
import { TorchScriptArchive } from './torchscript.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';

const FIXTURES = join(process.cwd(), '..', 'shared', 'fixtures');

class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  read(offset: number, length: number) {
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

/** max |a−b| / fp16 rounding bound (≤ 1 means equal within fp16 rounding). */
function fp16Error(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let k = 0; k < a.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) / (Math.abs(b[k]) * 2 ** -11 + 2 ** -25));
  return worst;
}

describe('TorchScriptArchive(clip-tiny.pt)', () => {
  it('exposes the attribute tree as flat tensor paths with the HF shapes and values', async () => {
    const src = new CountingSource(await NodeFileByteSource.open(join(FIXTURES, 'clip-tiny.pt')));
    const pt = await TorchScriptArchive.open(src);
    const hf = await SafetensorsFile.open(await NodeFileByteSource.open(join(FIXTURES, 'clip-tiny.hf.safetensors')));
    expect(pt.root).toBe('clip-tiny');
    const shape = (k: string) => pt.get(k).shape;
    expect(shape('visual.conv1.weight')).toEqual([64, 3, 16, 16]);
    expect(shape('visual.class_embedding')).toEqual([64]);
    expect(shape('visual.positional_embedding')).toEqual([17, 64]);
    expect(shape('visual.proj')).toEqual([64, 32]);
    expect(shape('logit_scale')).toEqual([]);
    for (let b = 0; b < 3; b++) {
      expect(shape(`visual.transformer.resblocks.${b}.attn.in_proj_weight`)).toEqual([192, 64]);
      expect(shape(`visual.transformer.resblocks.${b}.mlp.c_fc.weight`)).toEqual([256, 64]);
    }
    expect(pt.has('visual.transformer.resblocks.3.ln_1.weight')).toBe(false);
    expect(pt.get('visual.conv1.weight').dtype).toBe('float16');
    const afterParse = src.bytesRead;

    const conv = await pt.get('visual.conv1.weight').read();
    expect(src.bytesRead - afterParse).toBeLessThan(64 * 3 * 16 * 16 * 2 + 1024); // only that storage (+ local header)
    expect(fp16Error(conv, (await hf.readFloat32('vision_model.embeddings.patch_embedding.weight')).data)).toBeLessThanOrEqual(1);

    // in_proj_weight rows 0..63 are q_proj, 64..127 k_proj
    const inProj = await pt.get('visual.transformer.resblocks.1.attn.in_proj_weight').read();
    expect(fp16Error(inProj.subarray(0, 4096), (await hf.readFloat32('vision_model.encoder.layers.1.self_attn.q_proj.weight')).data)).toBeLessThanOrEqual(1);
    expect(fp16Error(inProj.subarray(4096, 8192), (await hf.readFloat32('vision_model.encoder.layers.1.self_attn.k_proj.weight')).data)).toBeLessThanOrEqual(1);

    // proj is [width, embed] = visual_projection.weight transposed
    const proj = await pt.get('visual.proj').read();
    const vp = (await hf.readFloat32('visual_projection.weight')).data;
    const vpT = new Float32Array(64 * 32);
    for (let i = 0; i < 32; i++) for (let j = 0; j < 64; j++) vpT[j * 32 + i] = vp[i * 64 + j];
    expect(fp16Error(proj, vpT)).toBeLessThanOrEqual(1);
    expect(fp16Error(await pt.get('logit_scale').read(), (await hf.readFloat32('logit_scale')).data)).toBeLessThanOrEqual(1);
  });

  it('rejects a file that is not a zip', async () => {
    await expect(TorchScriptArchive.open(await NodeFileByteSource.open(join(FIXTURES, 'eg3d-tiny.json')))).rejects.toThrow(/not a readable zip/);
  });
});

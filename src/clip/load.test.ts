import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { zipSync } from 'fflate';
import { initNodeBackend } from '../platform/node-backend.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { MemoryByteSource, type ByteSource } from '../io/byte-source.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { describeClipFile, loadClipModel, openClipTable } from './load.ts';
import { AppError } from '../core/errors.ts';

const FIXTURES = '../shared/fixtures';
const PT = `${FIXTURES}/clip-tiny.pt`;
const HF = `${FIXTURES}/clip-tiny.hf.safetensors`;

/** Counts the bytes a loader reads. */
class CountingSource implements ByteSource {
  bytesRead = 0;
  constructor(private readonly inner: ByteSource) {}
  get size() {
    return this.inner.size;
  }
  get name() {
    return this.inner.name;
  }
  async read(offset: number, length: number) {
    this.bytesRead += length;
    return this.inner.read(offset, length);
  }
}

const memory = (bytes: Uint8Array, name: string) => new MemoryByteSource(bytes, name);

describe('CLIP weight import', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('describes the OpenAI .pt and the HF safetensors file alike', async () => {
    const pt = await describeClipFile(await NodeFileByteSource.open(PT));
    const hf = await describeClipFile(await NodeFileByteSource.open(HF));
    expect(pt.format).toBe('openai-torchscript');
    expect(hf.format).toBe('hf-safetensors');
    expect(pt.architecture.vision).toEqual({ width: 64, layers: 3, heads: 1, patchSize: 16, inputResolution: 64, embedDim: 32 });
    expect(hf.architecture.vision).toEqual(pt.architecture.vision);
    expect(pt.visionParameters).toBe(hf.visionParameters);
    // The traced .pt records its head counts (image 64 // 64 = 1, text 4); the HF file has none, so 64-d heads are assumed and said.
    expect(pt.architecture.text).toMatchObject({ width: 32, layers: 2, contextLength: 77, vocabSize: 49408, embedDim: 32, heads: 4 });
    expect(hf.architecture.headsFrom.vision.from).toBe('head-width-64');
    expect(hf.architecture.text).toBeNull();
    expect(pt.summary).toMatch(/ViT-w64\/16, 64² input, 3 blocks × 64 \(1 head, recorded in the \.pt\), 32-d embedding; text tower 2 × 32 \(4 heads, recorded in the \.pt\)/);
    expect(pt.parameters).toBe(pt.visionParameters + pt.textParameters + 1);
  });

  it('reads only the image tower of a .pt, reports byte progress, and counts parameters', async () => {
    const src = new CountingSource(await NodeFileByteSource.open(PT));
    const progress: [number, number][] = [];
    const model = await loadClipModel(src, { onProgress: (a, b) => progress.push([a, b]) });
    const desc = await describeClipFile(await NodeFileByteSource.open(PT));
    expect(model.vision.parameterCount()).toBe(desc.visionParameters);
    expect(model.text).toBeNull();
    // fp16 vision weights are ≈ 0.4 MB of the 3.7 MB archive (the rest is the text tower).
    expect(src.bytesRead).toBeLessThan(src.size * 0.3);
    const [lastLoaded, total] = progress[progress.length - 1];
    expect(lastLoaded).toBe(total);
    expect(total).toBe(desc.visionParameters * 4);
    for (let i = 1; i < progress.length; i++) expect(progress[i][0]).toBeGreaterThan(progress[i - 1][0]);
    model.dispose();
  });

  it('loads the text tower on request with the head count the .pt records; a given count must divide the width', async () => {
    const model = await loadClipModel(await NodeFileByteSource.open(PT), { text: true });
    expect(model.text?.config).toMatchObject({ heads: 4, layers: 2 });
    model.dispose();
    await expect(loadClipModel(await NodeFileByteSource.open(PT), { visionHeads: 3 })).rejects.toThrow(/3 heads \(given\) do not divide width 64/);
  });

  it('reads open_clip safetensors (OpenAI names) to the same model as the .pt', async () => {
    const table = await openClipTable(await NodeFileByteSource.open(PT));
    const tensors = new Map<string, TensorToWrite>();
    for (const n of table.names()) if (n.startsWith('visual.')) tensors.set(n, { shape: table.shape(n)!, data: await table.read(n) });
    const oc = await loadClipModel(memory(writeSafetensors(tensors), 'open_clip.safetensors'));
    const pt = await loadClipModel(await NodeFileByteSource.open(PT));
    expect(oc.format).toBe('openclip-safetensors');
    const x = tf.randomNormal([1, 64, 64, 3]) as tf.Tensor4D;
    const a = tf.tidy(() => oc.vision.forward(x).embeds);
    const b = tf.tidy(() => pt.vision.forward(x).embeds);
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    tf.dispose([x, a, b]);
    oc.dispose();
    pt.dispose();
  });

  it('rejects files that are not CLIP checkpoints as incompatible, damaged ones as corrupt', async () => {
    const cases: [ByteSource, 'incompatible-file' | 'corrupt-file', RegExp][] = [
      [memory(new Uint8Array(1000).map((_, i) => (i * 37) % 251), 'noise.bin'), 'incompatible-file', /not a CLIP checkpoint/],
      [memory(new Uint8Array(3), 'tiny.bin'), 'incompatible-file', /not a CLIP checkpoint/],
      [await NodeFileByteSource.open(`${FIXTURES}/eg3d-tiny.pkl`), 'incompatible-file', /raw Python pickle/],
      [await NodeFileByteSource.open(`${FIXTURES}/eg3d-tiny.reference.safetensors`), 'incompatible-file', /without CLIP image-tower tensors/],
      [memory(zipSync({ 'notes/readme.txt': new TextEncoder().encode('hello') }), 'other.zip'), 'incompatible-file', /no <root>\/data\.pkl/],
      [memory(readFileSync(PT).subarray(0, 200_000), 'truncated.pt'), 'corrupt-file', /truncated\.pt: not a readable zip archive/],
      [memory(readFileSync(HF).subarray(0, 100_000), 'truncated.safetensors'), 'corrupt-file', /outside the \d+ data bytes \(truncated file\?\)/],
    ];
    for (const [src, kind, msg] of cases) {
      const err = await loadClipModel(src).then(() => null, (e: unknown) => e);
      expect(err, src.name).toBeInstanceOf(AppError);
      expect((err as AppError).kind, src.name).toBe(kind);
      expect((err as Error).message, src.name).toMatch(msg);
    }
  });

  it('rejects inconsistent shapes and disposes what it had built', async () => {
    const table = await openClipTable(await NodeFileByteSource.open(PT));
    const tensors = new Map<string, TensorToWrite>();
    for (const n of table.names()) if (n.startsWith('visual.')) tensors.set(n, { shape: table.shape(n)!, data: await table.read(n) });
    const pos = tensors.get('visual.positional_embedding')!;
    tensors.set('visual.positional_embedding', { shape: [16, 64], data: pos.data.subarray(0, 16 * 64) });
    await expect(loadClipModel(memory(writeSafetensors(tensors), 'bad-pos.safetensors'))).rejects.toThrow(/square patch grid/);
    tensors.set('visual.positional_embedding', pos);
    const fc = tensors.get('visual.transformer.resblocks.2.mlp.c_proj.bias')!;
    tensors.set('visual.transformer.resblocks.2.mlp.c_proj.bias', { shape: [63], data: fc.data.subarray(0, 63) });
    const before = tf.memory().numTensors;
    await expect(loadClipModel(memory(writeSafetensors(tensors), 'bad-bias.safetensors'))).rejects.toThrow(/c_proj.bias has shape \[63\], expected \[64\]/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('infers other geometries from HF names: patch 14 at 224² (as ViT-L/14), no projection (CLIPVisionModel)', async () => {
    const width = 64;
    const rnd = (shape: number[]) => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 12.9898) * 0.02) });
    const ones = (n: number) => ({ shape: [n], data: new Float32Array(n).fill(1) });
    const t = new Map<string, TensorToWrite>();
    t.set('vision_model.embeddings.class_embedding', rnd([width]));
    t.set('vision_model.embeddings.patch_embedding.weight', rnd([width, 3, 14, 14]));
    t.set('vision_model.embeddings.position_embedding.weight', rnd([16 * 16 + 1, width]));
    t.set('vision_model.embeddings.position_ids', rnd([1, 257]));
    for (const ln of ['pre_layrnorm', 'post_layernorm']) {
      t.set(`vision_model.${ln}.weight`, ones(width));
      t.set(`vision_model.${ln}.bias`, rnd([width]));
    }
    const l = 'vision_model.encoder.layers.0';
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      t.set(`${l}.self_attn.${p}.weight`, rnd([width, width]));
      t.set(`${l}.self_attn.${p}.bias`, rnd([width]));
    }
    for (const ln of ['layer_norm1', 'layer_norm2']) {
      t.set(`${l}.${ln}.weight`, ones(width));
      t.set(`${l}.${ln}.bias`, rnd([width]));
    }
    t.set(`${l}.mlp.fc1.weight`, rnd([4 * width, width]));
    t.set(`${l}.mlp.fc1.bias`, rnd([4 * width]));
    t.set(`${l}.mlp.fc2.weight`, rnd([width, 4 * width]));
    t.set(`${l}.mlp.fc2.bias`, rnd([width]));
    const desc = await describeClipFile(memory(writeSafetensors(t), 'vision-only.safetensors'));
    expect(desc.architecture.vision).toEqual({ width, layers: 1, heads: 1, patchSize: 14, inputResolution: 224, embedDim: width });
    expect(desc.summary).toMatch(/no text tower/);
    const model = await loadClipModel(memory(writeSafetensors(t), 'vision-only.safetensors'));
    const x = tf.randomNormal([1, 224, 224, 3]) as tf.Tensor4D;
    const out = tf.tidy(() => {
      const f = model.vision.forward(x, [0]);
      return [f.embeds, f.blocks.get(0)!];
    });
    expect(out[0].shape).toEqual([1, width]);
    expect(out[1].shape).toEqual([1, 257, width]);
    tf.dispose([x, ...out]);
    model.dispose();
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { zipSync } from 'fflate';
import { initNodeBackend } from '../platform/node-backend.ts';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { MemoryByteSource } from '../io/byte-source.ts';
import { writeSafetensors, type TensorToWrite } from '../io/safetensors.ts';
import { describeClipFile, inferArchitecture, loadClipModel, resolveHeads, type ClipTensorTable } from './load.ts';
import { parseClipConfig } from './config.ts';
import { AppError, IncompatibleFileError } from '../core/errors.ts';
import { Random } from '../core/random.ts';

const PT = '../shared/fixtures/clip-tiny.pt';

// ---- a minimal pickle writer (protocol 2) for synthetic TorchScript archives ----------------------

class PickleWriter {
  private out: number[] = [0x80, 0x02];
  private text(s: string) {
    const b = new TextEncoder().encode(s);
    this.out.push(0x58, b.length & 255, (b.length >> 8) & 255, (b.length >> 16) & 255, b.length >>> 24, ...b);
  }
  global(module: string, name: string) {
    this.out.push(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  int(v: number) {
    this.out.push(0x4a, v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255);
  }
  str(s: string) {
    this.text(s);
  }
  op(...codes: number[]) {
    this.out.push(...codes);
  }
  /** torch._utils._rebuild_tensor_v2(storage(key, numel), 0, shape, contiguous strides, False, OrderedDict()) */
  tensor(key: string, dtype: 'HalfStorage' | 'LongStorage' | 'FloatStorage', shape: number[]) {
    const numel = shape.reduce((a, b) => a * b, 1);
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.op(0x28); // MARK (args)
    this.op(0x28); // MARK (persistent id)
    this.str('storage');
    this.global('torch', dtype);
    this.str(key);
    this.str('cpu');
    this.int(numel);
    this.op(0x74, 0x51); // TUPLE, BINPERSID
    this.int(0);
    this.op(0x28);
    for (const d of shape) this.int(d);
    this.op(0x74, 0x28);
    let stride = 1;
    const strides: number[] = [];
    for (let k = shape.length - 1; k >= 0; k--) {
      strides.unshift(stride);
      stride *= shape[k];
    }
    for (const s of strides) this.int(s);
    this.op(0x74, 0x89); // TUPLE, NEWFALSE
    this.global('collections', 'OrderedDict');
    this.op(0x29, 0x52); // EMPTY_TUPLE, REDUCE
    this.op(0x74, 0x52); // TUPLE, REDUCE
  }
  /** A TorchScript module object: GLOBAL cls, EMPTY_TUPLE, NEWOBJ, {attrs...}, BUILD. `attrs` writes the dict items. */
  module(cls: string, attrs: () => void) {
    const dot = cls.lastIndexOf('.');
    this.global(cls.slice(0, dot), cls.slice(dot + 1));
    this.op(0x29, 0x81, 0x7d, 0x28); // EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, MARK
    attrs();
    this.op(0x75, 0x62); // SETITEMS, BUILD
  }
  bytes(): Uint8Array {
    return Uint8Array.from([...this.out, 0x2e]);
  }
}

const f16 = (n: number, seed: number, scale: number, offset: number) => {
  // offset + scale·U(-1, 1) in fp16, seeded
  const out = new Uint16Array(n);
  const rng = new Random(seed + 1);
  for (let i = 0; i < n; i++) {
    const v = offset + (2 * rng.next() - 1) * scale;
    const sign = v < 0 ? 0x8000 : 0;
    const a = Math.abs(v);
    const e = Math.floor(Math.log2(a));
    out[i] = a < 2 ** -14 ? sign : sign | ((e + 15) << 10) | Math.round((a / 2 ** e - 1) * 1024);
  }
  return new Uint8Array(out.buffer);
};

interface SyntheticVit {
  width: number;
  patch: number;
  grid: number;
  layers: number;
}

/** Tensor shapes of an OpenAI-layout image tower (MLP hidden 4·width, projection to 16). */
function vitShapes({ width: w, patch: p, grid: g, layers }: SyntheticVit): [string, number[]][] {
  const s: [string, number[]][] = [
    ['visual.class_embedding', [w]],
    ['visual.positional_embedding', [g * g + 1, w]],
    ['visual.proj', [w, 16]],
    ['visual.conv1.weight', [w, 3, p, p]],
    ['visual.ln_pre.weight', [w]],
    ['visual.ln_pre.bias', [w]],
  ];
  for (let i = 0; i < layers; i++) {
    const b = `visual.transformer.resblocks.${i}`;
    s.push(
      [`${b}.attn.in_proj_weight`, [3 * w, w]], [`${b}.attn.in_proj_bias`, [3 * w]],
      [`${b}.attn.out_proj.weight`, [w, w]], [`${b}.attn.out_proj.bias`, [w]],
      [`${b}.ln_1.weight`, [w]], [`${b}.ln_1.bias`, [w]],
      [`${b}.mlp.c_fc.weight`, [4 * w, w]], [`${b}.mlp.c_fc.bias`, [4 * w]],
      [`${b}.mlp.c_proj.weight`, [w, 4 * w]], [`${b}.mlp.c_proj.bias`, [w]],
      [`${b}.ln_2.weight`, [w]], [`${b}.ln_2.bias`, [w]],
    );
  }
  s.push(['visual.ln_post.weight', [w]], ['visual.ln_post.bias', [w]]);
  return s;
}

/**
 * A traced-CLIP-like archive (`vit/data.pkl`, `vit/data/N` fp16 storages), optionally with the
 * MultiheadAttention code and its `num_heads` constant as torch.jit writes them.
 */
function syntheticPt(v: SyntheticVit, tracedHeads?: number, headLine = '    head_dim = torch.div(embed_dim, CONSTANTS.c1, rounding_mode="trunc")'): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const shapes = vitShapes(v);
  const w = new PickleWriter();
  const ATTN = '__torch__.torch.nn.modules.activation.MultiheadAttention';
  // The module tree: visual (a container) with flat attribute names is enough for the reader, except the
  // attention modules, which must be objects of their TorchScript class for the head count to be found.
  w.module('__torch__.model.CLIP', () => {
    w.str('visual');
    w.module('__torch__.model.VisionTransformer', () => {
      shapes.forEach(([name, shape], k) => {
        const rel = name.slice('visual.'.length);
        const m = /^transformer\.resblocks\.(\d+)\.attn\.(in_proj_weight|in_proj_bias)$/.exec(rel);
        if (m) return; // written inside the attention module below
        if (/\.attn\.out_proj\./.test(rel)) return;
        w.str(rel);
        w.tensor(String(k), 'HalfStorage', shape);
      });
      for (let i = 0; i < v.layers; i++) {
        w.str(`transformer.resblocks.${i}.attn`);
        w.module(ATTN, () => {
          for (const p of ['in_proj_weight', 'in_proj_bias']) {
            const k = shapes.findIndex(([n]) => n === `visual.transformer.resblocks.${i}.attn.${p}`);
            w.str(p);
            w.tensor(String(k), 'HalfStorage', shapes[k][1]);
          }
          w.str('out_proj');
          w.module('__torch__.torch.nn.modules.linear.NonDynamicallyQuantizableLinear', () => {
            for (const p of ['weight', 'bias']) {
              const k = shapes.findIndex(([n]) => n === `visual.transformer.resblocks.${i}.attn.out_proj.${p}`);
              w.str(p);
              w.tensor(String(k), 'HalfStorage', shapes[k][1]);
            }
          });
        });
      }
    });
  });
  files['vit/data.pkl'] = w.bytes();
  shapes.forEach(([name, shape], k) => {
    // LayerNorm gains near 1, attention projections large enough that attention is far from uniform
    const [scale, offset] = /ln_.*weight$/.test(name) ? [0.1, 1] : /in_proj_weight$|conv1/.test(name) ? [0.3, 0] : [0.05, 0];
    files[`vit/data/${k}`] = f16(shape.reduce((a, b) => a * b, 1), k, scale, offset);
  });
  if (tracedHeads !== undefined) {
    files['vit/code/__torch__/torch/nn/modules/activation.py'] = new TextEncoder().encode(
      [
        'class MultiheadAttention(Module):',
        '  def forward(self: __torch__.torch.nn.modules.activation.MultiheadAttention,',
        '    argument_1: Tensor) -> Tensor:',
        '    embed_dim = ops.prim.NumToTensor(torch.size(argument_1, 2))',
        headLine,
        '    return argument_1',
        '',
      ].join('\n'),
    );
    const c = new PickleWriter();
    c.op(0x28);
    c.tensor('0', 'FloatStorage', [1]);
    c.tensor('1', 'LongStorage', []);
    c.op(0x74);
    files['vit/constants.pkl'] = c.bytes();
    files['vit/constants/0'] = new Uint8Array(new Float32Array([8]).buffer);
    files['vit/constants/1'] = new Uint8Array(new BigInt64Array([BigInt(tracedHeads)]).buffer);
  }
  return zipSync(files, { level: 0 });
}

/** The same tower as open_clip safetensors (OpenAI names, F32). */
async function openClipFrom(pt: Uint8Array): Promise<Uint8Array> {
  const { openClipTable } = await import('./load.ts');
  const table = await openClipTable(new MemoryByteSource(pt, 'synthetic.pt'));
  const tensors = new Map<string, TensorToWrite>();
  for (const n of table.names()) tensors.set(n, { shape: table.shape(n)!, data: await table.read(n) });
  return writeSafetensors(tensors);
}

/** A shapes-only table (no tensor data) for architecture inference at real widths. */
function shapesTable(format: ClipTensorTable['format'], v: SyntheticVit, recordedHeads?: { vision: number | null; text: number | null }): ClipTensorTable {
  const m = new Map(vitShapes(v));
  return {
    format,
    has: (n) => m.has(n),
    shape: (n) => m.get(n)?.slice(),
    read: () => Promise.reject(new Error('shapes only')),
    names: () => [...m.keys()],
    recordedHeads,
  };
}

async function embeds(model: Awaited<ReturnType<typeof loadClipModel>>, res: number): Promise<Float32Array> {
  const x = tf.tidy(() => tf.sin(tf.range(0, res * res * 3).reshape([1, res, res, 3])) as tf.Tensor4D);
  const e = tf.tidy(() => model.vision.forward(x).embeds);
  const out = (await e.data()) as Float32Array;
  tf.dispose([x, e]);
  return out;
}

describe('CLIP head counts', () => {
  beforeAll(async () => {
    await initNodeBackend('wasm');
  });

  it('reads the head counts a traced .pt records in its code constants (clip-tiny: image 1 = 64 // 64, text 4)', async () => {
    const d = await describeClipFile(await NodeFileByteSource.open(PT));
    expect(d.architecture.vision.heads).toBe(1);
    expect(d.architecture.text?.heads).toBe(4);
    expect(d.architecture.headsFrom.vision.from).toBe('file');
    expect(d.architecture.headsFrom.text?.from).toBe('file');
    expect(d.summary).toMatch(/3 blocks × 64 \(1 head, recorded in the \.pt\).*text tower 2 × 32 \(4 heads, recorded in the \.pt\)/);
    // The text tower loads without a textHeads option now.
    const model = await loadClipModel(await NodeFileByteSource.open(PT), { text: true });
    expect(model.text?.config.heads).toBe(4);
    model.dispose();
  });

  it('width 96: an OpenAI .pt without traced code follows build_model (96 // 64 = 1 head); with code it uses the recorded count', async () => {
    const v = { width: 96, patch: 8, grid: 2, layers: 1 };
    const plain = syntheticPt(v);
    const d = await describeClipFile(new MemoryByteSource(plain, 'w96.pt'));
    expect(d.architecture.vision).toMatchObject({ width: 96, heads: 1, inputResolution: 16 });
    expect(d.architecture.headsFrom.vision).toMatchObject({ from: 'openai-rule' });
    expect(d.architecture.headsFrom.vision.note).toMatch(/width 96 \/\/ 64/);
    const one = await loadClipModel(new MemoryByteSource(plain, 'w96.pt'));
    expect(one.vision.config.heads).toBe(1);
    expect(one.architecture.headsFrom.vision.from).toBe('openai-rule');

    const traced = syntheticPt(v, 3);
    const three = await loadClipModel(new MemoryByteSource(traced, 'w96-traced.pt'));
    expect(three.vision.config.heads).toBe(3);
    expect(three.architecture.headsFrom.vision).toMatchObject({ from: 'file', note: '3 heads (recorded in the traced .pt)' });
    // The head count changes the function: 1 and 3 heads give different embeddings of the same weights.
    const e1 = await embeds(one, 16);
    const e3 = await embeds(three, 16);
    expect(Math.max(...e1.map((x, i) => Math.abs(x - e3[i])))).toBeGreaterThan(1e-4);

    // the other spellings of the traced head count: a literal, floor_divide, `//`; a constant that is not one number is a damaged file
    for (const [line, heads] of [
      ['    head_dim = torch.div(embed_dim, 6, rounding_mode="trunc")', 6],
      ['    head_dim = torch.floor_divide(embed_dim, CONSTANTS.c1)', 3],
      ['    head_dim = embed_dim // 2', 2],
      ['    _9 = [_1, int(torch.mul(bsz, CONSTANTS.c1)), _6]', 3],
    ] as const) {
      const d2 = await describeClipFile(new MemoryByteSource(syntheticPt(v, 3, line), 'w96-spelling.pt'));
      expect(d2.architecture.vision.heads, line).toBe(heads);
    }
    const bad = await describeClipFile(new MemoryByteSource(syntheticPt(v, 3, '    head_dim = torch.div(embed_dim, CONSTANTS.c7)'), 'w96-bad.pt')).then(() => null, (e: unknown) => e);
    expect(bad).toBeInstanceOf(AppError);
    expect((bad as AppError).kind).toBe('corrupt-file');
    expect((bad as Error).message).toMatch(/refers to CONSTANTS\.c7, which the archive does not hold/);

    // open_clip safetensors of the same tower: width 96 is not a multiple of 64, so no silent guess …
    const oc = await openClipFrom(traced);
    const err = await loadClipModel(new MemoryByteSource(oc, 'w96.safetensors')).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(IncompatibleFileError);
    expect((err as Error).message).toMatch(/width 96 is not a multiple of 64.*open_clip config/);
    // … but its config (head_width 32 → 3 heads) makes it the same model as the traced .pt.
    const config = JSON.stringify({ embed_dim: 16, vision_cfg: { width: 96, layers: 1, patch_size: 8, image_size: 16, head_width: 32 }, text_cfg: { width: 32, heads: 4 } });
    const withCfg = await loadClipModel(new MemoryByteSource(oc, 'w96.safetensors'), { config, configName: 'ViT-w96.json' });
    expect(withCfg.vision.config.heads).toBe(3);
    const eCfg = await embeds(withCfg, 16);
    expect(Math.max(...eCfg.map((x, i) => Math.abs(x - e3[i])))).toBeLessThan(1e-5);
    for (const m of [one, three, withCfg]) m.dispose();
  });

  it('widths 768 and 1024: 12 and 16 heads (OpenAI rule for .pt, 64-d heads assumed and said for safetensors)', () => {
    for (const [width, heads] of [[768, 12], [1024, 16]]) {
      const v = { width, patch: 14, grid: 16, layers: 2 };
      const pt = inferArchitecture(shapesTable('openai-torchscript', v));
      expect(pt.vision.heads).toBe(heads);
      expect(pt.headsFrom.vision.from).toBe('openai-rule');
      const oc = inferArchitecture(shapesTable('openclip-safetensors', v));
      expect(oc.vision.heads).toBe(heads);
      expect(oc.headsFrom.vision.from).toBe('head-width-64');
      expect(oc.headsFrom.vision.note).toMatch(/assumed 64-d heads.*open_clip config/);
      // A traced file's own count wins over the rule.
      expect(inferArchitecture(shapesTable('openai-torchscript', v, { vision: heads / 2, text: null })).vision.heads).toBe(heads / 2);
    }
  });

  it('width 1280 (ViT-H/14): refused without a config, 16 heads from an open_clip config (head_width 80) or HF config.json', () => {
    const v = { width: 1280, patch: 14, grid: 16, layers: 2 };
    const none = inferArchitecture(shapesTable('openclip-safetensors', v));
    expect(none.vision.heads).toBe(0);
    expect(none.headsFrom.vision.problem).toMatch(/width 1280 is that of ViT-H\/14.*open_clip config/);
    const openclip = { embed_dim: 1024, vision_cfg: { image_size: 224, layers: 32, width: 1280, head_width: 80, patch_size: 14 }, text_cfg: { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24 } };
    const a = inferArchitecture(shapesTable('openclip-safetensors', v), { config: JSON.stringify(openclip), configName: 'ViT-H-14.json' });
    expect(a.vision.heads).toBe(16);
    expect(a.headsFrom.vision).toMatchObject({ from: 'config', note: '16 heads (open_clip config)' });
    const hf = { model_type: 'clip', vision_config: { hidden_size: 1280, num_attention_heads: 16, patch_size: 14 }, text_config: { hidden_size: 1024, num_attention_heads: 16 } };
    const b = inferArchitecture(shapesTable('hf-safetensors', v), { config: hf });
    expect(b.vision.heads).toBe(16);
    // open_clip's Hub wrapper {"model_cfg": {...}} is read too
    expect(inferArchitecture(shapesTable('openclip-safetensors', v), { config: { model_cfg: openclip } }).vision.heads).toBe(16);
    // OpenAI's rule for a .pt of that width: 1280 // 64 = 20 (what build_model does)
    expect(inferArchitecture(shapesTable('openai-torchscript', v)).vision.heads).toBe(20);
  });

  it('refuses a config of another model, head counts that cannot split the width, and configs it does not understand', () => {
    const v = { width: 768, patch: 16, grid: 14, layers: 1 };
    const vitL = { vision_cfg: { width: 1024, head_width: 64 } };
    expect(() => inferArchitecture(shapesTable('openclip-safetensors', v), { config: vitL })).toThrow(/describes width 1024 but the weights have width 768/);
    expect(() => inferArchitecture(shapesTable('openclip-safetensors', v), { config: { vision_cfg: { width: 768, head_width: 100 } } })).toThrow(/7 heads \(from the open_clip config\) do not divide width 768/);
    expect(() => parseClipConfig('{"vision_cfg": ')).toThrow(/not a JSON file/);
    expect(() => parseClipConfig({ architectures: ['BertModel'] })).toThrow(IncompatibleFileError);
    expect(() => parseClipConfig({ vision_cfg: { width: -3 } })).toThrow(/vision_cfg.width must be a positive integer/);
    // OpenAI's rule cannot split width 200 (200 // 64 = 3): refused with the reason
    const r = resolveHeads('vision', 200, 'openai-torchscript', undefined, null, null);
    expect(r).toMatchObject({ heads: 0, from: 'unknown' });
    expect(r.problem).toMatch(/width 200 gives width \/\/ 64 = 3 heads/);
  });
});

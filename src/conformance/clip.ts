/**
 * CLIP conformance against the PyTorch fixtures (`clip-*.json` + `.pt` / `.hf.safetensors` +
 * `.reference.safetensors`): for each weight file, `encode_image` embeddings, every block's residual
 * stream, the input gradient of sum(image_embeds · r), and (where the file has a text tower)
 * `encode_text`; once per fixture the bicubic resize references and, when the BPE vocabulary sits
 * next to the JSON, the tokenizer's ids for the prompts.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, strFromU8 } from 'fflate';
import { NodeFileByteSource } from '../platform/node-file.ts';
import { SafetensorsFile } from '../io/safetensors.ts';
import { loadClipEncoder } from '../clip/encoder.ts';
import { inferArchitecture, openClipTable } from '../clip/load.ts';
import { resizeBicubic, ResizeMatrixCache } from '../clip/preprocess.ts';
import { ClipTokenizer } from '../clip/tokenizer.ts';
import { compareArrays, TOL_IMAGE, TOL_MODULE } from '../testing/compare.ts';
import type { ConformanceResult } from './report.ts';

export interface ClipConformanceOptions {
  log?: (msg: string) => void;
}

interface ClipFixtureJson {
  variant: string;
  config: {
    embed_dim: number;
    image_resolution: number;
    vision_layers: number;
    vision_width: number;
    vision_patch_size: number;
    vision_heads?: number;
    context_length: number;
    vocab_size: number;
    transformer_width: number;
    transformer_heads: number;
    transformer_layers: number;
  };
  prompts: string[];
  pt?: string;
}

type Shape4 = [number, number, number, number];

const RESIZE_CASES: [src: string, ref: string, antialias: boolean][] = [
  ['resize.src256', 'resize.bicubic256to224', false],
  ['resize.src128', 'resize.bicubic128to224', false],
  ['resize.src256', 'resize.bicubic_aa256to224', true],
];

async function nchwToNhwc(ref: SafetensorsFile, name: string): Promise<tf.Tensor4D> {
  const { shape, data } = await ref.readFloat32(name);
  return tf.tidy(() => tf.transpose(tf.tensor4d(data, shape as Shape4), [0, 2, 3, 1]) as tf.Tensor4D);
}

async function nhwcData(t: tf.Tensor): Promise<Float32Array> {
  const nchw = tf.transpose(t, [0, 3, 1, 2]);
  const d = (await nchw.data()) as Float32Array;
  nchw.dispose();
  return d;
}

export async function runClipConformance(jsonPath: string, opts: ClipConformanceOptions = {}): Promise<ConformanceResult> {
  const log = opts.log ?? (() => {});
  const dir = dirname(jsonPath);
  const stem = basename(jsonPath).replace(/\.json$/, '');
  const fixture = JSON.parse(readFileSync(jsonPath, 'utf8')) as ClipFixtureJson;
  const cfg = fixture.config;
  const result: ConformanceResult = { rows: [], skipped: [] };
  const ref = await SafetensorsFile.open(await NodeFileByteSource.open(join(dir, `${stem}.reference.safetensors`)));
  const refData = async (name: string) => (await ref.readFloat32(name)).data;

  // Bicubic resize (PyTorch F.interpolate) references.
  const cache = new ResizeMatrixCache();
  try {
    for (const [src, out, antialias] of RESIZE_CASES) {
      if (!ref.has(out)) {
        result.skipped.push({ fixture: stem, what: out, why: 'not in the reference file' });
        continue;
      }
      const x = await nchwToNhwc(ref, src);
      const [, , oh, ow] = ref.entries.get(out)!.shape;
      const y = tf.tidy(() => resizeBicubic(x, oh, ow, { antialias, cache }));
      result.rows.push(compareArrays(stem, out, await nhwcData(y), await refData(out), TOL_MODULE));
      x.dispose();
      y.dispose();
    }
  } finally {
    cache.dispose();
  }

  // Tokenizer, when the vocabulary is next to the fixture.
  const vocabPath = join(dir, 'clip-bpe-vocab.txt.gz');
  if (existsSync(vocabPath) && ref.has('text_ids')) {
    const tok = new ClipTokenizer(strFromU8(gunzipSync(readFileSync(vocabPath))));
    const ids = tok.tokenize(fixture.prompts, cfg.context_length);
    result.rows.push(compareArrays(stem, 'text_ids (tokenizer)', ids, await refData('text_ids'), 0));
  } else {
    result.skipped.push({ fixture: stem, what: 'text_ids (tokenizer)', why: 'clip-bpe-vocab.txt.gz not next to the fixture' });
  }

  const files: [label: string, file: string][] = [
    ['pt', fixture.pt ?? `${stem}.pt`],
    ['hf', `${stem}.hf.safetensors`],
  ];
  const images = await nchwToNhwc(ref, 'images');
  const r = await ref.readFloat32('grad.r');
  const rT = tf.tensor2d(r.data, r.shape as [number, number]);
  try {
    for (const [label, file] of files) {
      const path = join(dir, file);
      const name = `${stem}/${label}`;
      if (!existsSync(path)) {
        result.rows.push({ fixture: name, tensor: file, maxAbs: Infinity, rel: Infinity, tol: 0, pass: false, note: 'file missing' });
        continue;
      }
      const loadOpts = { visionHeads: cfg.vision_heads, textHeads: cfg.transformer_heads, text: true };
      const arch = inferArchitecture(await openClipTable(await NodeFileByteSource.open(path)), loadOpts);
      const v = arch.vision;
      const archOk =
        v.width === cfg.vision_width && v.layers === cfg.vision_layers && v.patchSize === cfg.vision_patch_size &&
        v.inputResolution === cfg.image_resolution && v.embedDim === cfg.embed_dim;
      result.rows.push({
        fixture: name, tensor: 'architecture', maxAbs: archOk ? 0 : Infinity, rel: archOk ? 0 : Infinity, tol: 0, pass: archOk,
        note: archOk ? undefined : `inferred ${JSON.stringify(v)}`,
      });
      log(`clip conformance: ${file}`);
      const enc = await loadClipEncoder(await NodeFileByteSource.open(path), loadOpts);
      try {
        const out = enc.forwardAllBlocks(images);
        result.rows.push(compareArrays(name, 'image_embeds', await out.embeds.data(), await refData('image_embeds'), TOL_MODULE));
        for (let i = 0; i < out.blocks.length; i++) {
          const key = `block${i}.tokens`;
          if (ref.has(key)) result.rows.push(compareArrays(name, key, await out.blocks[i].data(), await refData(key), TOL_MODULE));
        }
        out.embeds.dispose();
        out.blocks.forEach((b) => b.dispose());

        const grad = tf.grad((x: tf.Tensor) => tf.sum(tf.mul(enc.forwardAllBlocks(x as tf.Tensor4D).embeds, rT)))(images);
        result.rows.push(compareArrays(name, 'grad.images', await nhwcData(grad), await refData('grad.images'), TOL_IMAGE));
        grad.dispose();

        if (enc.text && ref.has('text_ids')) {
          const ids = Int32Array.from(await refData('text_ids'));
          const te = enc.text.encode(ids, ref.entries.get('text_ids')!.shape[0]);
          result.rows.push(compareArrays(name, 'text_embeds', await te.data(), await refData('text_embeds'), TOL_MODULE));
          te.dispose();
        } else {
          result.skipped.push({ fixture: name, what: 'text_embeds', why: 'file has no text tower' });
        }
      } finally {
        enc.dispose();
      }
    }
  } finally {
    images.dispose();
    rT.dispose();
  }
  return result;
}

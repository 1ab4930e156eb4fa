/**
 * CLIP checkpoint import: OpenAI TorchScript `.pt` (fp16), Hugging Face `model.safetensors`
 * (`CLIPModel`, `CLIPVisionModel[WithProjection]`) and open_clip safetensors (`visual.*`, OpenAI names).
 * Every format is presented as a table in OpenAI state-dict naming and PyTorch layout
 * (`visual.conv1.weight`, `visual.transformer.resblocks.0.attn.in_proj_weight`, ...); the architecture
 * is inferred from the shapes; only the tensors needed are read from the ByteSource.
 *
 * Head counts (see `resolveHeads`): an explicit option wins, then a config file supplied beside the
 * weights (open_clip model config or HF config.json), then what a traced `.pt` records in its code
 * constants; otherwise OpenAI `.pt` files follow OpenAI's `build_model` (`width // 64`, floor) and
 * safetensors files are assumed to have 64-d heads (open_clip's default head_width) only when the width
 * is a multiple of 64 and not one of the widths whose released models use other head widths — in every
 * other case the load is refused with a message asking for the config. The architecture says where its
 * head counts came from (`headsFrom`), so a UI or the CLI can show it.
 */
import * as tf from '@tensorflow/tfjs';
import type { ByteSource } from '../io/byte-source.ts';
import { transpose2d } from '../io/transpose.ts';
import { NotSafetensorsError, SafetensorsFile } from '../io/safetensors.ts';
import type { LayerNormWeights, ResidualBlockWeights } from './layers.ts';
import { ClipTextTransformer, type ClipTextConfig } from './text.ts';
import { ClipVisionTransformer, type ClipVisionConfig } from './vit.ts';
import { openTorchScriptTable } from './torchscript-table.ts';
import { ClipFormatError, FORMAT_LABEL, type ClipFileFormat, type ClipTensorTable } from './table.ts';
import { parseClipConfig, type ClipConfigInput, type ClipHeadConfig } from './config.ts';

export { ClipFormatError, FORMAT_LABEL, type ClipFileFormat, type ClipTensorTable } from './table.ts';
export { parseClipConfig, type ClipConfigInput, type ClipHeadConfig } from './config.ts';

export interface ClipLoadOptions {
  /** Bytes of tensor data read so far / in total. */
  onProgress?: (loaded: number, total: number) => void;
  /** Attention heads of the image tower (default width/64). */
  visionHeads?: number;
  /** Attention heads of the text tower (default width/64). */
  textHeads?: number;
  /** Also load the text tower (when present). */
  text?: boolean;
  /** The model's config file (open_clip model config or HF config.json), as JSON text or parsed. */
  config?: ClipConfigInput;
  /** Its file name, for messages. */
  configName?: string;
}

export type ClipHeadOptions = Pick<ClipLoadOptions, 'visionHeads' | 'textHeads' | 'config' | 'configName'>;

// ---------------------------------------------------------------------------------------------
// Format detection and the per-format tables

async function startsWith(source: ByteSource, magic: number[]): Promise<boolean> {
  if (source.size < magic.length) return false;
  const head = await source.read(0, magic.length);
  return magic.every((b, i) => head[i] === b);
}

/** Opens any supported CLIP file as a table in OpenAI naming; throws `ClipFormatError` for anything else. */
export async function openClipTable(source: ByteSource): Promise<ClipTensorTable> {
  if (await startsWith(source, [0x50, 0x4b, 0x03, 0x04])) {
    return openTorchScriptTable(source);
  }
  if (await startsWith(source, [0x80])) {
    throw new ClipFormatError(
      `${source.name}: a raw Python pickle, not a CLIP checkpoint this app reads (OpenAI .pt files are TorchScript zip archives; HF / open_clip files are .safetensors)`,
    );
  }
  let st: SafetensorsFile;
  try {
    st = await SafetensorsFile.open(source);
  } catch (e) {
    // Not safetensors at all: not a CLIP file this app reads. A damaged safetensors file stays a corrupt-file error.
    if (e instanceof NotSafetensorsError) {
      throw new ClipFormatError(`${source.name}: not a CLIP checkpoint: neither a TorchScript .pt zip archive nor a readable safetensors file (${e.message})`);
    }
    throw e;
  }
  if (st.has('vision_model.embeddings.patch_embedding.weight')) return new HfTable(st);
  if (st.has('visual.conv1.weight')) return new PlainTable(st, 'openclip-safetensors');
  if (st.keys().some((k) => k.startsWith('visual.trunk.'))) {
    throw new ClipFormatError(`${source.name}: an open_clip model with a timm image tower (visual.trunk.*), which is not supported; use a ViT with OpenAI layout`);
  }
  throw new ClipFormatError(
    `${source.name}: safetensors file without CLIP image-tower tensors (expected vision_model.* or visual.conv1.weight; found e.g. ${st.keys().slice(0, 3).join(', ') || 'nothing'})`,
  );
}

/** safetensors already in OpenAI naming (open_clip). */
class PlainTable implements ClipTensorTable {
  constructor(
    private readonly st: SafetensorsFile,
    readonly format: ClipFileFormat,
  ) {}
  has(name: string) {
    return this.st.has(name);
  }
  shape(name: string) {
    return this.st.entries.get(name)?.shape.slice();
  }
  async read(name: string) {
    return (await this.st.readFloat32(name)).data;
  }
  names() {
    return this.st.keys();
  }
}

type HfRule =
  | { kind: 'same'; src: string }
  | { kind: 'transpose'; src: string }
  | { kind: 'concat'; srcs: [string, string, string] };

/** HF `CLIPModel` names → OpenAI names (q/k/v projections joined, projections transposed). */
class HfTable implements ClipTensorTable {
  readonly format = 'hf-safetensors' as const;
  private readonly rules = new Map<string, HfRule>();

  constructor(private readonly st: SafetensorsFile) {
    const add = (dst: string, rule: HfRule) => {
      const srcs = rule.kind === 'concat' ? rule.srcs : [rule.src];
      if (!srcs.every((s) => st.has(s))) return;
      if (rule.kind === 'concat') {
        const shapes = srcs.map((s) => st.entries.get(s)!.shape.join('x'));
        if (shapes[0] === '' || shapes.some((x) => x !== shapes[0])) {
          throw new ClipFormatError(`${st.source.name}: q/k/v projections ${srcs.join(', ')} have different shapes (${shapes.join(' / ')})`);
        }
      }
      if (rule.kind === 'transpose' && st.entries.get(rule.src)!.shape.length !== 2) {
        throw new ClipFormatError(`${st.source.name}: ${rule.src} must be a matrix (shape [${st.entries.get(rule.src)!.shape.join(', ')}])`);
      }
      this.rules.set(dst, rule);
    };
    const tower = (hf: string, oa: string, lnPre: [string, string] | null, lnPost: [string, string]) => {
      for (let i = 0; st.has(`${hf}.encoder.layers.${i}.layer_norm1.weight`); i++) {
        const s = `${hf}.encoder.layers.${i}`;
        const d = `${oa}transformer.resblocks.${i}`;
        for (const p of ['weight', 'bias']) {
          add(`${d}.ln_1.${p}`, { kind: 'same', src: `${s}.layer_norm1.${p}` });
          add(`${d}.ln_2.${p}`, { kind: 'same', src: `${s}.layer_norm2.${p}` });
          add(`${d}.attn.in_proj_${p}`, { kind: 'concat', srcs: [`${s}.self_attn.q_proj.${p}`, `${s}.self_attn.k_proj.${p}`, `${s}.self_attn.v_proj.${p}`] });
          add(`${d}.attn.out_proj.${p}`, { kind: 'same', src: `${s}.self_attn.out_proj.${p}` });
          add(`${d}.mlp.c_fc.${p}`, { kind: 'same', src: `${s}.mlp.fc1.${p}` });
          add(`${d}.mlp.c_proj.${p}`, { kind: 'same', src: `${s}.mlp.fc2.${p}` });
        }
      }
      for (const p of ['weight', 'bias']) {
        if (lnPre) add(`${lnPre[1]}.${p}`, { kind: 'same', src: `${hf}.${lnPre[0]}.${p}` });
        add(`${lnPost[1]}.${p}`, { kind: 'same', src: `${hf}.${lnPost[0]}.${p}` });
      }
    };
    add('visual.conv1.weight', { kind: 'same', src: 'vision_model.embeddings.patch_embedding.weight' });
    add('visual.class_embedding', { kind: 'same', src: 'vision_model.embeddings.class_embedding' });
    add('visual.positional_embedding', { kind: 'same', src: 'vision_model.embeddings.position_embedding.weight' });
    add('visual.proj', { kind: 'transpose', src: 'visual_projection.weight' });
    // "pre_layrnorm" is HF's own spelling.
    tower('vision_model', 'visual.', ['pre_layrnorm', 'visual.ln_pre'], ['post_layernorm', 'visual.ln_post']);
    add('token_embedding.weight', { kind: 'same', src: 'text_model.embeddings.token_embedding.weight' });
    add('positional_embedding', { kind: 'same', src: 'text_model.embeddings.position_embedding.weight' });
    add('text_projection', { kind: 'transpose', src: 'text_projection.weight' });
    add('logit_scale', { kind: 'same', src: 'logit_scale' });
    tower('text_model', '', null, ['final_layer_norm', 'ln_final']);
  }

  has(name: string) {
    return this.rules.has(name);
  }

  shape(name: string): number[] | undefined {
    const r = this.rules.get(name);
    if (!r) return undefined;
    if (r.kind === 'same') return this.st.entries.get(r.src)!.shape.slice();
    if (r.kind === 'transpose') return this.st.entries.get(r.src)!.shape.slice().reverse();
    const shapes = r.srcs.map((s) => this.st.entries.get(s)!.shape);
    return [shapes[0][0] * 3, ...shapes[0].slice(1)];
  }

  async read(name: string): Promise<Float32Array> {
    const r = this.rules.get(name);
    if (!r) throw new ClipFormatError(`${this.st.source.name}: tensor ${name} not present`);
    if (r.kind === 'same') return (await this.st.readFloat32(r.src)).data;
    if (r.kind === 'transpose') {
      const { shape, data } = await this.st.readFloat32(r.src);
      return transpose2d(data, shape[0], shape[1]);
    }
    const parts = await Promise.all(r.srcs.map((s) => this.st.readFloat32(s)));
    const out = new Float32Array(parts.reduce((s, p) => s + p.data.length, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p.data, off);
      off += p.data.length;
    }
    return out;
  }

  names() {
    return [...this.rules.keys()];
  }
}

// ---------------------------------------------------------------------------------------------
// Architecture inference

/** Where a tower's head count came from. */
export type HeadsSource =
  /** `visionHeads` / `textHeads` given by the caller. */
  | 'option'
  /** The config file supplied beside the weights. */
  | 'config'
  /** The traced `.pt`'s own code constants. */
  | 'file'
  /** OpenAI's `build_model`: width // 64. */
  | 'openai-rule'
  /** Assumed 64-d heads (open_clip's default head_width) for a safetensors file without config. */
  | 'head-width-64'
  /** Not determinable: `heads` is 0 and `problem` says what to supply. */
  | 'unknown';

export interface TowerHeads {
  from: HeadsSource;
  /** One line for the UI / CLI, e.g. "12 heads: width 768 // 64 (OpenAI build_model)". */
  note: string;
  /** Why the head count is unknown (from 'unknown'). */
  problem?: string;
}

export interface ClipArchitecture {
  vision: ClipVisionConfig;
  /** Null when the file has no text tower. */
  text: ClipTextConfig | null;
  headsFrom: { vision: TowerHeads; text: TowerHeads | null };
}

function need(t: ClipTensorTable, name: string, rank: number, what: string): number[] {
  const s = t.shape(name);
  if (!s) throw new ClipFormatError(`${what}: tensor ${name} is missing (${FORMAT_LABEL[t.format]})`);
  if (s.length !== rank) throw new ClipFormatError(`${what}: tensor ${name} has shape [${s.join(', ')}], expected rank ${rank}`);
  return s;
}

function countBlocks(t: ClipTensorTable, prefix: string): number {
  let n = 0;
  while (t.has(`${prefix}transformer.resblocks.${n}.ln_1.weight`)) n++;
  return n;
}

/**
 * Vision widths of released open_clip models whose heads are not 64 wide although the width is a
 * multiple of 64: assuming 64-d heads there would load a wrong model silently, so a config is required.
 */
const OTHER_HEAD_WIDTH_MODELS = new Map<number, string>([
  [1280, 'ViT-H/14 (head_width 80: 16 heads)'],
  [1408, 'ViT-g/14 (head_width 88: 16 heads)'],
  [1664, 'ViT-bigG/14 (head_width 104: 16 heads)'],
]);

const countHeads = (n: number) => (n === 1 ? '1 head' : `${n} heads`);

function divides(heads: number, width: number, what: string, from: string): number {
  if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) throw new ClipFormatError(`${what}: ${heads} heads (${from}) do not divide width ${width}`);
  return heads;
}

/**
 * The head count of one tower (see the module comment for the order). Throws `ClipFormatError` for a
 * count that cannot work (does not divide the width) or a config of another model; returns heads 0 with
 * a `problem` when nothing determines it.
 */
export function resolveHeads(
  tower: 'vision' | 'text',
  width: number,
  format: ClipFileFormat,
  given: number | undefined,
  config: ClipHeadConfig | null,
  recorded: number | null | undefined,
): { heads: number } & TowerHeads {
  const what = tower === 'vision' ? 'CLIP image tower' : 'CLIP text tower';
  if (given !== undefined) {
    const heads = divides(given, width, what, 'given');
    return { heads, from: 'option', note: `${countHeads(heads)} (given)` };
  }
  const fromConfig = config?.[tower];
  if (config && fromConfig) {
    if (fromConfig.width !== undefined && fromConfig.width !== width) {
      throw new ClipFormatError(`${what}: the ${config.source} describes width ${fromConfig.width} but the weights have width ${width}; it belongs to another model`);
    }
    const heads = divides(fromConfig.heads, width, what, `from the ${config.source}`);
    return { heads, from: 'config', note: `${countHeads(heads)} (${config.source})` };
  }
  if (recorded != null) {
    const heads = divides(recorded, width, what, 'recorded in the .pt');
    return { heads, from: 'file', note: `${countHeads(heads)} (recorded in the traced .pt)` };
  }
  const configHint =
    format === 'hf-safetensors'
      ? "supply the model's config.json (num_attention_heads)"
      : format === 'openclip-safetensors'
        ? "supply the model's open_clip config (vision_cfg.head_width / text_cfg.heads)"
        : 'supply the head count';
  if (format === 'openai-torchscript') {
    // OpenAI build_model: vision_heads = vision_width // 64, transformer_heads = transformer_width // 64
    const heads = Math.floor(width / 64);
    if (heads < 1 || width % heads !== 0) {
      const problem = `${what}: width ${width} gives width // 64 = ${heads} heads (OpenAI's rule), which cannot split the width; ${configHint}`;
      return { heads: 0, from: 'unknown', note: 'heads unknown', problem };
    }
    return { heads, from: 'openai-rule', note: `${heads} ${heads === 1 ? 'head' : 'heads'}: width ${width} // 64 (OpenAI build_model)` };
  }
  const other = tower === 'vision' ? OTHER_HEAD_WIDTH_MODELS.get(width) : undefined;
  if (other) {
    const problem = `${what}: width ${width} is that of ${other}, whose heads are not 64 wide, so the head count cannot be assumed; ${configHint}`;
    return { heads: 0, from: 'unknown', note: 'heads unknown', problem };
  }
  if (width % 64 !== 0) {
    const problem = `${what}: width ${width} is not a multiple of 64, so the head count cannot be inferred; ${configHint}`;
    return { heads: 0, from: 'unknown', note: 'heads unknown', problem };
  }
  const heads = width / 64;
  return { heads, from: 'head-width-64', note: `${heads} ${heads === 1 ? 'head' : 'heads'}: assumed 64-d heads (open_clip's default head_width; ${configHint} if it differs)` };
}

/** Infers the architecture from tensor shapes; head counts by `resolveHeads`. */
export function inferArchitecture(t: ClipTensorTable, opts: ClipHeadOptions = {}): ClipArchitecture {
  const what = 'CLIP image tower';
  const config = opts.config === undefined ? null : parseClipConfig(opts.config, opts.configName);
  const conv = need(t, 'visual.conv1.weight', 4, what);
  const [width, inCh, p, p2] = conv;
  if (inCh !== 3 || p !== p2 || p < 1 || width < 1) throw new ClipFormatError(`${what}: patch embedding has shape [${conv.join(', ')}], expected [width, 3, p, p]`);
  const pos = need(t, 'visual.positional_embedding', 2, what);
  const grid = Math.round(Math.sqrt(pos[0] - 1));
  if (grid < 1 || grid * grid + 1 !== pos[0] || pos[1] !== width) {
    throw new ClipFormatError(`${what}: positional embedding [${pos.join(', ')}] does not fit a square patch grid of width ${width}`);
  }
  const layers = countBlocks(t, 'visual.');
  if (layers === 0) throw new ClipFormatError(`${what}: no transformer blocks (visual.transformer.resblocks.*)`);
  const proj = t.shape('visual.proj');
  if (proj && (proj.length !== 2 || proj[0] !== width || proj[1] < 1)) {
    throw new ClipFormatError(`${what}: projection visual.proj has shape [${proj.join(', ')}], expected [${width}, embed_dim]`);
  }
  const vh = resolveHeads('vision', width, t.format, opts.visionHeads, config, t.recordedHeads?.vision);
  const vision: ClipVisionConfig = {
    width,
    layers,
    heads: vh.heads,
    patchSize: p,
    inputResolution: grid * p,
    embedDim: proj ? proj[1] : width,
  };
  let text: ClipTextConfig | null = null;
  let th: TowerHeads | null = null;
  if (t.has('token_embedding.weight') && t.has('positional_embedding') && t.has('ln_final.weight')) {
    const [vocab, tw] = need(t, 'token_embedding.weight', 2, 'CLIP text tower');
    const [ctx] = need(t, 'positional_embedding', 2, 'CLIP text tower');
    const tproj = t.shape('text_projection');
    const tLayers = countBlocks(t, '');
    if (tLayers > 0 && tw >= 1) {
      const h = resolveHeads('text', tw, t.format, opts.textHeads, config, t.recordedHeads?.text);
      th = { from: h.from, note: h.note, ...(h.problem ? { problem: h.problem } : {}) };
      text = {
        width: tw,
        layers: tLayers,
        heads: h.heads,
        contextLength: ctx,
        vocabSize: vocab,
        embedDim: tproj && tproj.length === 2 ? tproj[1] : tw,
      };
    }
  }
  return { vision, text, headsFrom: { vision: { from: vh.from, note: vh.note, ...(vh.problem ? { problem: vh.problem } : {}) }, text: th } };
}

/** Short name of a ViT: B/32, L/14, ... by width (OpenAI sizes) or w<width>/<patch>. */
export function vitName(c: ClipVisionConfig): string {
  const size: Record<number, string> = { 384: 'S', 768: 'B', 1024: 'L', 1280: 'H' };
  return `ViT-${size[c.width] ?? `w${c.width}`}/${c.patchSize}`;
}

/** Parameters of the text tower in OpenAI naming (buffers such as `attn_mask` and scalars excluded). */
function isTextParameter(name: string): boolean {
  return /^(token_embedding\.|positional_embedding$|transformer\.resblocks\.|ln_final\.|text_projection$)/.test(name);
}

function numel(s: number[] | undefined): number {
  return s ? s.reduce((a, b) => a * b, 1) : 0;
}

export interface ClipFileDescription {
  format: ClipFileFormat;
  formatLabel: string;
  architecture: ClipArchitecture;
  /** One line, e.g. "CLIP ViT-B/32, 224² input, 12 blocks × 768 (12 heads), 512-d embedding; text tower 12 × 512". */
  summary: string;
  visionParameters: number;
  textParameters: number;
  /** All CLIP parameters in the file (image + text towers + logit scale). */
  parameters: number;
}

/** For `cli inspect`: format, architecture and parameter counts, reading only the headers. */
export async function describeClipFile(source: ByteSource, opts: ClipHeadOptions = {}): Promise<ClipFileDescription> {
  const t = await openClipTable(source);
  const names = t.names();
  let visionParameters = 0;
  let textParameters = 0;
  for (const n of names) {
    const k = numel(t.shape(n));
    if (n.startsWith('visual.')) visionParameters += k;
    else if (isTextParameter(n)) textParameters += k;
  }
  const architecture = inferArchitecture(t, opts);
  const v = architecture.vision;
  const SHORT: Record<HeadsSource, string> = {
    option: 'given', config: 'from the config', file: 'recorded in the .pt', 'openai-rule': 'width // 64', 'head-width-64': 'assumed 64-d', unknown: '',
  };
  const heads = (h: number, from: HeadsSource | undefined) =>
    h === 0 ? 'heads unknown' : `${h === 1 ? '1 head' : `${h} heads`}${from && SHORT[from] ? `, ${SHORT[from]}` : ''}`;
  let summary = `CLIP ${vitName(v)}, ${v.inputResolution}² input, ${v.layers} blocks × ${v.width} (${heads(v.heads, architecture.headsFrom.vision.from)}), ${v.embedDim}-d embedding`;
  if (architecture.text) {
    const tc = architecture.text;
    summary += `; text tower ${tc.layers} × ${tc.width} (${heads(tc.heads, architecture.headsFrom.text?.from)}), context ${tc.contextLength}`;
  } else summary += '; no text tower';
  return {
    format: t.format,
    formatLabel: FORMAT_LABEL[t.format],
    architecture,
    summary,
    visionParameters,
    textParameters,
    parameters: visionParameters + textParameters + numel(t.shape('logit_scale')),
  };
}

// ---------------------------------------------------------------------------------------------
// Building the tfjs towers

/** Reads tensors into tfjs layout, tracking every tensor it creates so a failed load can free them. */
class WeightReader {
  loaded = 0;
  readonly created: tf.Tensor[] = [];
  constructor(
    private readonly t: ClipTensorTable,
    readonly total: number,
    private readonly onProgress?: (loaded: number, total: number) => void,
  ) {}

  /** Reads one tensor in PyTorch layout, checking its shape. */
  async raw(name: string, expect: number[]): Promise<Float32Array> {
    const s = this.t.shape(name);
    if (!s) throw new ClipFormatError(`tensor ${name} is missing (${FORMAT_LABEL[this.t.format]})`);
    if (s.length !== expect.length || s.some((d, i) => d !== expect[i])) {
      throw new ClipFormatError(`tensor ${name} has shape [${s.join(', ')}], expected [${expect.join(', ')}]`);
    }
    const data = await this.t.read(name);
    const n = expect.reduce((a, b) => a * b, 1);
    if (data.length !== n) throw new ClipFormatError(`tensor ${name} holds ${data.length} values, its shape [${expect.join(', ')}] needs ${n}`);
    this.loaded += data.length * 4;
    this.onProgress?.(this.loaded, this.total);
    return data;
  }

  track<T extends tf.Tensor>(t: T): T {
    this.created.push(t);
    return t;
  }

  async vec(name: string, n: number): Promise<tf.Tensor1D> {
    return this.track(tf.tensor1d(await this.raw(name, [n])));
  }

  async mat(name: string, rows: number, cols: number): Promise<tf.Tensor2D> {
    return this.track(tf.tensor2d(await this.raw(name, [rows, cols]), [rows, cols]));
  }

  /** PyTorch Linear weight `[out, in]` → tfjs `[in, out]`. */
  async linear(name: string, out: number, inp: number): Promise<tf.Tensor2D> {
    return this.track(tf.tensor2d(transpose2d(await this.raw(name, [out, inp]), out, inp), [inp, out]));
  }

  disposeCreated(): void {
    for (const t of this.created) t.dispose();
    this.created.length = 0;
  }

  async layerNorm(prefix: string, n: number): Promise<LayerNormWeights> {
    return { gamma: await this.vec(`${prefix}.weight`, n), beta: await this.vec(`${prefix}.bias`, n) };
  }

  async block(prefix: string, w: number): Promise<ResidualBlockWeights> {
    const fc = this.t.shape(`${prefix}.mlp.c_fc.weight`)?.[0] ?? 4 * w;
    return {
      ln1: await this.layerNorm(`${prefix}.ln_1`, w),
      inProjW: await this.linear(`${prefix}.attn.in_proj_weight`, 3 * w, w),
      inProjB: await this.vec(`${prefix}.attn.in_proj_bias`, 3 * w),
      outProjW: await this.linear(`${prefix}.attn.out_proj.weight`, w, w),
      outProjB: await this.vec(`${prefix}.attn.out_proj.bias`, w),
      ln2: await this.layerNorm(`${prefix}.ln_2`, w),
      fcW: await this.linear(`${prefix}.mlp.c_fc.weight`, fc, w),
      fcB: await this.vec(`${prefix}.mlp.c_fc.bias`, fc),
      projW: await this.linear(`${prefix}.mlp.c_proj.weight`, w, fc),
      projB: await this.vec(`${prefix}.mlp.c_proj.bias`, w),
    };
  }
}

const BLOCK_TENSORS = [
  'ln_1.weight', 'ln_1.bias', 'attn.in_proj_weight', 'attn.in_proj_bias', 'attn.out_proj.weight', 'attn.out_proj.bias',
  'ln_2.weight', 'ln_2.bias', 'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias',
];

/** Exactly the tensors the towers read (for progress totals). */
function neededTensors(t: ClipTensorTable, arch: ClipArchitecture, withText: boolean): string[] {
  const blocks = (prefix: string, n: number) => [...Array(n).keys()].flatMap((i) => BLOCK_TENSORS.map((b) => `${prefix}transformer.resblocks.${i}.${b}`));
  const names = [
    'visual.conv1.weight', 'visual.class_embedding', 'visual.positional_embedding', 'visual.ln_pre.weight', 'visual.ln_pre.bias',
    ...blocks('visual.', arch.vision.layers), 'visual.ln_post.weight', 'visual.ln_post.bias', 'visual.proj',
  ];
  if (withText && arch.text) {
    names.push('token_embedding.weight', 'positional_embedding', ...blocks('', arch.text.layers), 'ln_final.weight', 'ln_final.bias', 'text_projection');
  }
  return names.filter((n) => t.has(n));
}

async function buildVision(r: WeightReader, c: ClipVisionConfig, hasProj: boolean): Promise<ClipVisionTransformer> {
  const { width: w, patchSize: p } = c;
  const grid = c.inputResolution / p;
  const convRaw = await r.raw('visual.conv1.weight', [w, 3, p, p]);
  // [width, 3, p, p] → [p, p, 3, width] → [p·p·3, width], matching the (py, px, c) patch rows.
  const patchW = r.track(tf.tidy(() => tf.reshape(tf.transpose(tf.tensor4d(convRaw, [w, 3, p, p]), [2, 3, 1, 0]), [p * p * 3, w]) as tf.Tensor2D));
  const classEmbedding = await r.vec('visual.class_embedding', w);
  const positionalEmbedding = await r.mat('visual.positional_embedding', grid * grid + 1, w);
  const lnPre = await r.layerNorm('visual.ln_pre', w);
  const blocks: ResidualBlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) blocks.push(await r.block(`visual.transformer.resblocks.${i}`, w));
  const lnPost = await r.layerNorm('visual.ln_post', w);
  const proj = hasProj ? await r.mat('visual.proj', w, c.embedDim) : null;
  return new ClipVisionTransformer(c, { patchW, classEmbedding, positionalEmbedding, lnPre, blocks, lnPost, proj });
}

async function buildText(r: WeightReader, c: ClipTextConfig, hasProj: boolean): Promise<ClipTextTransformer> {
  const w = c.width;
  const tokenEmbedding = await r.mat('token_embedding.weight', c.vocabSize, w);
  const positionalEmbedding = await r.mat('positional_embedding', c.contextLength, w);
  const blocks: ResidualBlockWeights[] = [];
  for (let i = 0; i < c.layers; i++) blocks.push(await r.block(`transformer.resblocks.${i}`, w));
  const lnFinal = await r.layerNorm('ln_final', w);
  const projection = hasProj ? await r.mat('text_projection', w, c.embedDim) : null;
  return new ClipTextTransformer(c, { tokenEmbedding, positionalEmbedding, blocks, lnFinal, projection });
}

/** The weights do not determine a tower's head count: the model's config file (or the count) must be supplied. */
export class ClipHeadsUnknownError extends ClipFormatError {}

export interface LoadedClip {
  format: ClipFileFormat;
  /** Shapes, head counts and where each head count came from (`headsFrom`), for the model summary. */
  architecture: ClipArchitecture;
  vision: ClipVisionTransformer;
  /** Loaded only with `text: true` and when the file has a text tower. */
  text: ClipTextTransformer | null;
  dispose(): void;
}

/** Reads the image tower (and optionally the text tower) of any supported CLIP file. */
export async function loadClipModel(source: ByteSource, opts: ClipLoadOptions = {}): Promise<LoadedClip> {
  const t = await openClipTable(source);
  const arch = inferArchitecture(t, opts);
  const withText = !!opts.text && arch.text !== null;
  if (arch.vision.heads === 0) throw new ClipHeadsUnknownError(arch.headsFrom.vision.problem ?? 'CLIP image tower: head count unknown');
  if (withText && arch.text!.heads === 0) throw new ClipHeadsUnknownError(arch.headsFrom.text?.problem ?? 'CLIP text tower: head count unknown');
  const total = neededTensors(t, arch, withText).reduce((sum, n) => sum + numel(t.shape(n)) * 4, 0);
  const reader = new WeightReader(t, total, opts.onProgress);
  let vision: ClipVisionTransformer;
  let text: ClipTextTransformer | null = null;
  try {
    vision = await buildVision(reader, arch.vision, t.has('visual.proj'));
    if (withText) text = await buildText(reader, arch.text!, t.has('text_projection'));
  } catch (e) {
    reader.disposeCreated();
    throw e;
  }
  return {
    format: t.format,
    architecture: arch,
    vision,
    text,
    dispose() {
      vision.dispose();
      text?.dispose();
    },
  };
}


/**
 * OpenAI's JIT `.pt` files as a CLIP tensor table: the TorchScript archive's attribute paths are
 * already OpenAI state-dict names (`visual.conv1.weight`, ...); weights are fp16, read as float32.
 */
import type { ByteSource } from '../io/byte-source.ts';
import { TorchScriptArchive, type TorchScriptTensor } from '../io/torchscript.ts';
import { ClipFormatError, type ClipTensorTable } from './table.ts';
import { FormatError } from '../core/errors.ts';

class TorchScriptTable implements ClipTensorTable {
  readonly format = 'openai-torchscript' as const;
  constructor(
    private readonly tensors: Map<string, TorchScriptTensor>,
    readonly recordedHeads: { vision: number | null; text: number | null },
  ) {}
  has(name: string) {
    return this.tensors.has(name);
  }
  shape(name: string) {
    return this.tensors.get(name)?.shape.slice();
  }
  async read(name: string) {
    const t = this.tensors.get(name);
    if (!t) throw new ClipFormatError(`tensor ${name} not present in the TorchScript archive`);
    return t.read();
  }
  names() {
    return [...this.tensors.keys()];
  }
}

export async function openTorchScriptTable(source: ByteSource): Promise<ClipTensorTable> {
  // A damaged archive is reported as such (corrupt-file, from the zip / pickle / torch readers); an
  // archive of another kind as an incompatible file.
  const archive = await TorchScriptArchive.open(source);
  const t = archive.tensors;
  if (t.has('visual.attnpool.c_proj.weight') || t.has('visual.layer1.0.conv1.weight')) {
    throw new ClipFormatError(`${source.name}: a ResNet CLIP (RN50/RN101/...); only the ViT image encoders are supported`);
  }
  if (!t.has('visual.conv1.weight') || !t.has('visual.class_embedding')) {
    const sample = [...t.keys()].slice(0, 3).join(', ');
    throw new ClipFormatError(`${source.name}: TorchScript archive without a CLIP ViT image tower (no visual.conv1.weight / visual.class_embedding; found e.g. ${sample})`);
  }
  const recordedHeads = {
    vision: await tracedHeads(archive, 'visual.transformer.resblocks.0.attn'),
    text: await tracedHeads(archive, 'transformer.resblocks.0.attn'),
  };
  return new TorchScriptTable(t, recordedHeads);
}

/**
 * The head count of the `nn.MultiheadAttention` at `path`, as the traced code computes it: the
 * archive stores the module's forward as TorchScript, where `num_heads` survives as a constant in
 * `head_dim = torch.div(embed_dim, CONSTANTS.c0, rounding_mode="trunc")` (also written
 * `torch.floor_divide(...)` or `embed_dim // n`, or with the number inline) and in the `bsz * num_heads` reshapes. Null when
 * the archive carries no code for it (e.g. a plain `torch.save` zip).
 */
export async function tracedHeads(archive: TorchScriptArchive, path: string): Promise<number | null> {
  const cls = archive.moduleClasses.get(path);
  if (!cls) return null;
  const src = await archive.classSource(cls);
  if (!src) return null;
  const m =
    /head_dim\s*=\s*[\w.]+\(\s*embed_dim\s*,\s*(?:CONSTANTS\.c(\d+)|(\d+))\b/.exec(src) ??
    /head_dim\s*=\s*embed_dim\s*\/\/\s*(?:CONSTANTS\.c(\d+)|(\d+))\b/.exec(src) ??
    /torch\.mul\(\s*bsz\s*,\s*(?:CONSTANTS\.c(\d+)|(\d+))\s*\)/.exec(src);
  if (!m) return null;
  let heads: number;
  if (m[2] !== undefined) heads = Number(m[2]);
  else {
    const c = await archive.constant(Number(m[1]));
    if (!c || c.shape.reduce((a, b) => a * b, 1) !== 1) {
      throw new FormatError(`${archive.zip.source.name}: the head count of ${path} refers to CONSTANTS.c${m[1]}, which the archive does not hold as a single number`);
    }
    heads = (await c.read())[0];
  }
  if (!Number.isInteger(heads) || heads < 1) throw new FormatError(`${archive.zip.source.name}: ${path} records ${heads} attention heads`);
  return heads;
}

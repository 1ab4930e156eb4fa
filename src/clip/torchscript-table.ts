/**
 * OpenAI's JIT `.pt` files as a CLIP tensor table: the TorchScript archive's attribute paths are
 * already OpenAI state-dict names (`visual.conv1.weight`, ...); weights are fp16, read as float32.
 */
import type { ByteSource } from '../io/byte-source.ts';
import { PickleFormatError } from '../io/pickle.ts';
import { TorchFormatError } from '../io/torch-legacy.ts';
import { TorchScriptArchive, type TorchScriptTensor } from '../io/torchscript.ts';
import { ZipFormatError } from '../io/zip.ts';
import { ClipFormatError, type ClipTensorTable } from './table.ts';

class TorchScriptTable implements ClipTensorTable {
  readonly format = 'openai-torchscript' as const;
  constructor(private readonly tensors: Map<string, TorchScriptTensor>) {}
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
  let archive: TorchScriptArchive;
  try {
    archive = await TorchScriptArchive.open(source);
  } catch (e) {
    if (e instanceof TorchFormatError || e instanceof ZipFormatError || e instanceof PickleFormatError) {
      throw new ClipFormatError(`${source.name}: not a readable CLIP TorchScript archive (${e.message})`);
    }
    throw e;
  }
  const t = archive.tensors;
  if (t.has('visual.attnpool.c_proj.weight') || t.has('visual.layer1.0.conv1.weight')) {
    throw new ClipFormatError(`${source.name}: a ResNet CLIP (RN50/RN101/...); only the ViT image encoders are supported`);
  }
  if (!t.has('visual.conv1.weight') || !t.has('visual.class_embedding')) {
    const sample = [...t.keys()].slice(0, 3).join(', ');
    throw new ClipFormatError(`${source.name}: TorchScript archive without a CLIP ViT image tower (no visual.conv1.weight / visual.class_embedding; found e.g. ${sample})`);
  }
  return new TorchScriptTable(t);
}

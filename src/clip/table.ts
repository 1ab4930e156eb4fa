/** Shared types of the CLIP importers: the OpenAI-named tensor table every file format is presented as. */
import { IncompatibleFileError } from '../core/errors.ts';

export type ClipFileFormat = 'openai-torchscript' | 'hf-safetensors' | 'openclip-safetensors';

export const FORMAT_LABEL: Record<ClipFileFormat, string> = {
  'openai-torchscript': 'OpenAI TorchScript .pt',
  'hf-safetensors': 'Hugging Face safetensors',
  'openclip-safetensors': 'open_clip safetensors',
};

export class ClipFormatError extends IncompatibleFileError {
  constructor(message: string) {
    super(message);
  }
}

/** A read-only table of tensors in OpenAI naming and PyTorch layout. */
export interface ClipTensorTable {
  readonly format: ClipFileFormat;
  has(name: string): boolean;
  shape(name: string): number[] | undefined;
  /** Contiguous float32 data in PyTorch layout. */
  read(name: string): Promise<Float32Array>;
  /** All tensor names present (OpenAI naming). */
  names(): string[];
  /** Head counts the file itself records (a traced OpenAI `.pt` carries them in its code constants). */
  readonly recordedHeads?: { vision: number | null; text: number | null };
}


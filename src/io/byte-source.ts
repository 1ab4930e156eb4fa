/**
 * Random-access reading of large files without loading them whole: a browser `Blob`/`File`
 * or (in Node, see `src/platform/node-file.ts`) a file on disk. Every weight reader takes one.
 */
import { FormatError } from '../core/errors.ts';
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Human-readable name (file name) for messages. */
  readonly name: string;
  /** Reads `length` bytes at `offset`. Reading past the end is an error (truncated file). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

export class TruncatedFileError extends FormatError {
  constructor(name: string, offset: number, length: number, size: number) {
    super(`${name}: file is truncated (needed bytes ${offset}..${offset + length}, file has ${size})`);
  }
}

export function checkRange(src: { name: string; size: number }, offset: number, length: number): void {
  if (offset < 0 || length < 0 || offset + length > src.size) {
    throw new TruncatedFileError(src.name, offset, length, src.size);
  }
}

/** A source over bytes already in memory. */
export class MemoryByteSource implements ByteSource {
  readonly size: number;
  constructor(
    private readonly bytes: Uint8Array,
    readonly name = 'memory',
  ) {
    this.size = bytes.byteLength;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.subarray(offset, offset + length);
  }
}

/** A source over a browser (or Node ≥ 20) `Blob` / `File`; only the requested slices are read. */
export class BlobByteSource implements ByteSource {
  readonly size: number;
  readonly name: string;
  constructor(readonly blob: Blob, name?: string) {
    this.size = blob.size;
    this.name = name ?? (blob as File).name ?? 'blob';
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }
}

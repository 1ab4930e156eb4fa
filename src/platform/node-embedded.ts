/**
 * Node's EmbeddedFileOpener (src/engine/embedded.ts): files shipped with the app are read from the
 * repository's `public/` folder (the CLI and the tests; the browser fetches them, browser-embedded.ts).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { InternalError } from '../core/errors.ts';
import { MemoryByteSource, type ByteSource } from '../io/byte-source.ts';

const PUBLIC_DIR = new URL('../../public/', import.meta.url);

/** Absolute path of a file under `public/`. */
export function publicFilePath(file: string): string {
  return fileURLToPath(new URL(file, PUBLIC_DIR));
}

export async function openEmbeddedFile(file: string, onProgress?: (loaded: number, total: number) => void): Promise<ByteSource> {
  const path = publicFilePath(file);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new InternalError(`the embedded file ${file} is missing (${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}); build it with the demo script first`);
  }
  onProgress?.(bytes.length, bytes.length);
  return new MemoryByteSource(bytes, file.slice(file.lastIndexOf('/') + 1));
}

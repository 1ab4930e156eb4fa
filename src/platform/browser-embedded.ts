/**
 * The browser's (page or worker) EmbeddedFileOpener (src/engine/embedded.ts): files shipped with the
 * app are fetched from the site's own origin under Vite's base URL, streaming with progress.
 */
import { InternalError } from '../core/errors.ts';
import { MemoryByteSource, type ByteSource } from '../io/byte-source.ts';

export async function fetchEmbeddedFile(file: string, onProgress?: (loaded: number, total: number) => void): Promise<ByteSource> {
  const name = file.slice(file.lastIndexOf('/') + 1);
  const url = new URL(`${import.meta.env.BASE_URL}${file}`, globalThis.location.href).href;
  const res = await fetch(url);
  if (!res.ok) throw new InternalError(`could not fetch the embedded file ${file} (${url}: HTTP ${res.status})`);
  const total = Number(res.headers.get('content-length') ?? 0);
  const reader = res.body?.getReader();
  if (!reader) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    onProgress?.(bytes.length, bytes.length);
    return new MemoryByteSource(bytes, name);
  }
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.(loaded, total || loaded);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return new MemoryByteSource(bytes, name);
}

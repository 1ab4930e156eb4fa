/** Gzip-compressed bytes (magic 1f 8b) are inflated; anything else is returned as it is. */
import { gunzipSync } from 'fflate';
import { FormatError } from '../core/errors.ts';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function maybeGunzip(bytes: Uint8Array, name: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    return gunzipSync(bytes);
  } catch (e) {
    throw new FormatError(`${name}: a damaged gzip file (${e instanceof Error ? e.message : String(e)})`);
  }
}

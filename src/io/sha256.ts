/**
 * Incremental SHA-256 (FIPS 180-4). `crypto.subtle.digest` only hashes a whole buffer, which would
 * mean holding a 380 MB checkpoint in memory; this one is fed chunk by chunk.
 */
import type { ByteSource } from './byte-source.ts';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

export class Sha256 {
  private readonly h = new Uint32Array([
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
  ]);
  private readonly w = new Uint32Array(64);
  /** Partial block carried between `update` calls. */
  private readonly pending = new Uint8Array(64);
  private pendingLength = 0;
  private totalBytes = 0;
  private finished = false;

  update(data: Uint8Array): this {
    if (this.finished) throw new Error('Sha256: update() after digest()');
    this.totalBytes += data.length;
    let i = 0;
    if (this.pendingLength > 0) {
      const take = Math.min(64 - this.pendingLength, data.length);
      this.pending.set(data.subarray(0, take), this.pendingLength);
      this.pendingLength += take;
      i = take;
      if (this.pendingLength < 64) return this;
      this.compress(this.pending, 0);
      this.pendingLength = 0;
    }
    const blocks = Math.floor((data.length - i) / 64);
    if (blocks > 0) {
      compressBlocks(this.h, this.w, new DataView(data.buffer, data.byteOffset + i, blocks * 64), blocks);
      i += blocks * 64;
    }
    if (i < data.length) {
      this.pending.set(data.subarray(i), 0);
      this.pendingLength = data.length - i;
    }
    return this;
  }

  /** Finishes and returns the lowercase hex digest. */
  digestHex(): string {
    if (!this.finished) {
      const bitsHigh = Math.floor((this.totalBytes * 8) / 2 ** 32);
      const bitsLow = (this.totalBytes * 8) >>> 0;
      const padLength = this.pendingLength < 56 ? 64 : 128;
      const pad = new Uint8Array(padLength);
      pad.set(this.pending.subarray(0, this.pendingLength));
      pad[this.pendingLength] = 0x80;
      const dv = new DataView(pad.buffer);
      dv.setUint32(padLength - 8, bitsHigh, false);
      dv.setUint32(padLength - 4, bitsLow, false);
      for (let i = 0; i < padLength; i += 64) this.compress(pad, i);
      this.finished = true;
    }
    let hex = '';
    for (const v of this.h) hex += v.toString(16).padStart(8, '0');
    return hex;
  }

  private compress(bytes: Uint8Array, at: number): void {
    compressBlocks(this.h, this.w, new DataView(bytes.buffer, bytes.byteOffset + at, 64), 1);
  }
}

/** Processes `blocks` 64-byte blocks from `dv` into state `h` (module-level so V8 keeps it monomorphic). */
function compressBlocks(h: Uint32Array, w: Uint32Array, dv: DataView, blocks: number): void {
  let h0 = h[0], h1 = h[1], h2 = h[2], h3 = h[3], h4 = h[4], h5 = h[5], h6 = h[6], h7 = h[7];
  for (let blk = 0; blk < blocks; blk++) {
    const base = blk * 64;
    for (let t = 0; t < 16; t++) w[t] = dv.getUint32(base + t * 4, false);
    for (let t = 16; t < 64; t++) {
      const a = w[t - 15];
      const b = w[t - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, hh = h7;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      hh = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + b) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + hh) | 0;
  }
  h[0] = h0; h[1] = h1; h[2] = h2; h[3] = h3; h[4] = h4; h[5] = h5; h[6] = h6; h[7] = h7;
}

/** Hashes a whole ByteSource in `chunkBytes` windows (never the whole file at once). */
export async function sha256OfSource(
  source: ByteSource,
  opts: { chunkBytes?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<string> {
  const chunk = opts.chunkBytes ?? 8 * 1024 * 1024;
  const hash = new Sha256();
  for (let off = 0; off < source.size; off += chunk) {
    const n = Math.min(chunk, source.size - off);
    hash.update(await source.read(off, n));
    opts.onProgress?.(off + n, source.size);
  }
  return hash.digestHex();
}

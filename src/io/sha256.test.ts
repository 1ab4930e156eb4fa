import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryByteSource } from './byte-source.ts';
import { Sha256, sha256OfSource } from './sha256.ts';

describe('Sha256', () => {
  it('matches the FIPS 180-2 test vectors', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(new Sha256().digestHex()).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(new Sha256().update(enc('abc')).digestHex()).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(new Sha256().update(enc('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).digestHex()).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('gives the same digest however the input is split (incl. block and padding boundaries)', () => {
    for (const n of [55, 56, 63, 64, 65, 1000, 4099]) {
      const data = Uint8Array.from({ length: n }, (_, k) => (k * 31 + 7) & 0xff);
      const expected = createHash('sha256').update(data).digest('hex');
      for (const step of [1, 7, 64, 100]) {
        const h = new Sha256();
        for (let k = 0; k < n; k += step) h.update(data.subarray(k, k + step));
        expect(h.digestHex(), `n=${n} step=${step}`).toBe(expected);
      }
    }
  });

  it('hashes a ByteSource in chunks', async () => {
    const data = Uint8Array.from({ length: 100_003 }, (_, k) => (k * 13) & 0xff);
    const progress: number[] = [];
    const hex = await sha256OfSource(new MemoryByteSource(data), { chunkBytes: 4096, onProgress: (d) => progress.push(d) });
    expect(hex).toBe(createHash('sha256').update(data).digest('hex'));
    expect(progress.at(-1)).toBe(data.length);
  });
});

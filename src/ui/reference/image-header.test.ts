import { describe, expect, it } from 'vitest';
import { encode as encodePng } from 'fast-png';
import jpeg from 'jpeg-js';
import { sniffImage } from './image-header.ts';

describe('image header sniffing', () => {
  it('reads PNG size from IHDR', () => {
    const png = encodePng({ width: 37, height: 21, data: new Uint8Array(37 * 21 * 4), channels: 4, depth: 8 });
    expect(sniffImage(png)).toEqual({ format: 'png', width: 37, height: 21 });
  });

  it('reads JPEG size from the SOF marker', () => {
    const raw = { width: 50, height: 30, data: Buffer.alloc(50 * 30 * 4, 128) };
    const jpg = new Uint8Array(jpeg.encode(raw, 80).data);
    expect(sniffImage(jpg)).toEqual({ format: 'jpeg', width: 50, height: 30 });
  });

  it('reads the size of an 8000² PNG without decoding it', () => {
    // Only the header matters: signature + IHDR of a huge image.
    const head = new Uint8Array(33);
    head.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
    new DataView(head.buffer).setUint32(16, 8000);
    new DataView(head.buffer).setUint32(20, 8000);
    expect(sniffImage(head)).toEqual({ format: 'png', width: 8000, height: 8000 });
  });

  it('recognises GIF, BMP and WebP (VP8X) headers', () => {
    const gif = new Uint8Array([...'GIF89a'].map((c) => c.charCodeAt(0)).concat([10, 0, 20, 0]));
    expect(sniffImage(gif)).toEqual({ format: 'gif', width: 10, height: 20 });
    const bmp = new Uint8Array(30);
    bmp.set([0x42, 0x4d]);
    new DataView(bmp.buffer).setInt32(18, 64, true);
    new DataView(bmp.buffer).setInt32(22, -48, true); // top-down BMPs store a negative height
    expect(sniffImage(bmp)).toEqual({ format: 'bmp', width: 64, height: 48 });
    const webp = new Uint8Array(30);
    webp.set([...'RIFF'].map((c) => c.charCodeAt(0)), 0);
    webp.set([...'WEBPVP8X'].map((c) => c.charCodeAt(0)), 8);
    webp.set([99, 0, 0, 49, 0, 0], 24); // width−1 = 99, height−1 = 49 (24-bit LE)
    expect(sniffImage(webp)).toEqual({ format: 'webp', width: 100, height: 50 });
  });

  it('returns null for non-images', () => {
    expect(sniffImage(new TextEncoder().encode('hello, this is a text file'))).toBeNull();
    expect(sniffImage(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))).toBeNull(); // a zip
    expect(sniffImage(new Uint8Array(0))).toBeNull();
  });
});

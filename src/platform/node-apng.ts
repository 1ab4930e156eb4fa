/**
 * The CLI's orbit-video writer: animated PNG (APNG). Node has no WebCodecs, so there is no VP9/H.264
 * encoder to call; APNG is lossless, 24-bit (no GIF palette banding on skin gradients), plays in every
 * current browser (Chrome, Firefox, Safari, Edge) and in ffmpeg-based players, and needs nothing new:
 * each frame is a PNG from `fast-png` (already the project's PNG writer), whose IDAT stream becomes the
 * frame's IDAT (first frame) or fdAT chunks, with the acTL / fcTL chunks of the APNG specification.
 * Frames are compressed as they arrive; the file is assembled by `finish()`.
 */
import { encode as encodePng } from 'fast-png';
import { InternalError } from '../core/errors.ts';
import type { RgbaImage } from '../core/image.ts';

/** The spec a writer is opened for (src/engine/video.ts VideoFrameSpec). */
export interface ApngSpec {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

export interface ApngFile {
  bytes: Uint8Array;
  mimeType: string;
  extension: string;
  codec: string;
}

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as PNG chunks use) of the chunk type and data. */
function crc32(parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  const typeBytes = Uint8Array.from(type, (ch) => ch.charCodeAt(0));
  view.setUint32(0, data.length);
  out.set(typeBytes, 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32([typeBytes, data]));
  return out;
}

/** The chunks of a PNG file: type and data. */
function pngChunks(png: Uint8Array): { type: string; data: Uint8Array }[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const out: { type: string; data: Uint8Array }[] = [];
  for (let at = SIGNATURE.length; at + 12 <= png.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...png.subarray(at + 4, at + 8));
    out.push({ type, data: png.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
  }
  return out;
}

/** The frame delay as a fraction num/den of seconds (both u16): 1/fps to 0.1 %. */
export function frameDelay(fps: number): { num: number; den: number } {
  if (!(fps > 0) || fps > 65) throw new InternalError(`APNG frame rate must be within (0, 65] fps (got ${fps})`);
  return { num: 1000, den: Math.round(1000 * fps) };
}

export class ApngWriter {
  private ihdr: Uint8Array | null = null;
  /** Per frame, its image data stream (the IDAT payloads, concatenated). */
  private readonly frames: Uint8Array[] = [];
  private aborted = false;

  constructor(private readonly spec: ApngSpec) {
    if (!Number.isInteger(spec.width) || !Number.isInteger(spec.height) || spec.width < 1 || spec.height < 1) throw new InternalError(`APNG frame size must be whole pixels (got ${spec.width}×${spec.height})`);
    frameDelay(spec.fps);
  }

  async add(frame: RgbaImage, index: number): Promise<void> {
    if (this.aborted) throw new InternalError('the APNG writer was aborted');
    if (index !== this.frames.length) throw new InternalError(`APNG frames must arrive in order (got frame ${index}, expected ${this.frames.length})`);
    if (frame.width !== this.spec.width || frame.height !== this.spec.height) throw new InternalError(`APNG frame ${index} is ${frame.width}×${frame.height}, not ${this.spec.width}×${this.spec.height}`);
    const n = frame.width * frame.height;
    const rgb = new Uint8Array(n * 3);
    for (let p = 0; p < n; p++) {
      rgb[p * 3] = frame.data[p * 4];
      rgb[p * 3 + 1] = frame.data[p * 4 + 1];
      rgb[p * 3 + 2] = frame.data[p * 4 + 2];
    }
    const chunks = pngChunks(encodePng({ width: frame.width, height: frame.height, data: rgb, channels: 3, depth: 8 }));
    this.ihdr ??= chunks.find((c) => c.type === 'IHDR')!.data.slice();
    const idat = chunks.filter((c) => c.type === 'IDAT').map((c) => c.data);
    const stream = new Uint8Array(idat.reduce((a, c) => a + c.length, 0));
    let at = 0;
    for (const d of idat) {
      stream.set(d, at);
      at += d.length;
    }
    this.frames.push(stream);
  }

  async finish(): Promise<ApngFile> {
    if (this.aborted) throw new InternalError('the APNG writer was aborted');
    if (!this.ihdr || this.frames.length === 0) throw new InternalError('an APNG needs at least one frame');
    const { width, height } = this.spec;
    const delay = frameDelay(this.spec.fps);
    const parts: Uint8Array[] = [SIGNATURE, chunk('IHDR', this.ihdr)];
    const actl = new Uint8Array(8);
    new DataView(actl.buffer).setUint32(0, this.frames.length); // num_frames; num_plays 0 = loop forever
    parts.push(chunk('acTL', actl));
    let sequence = 0;
    this.frames.forEach((stream, i) => {
      const fctl = new Uint8Array(26);
      const v = new DataView(fctl.buffer);
      v.setUint32(0, sequence++);
      v.setUint32(4, width);
      v.setUint32(8, height);
      // x, y offsets 0; delay; dispose_op 0 (none), blend_op 0 (source: the frame replaces the canvas)
      v.setUint16(20, delay.num);
      v.setUint16(22, delay.den);
      parts.push(chunk('fcTL', fctl));
      if (i === 0) parts.push(chunk('IDAT', stream));
      else {
        const fdat = new Uint8Array(4 + stream.length);
        new DataView(fdat.buffer).setUint32(0, sequence++);
        fdat.set(stream, 4);
        parts.push(chunk('fdAT', fdat));
      }
    });
    parts.push(chunk('IEND', new Uint8Array(0)));
    const bytes = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) {
      bytes.set(p, at);
      at += p.length;
    }
    this.frames.length = 0;
    return { bytes, mimeType: 'image/apng', extension: 'png', codec: 'apng' };
  }

  abort(): void {
    this.aborted = true;
    this.frames.length = 0;
  }
}

/** `LocalEngineOptions.openVideoWriter` for Node: an APNG writer. */
export async function openApngWriter(spec: ApngSpec): Promise<ApngWriter> {
  return new ApngWriter(spec);
}

/**
 * The studio's orbit-video writer (`LocalEngineOptions.openVideoWriter` in the engine worker): WebCodecs
 * `VideoEncoder` — VP9, else VP8 (WebM), else H.264 (MP4), the first that `VideoEncoder.isConfigSupported`
 * accepts for the frame size — muxed by mediabunny (`EncodedVideoPacketSource` into a `BufferTarget`).
 *
 * Each frame is encoded as it arrives (`latencyMode: 'realtime'`: one chunk out per frame in) while the
 * engine renders the next; `add()` waits only when more than MAX_QUEUED frames are still queued in the
 * encoder, so the clip never piles up in memory. The engine's `encodeSeconds` (time in add() and
 * finish()) is then the time the clip waited for the encoder; the encoder's own throughput is measured by
 * `npm run bench -- --only video`.
 */
import { BufferTarget, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output, WebMOutputFormat, type VideoCodec } from 'mediabunny';
import { AppError, InternalError } from '../core/errors.ts';
import type { RgbaImage } from '../core/image.ts';

/** Frames the encoder may hold before add() waits. */
const MAX_QUEUED = 4;

export interface BrowserVideoSpec {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

interface Candidate {
  codec: VideoCodec;
  container: 'webm' | 'mp4';
  /** The WebCodecs codec string for a frame of `pixels` luma samples. */
  codecString(pixels: number): string;
}

/** VP9 profile 0, 8-bit, at the lowest level whose picture size holds the frame (levels 3.1 … 6.0). */
function vp9String(pixels: number): string {
  const level = pixels <= 983_040 ? '31' : pixels <= 2_228_224 ? '40' : pixels <= 8_912_896 ? '50' : '60';
  return `vp09.00.${level}.08`;
}

/** In order of preference: VP9 and VP8 in WebM (royalty-free, in every Chromium and Firefox), then H.264 High 5.1 in MP4 (Safari). */
export const VIDEO_CANDIDATES: readonly Candidate[] = [
  { codec: 'vp9', container: 'webm', codecString: vp9String },
  { codec: 'vp8', container: 'webm', codecString: () => 'vp8' },
  { codec: 'avc', container: 'mp4', codecString: () => 'avc1.640033' },
];

/** Bits per second for a clip: ≈ 0.2 bit per pixel and frame, within 0.5…40 Mbit/s. */
export function videoBitrate(spec: BrowserVideoSpec): number {
  return Math.round(Math.min(40e6, Math.max(0.5e6, spec.width * spec.height * spec.fps * 0.2)));
}

export class VideoEncodingError extends AppError {
  constructor(message: string) {
    super('not-ready', message);
  }
}

function encoderConfig(c: Candidate, spec: BrowserVideoSpec): VideoEncoderConfig {
  return {
    codec: c.codecString(spec.width * spec.height),
    width: spec.width,
    height: spec.height,
    bitrate: videoBitrate(spec),
    framerate: spec.fps,
    latencyMode: 'realtime',
    ...(c.codec === 'avc' ? { avc: { format: 'avc' as const } } : {}),
  };
}

/** The first candidate this browser can encode at this size, with its config; null when none. */
export async function probeVideoEncoder(spec: BrowserVideoSpec): Promise<{ candidate: Candidate; config: VideoEncoderConfig } | null> {
  if (typeof VideoEncoder === 'undefined') return null;
  for (const candidate of VIDEO_CANDIDATES) {
    const config = encoderConfig(candidate, spec);
    try {
      const { supported } = await VideoEncoder.isConfigSupported(config);
      if (supported) return { candidate, config };
    } catch {
      // a config this browser cannot even parse: try the next
    }
  }
  return null;
}

export class WebCodecsVideoWriter {
  private readonly encoder: VideoEncoder;
  private readonly output: Output;
  private readonly target = new BufferTarget();
  private readonly source: EncodedVideoPacketSource;
  /** Muxing runs in chunk order; each add to the source awaits the previous one. */
  private muxing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  private started: Promise<void>;

  private constructor(
    private readonly spec: BrowserVideoSpec,
    private readonly candidate: Candidate,
    private readonly config: VideoEncoderConfig,
  ) {
    this.output = new Output({
      format: candidate.container === 'webm' ? new WebMOutputFormat() : new Mp4OutputFormat({ fastStart: 'in-memory' }),
      target: this.target,
    });
    this.source = new EncodedVideoPacketSource(candidate.codec);
    this.output.addVideoTrack(this.source, { frameRate: spec.fps });
    this.started = this.output.start();
    this.encoder = new VideoEncoder({
      output: (chunk, meta) => {
        const packet = EncodedPacket.fromEncodedChunk(chunk);
        this.muxing = this.muxing.then(() => this.source.add(packet, meta)).catch((e: unknown) => this.fail(e));
      },
      error: (e) => this.fail(e),
    });
    this.encoder.configure(config);
  }

  /** Opens a writer with the first supported codec; refuses ('not-ready') when the browser has none. */
  static async open(spec: BrowserVideoSpec): Promise<WebCodecsVideoWriter> {
    if (typeof VideoEncoder === 'undefined') throw new VideoEncodingError('this browser has no WebCodecs VideoEncoder, so it cannot encode videos (Chromium 94+, Firefox 130+, Safari 16.4+ have one)');
    const found = await probeVideoEncoder(spec);
    if (!found) throw new VideoEncodingError(`this browser cannot encode a ${spec.width}×${spec.height} video with VP9, VP8 or H.264`);
    return new WebCodecsVideoWriter(spec, found.candidate, found.config);
  }

  private fail(e: unknown): void {
    this.failure ??= e instanceof Error ? e : new InternalError(String(e));
  }

  private check(): void {
    if (this.failure) throw new InternalError(`video encoding failed: ${this.failure.message}`);
    if (this.closed) throw new InternalError('the video writer was closed');
  }

  async add(frame: RgbaImage, index: number): Promise<void> {
    this.check();
    await this.started;
    const { fps } = this.spec;
    const timestamp = Math.round((index * 1e6) / fps);
    const next = Math.round(((index + 1) * 1e6) / fps);
    const data = new Uint8Array(frame.data.buffer, frame.data.byteOffset, frame.data.byteLength);
    const vf = new VideoFrame(data, { format: 'RGBX', codedWidth: frame.width, codedHeight: frame.height, timestamp, duration: next - timestamp });
    try {
      // A key frame every 2 s, so players can seek.
      this.encoder.encode(vf, { keyFrame: index % Math.max(1, Math.round(2 * fps)) === 0 });
    } finally {
      vf.close();
    }
    // Backpressure: frames waiting in the encoder hold their pixels.
    while (this.encoder.encodeQueueSize > MAX_QUEUED && !this.failure) {
      // (re-checked every 100 ms too: a failed encoder fires no more 'dequeue')
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.encoder.addEventListener('dequeue', () => (clearTimeout(t), r()), { once: true });
      });
    }
    this.check();
  }

  async finish(): Promise<{ bytes: Uint8Array; mimeType: string; extension: string; codec: string }> {
    this.check();
    await this.encoder.flush();
    await this.muxing;
    this.check();
    await this.output.finalize();
    this.encoder.close();
    this.closed = true;
    const buffer = this.target.buffer;
    if (!buffer) throw new InternalError('the video muxer produced no file');
    const webm = this.candidate.container === 'webm';
    return { bytes: new Uint8Array(buffer), mimeType: webm ? 'video/webm' : 'video/mp4', extension: this.candidate.container, codec: this.config.codec };
  }

  abort(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.encoder.state !== 'closed') this.encoder.close();
    void this.output.cancel().catch(() => undefined);
  }
}

/** `LocalEngineOptions.openVideoWriter` for the engine worker. */
export function openWebCodecsWriter(spec: BrowserVideoSpec): Promise<WebCodecsVideoWriter> {
  return WebCodecsVideoWriter.open(spec);
}

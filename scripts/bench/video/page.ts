/**
 * The video bench page (scripts/bench/video.ts drives it in headless Chromium): `encodeClip` runs the
 * studio's orbit-video writer (src/platform/browser-video.ts: WebCodecs + mediabunny) on frames the
 * bench rendered with the demo generator in Node, optionally upscaled (nearest) to a full EG3D size,
 * and times each round from the writer's opening to the finished file.
 */
import { WebCodecsVideoWriter } from '../../../src/platform/browser-video.ts';
import { upscale } from './upscale.ts';

export interface VideoBenchRequest {
  frames: { width: number; height: number; data: number[] }[];
  scale: number;
  fps: number;
  rounds: number;
}

export interface VideoBenchRound {
  ms: number;
  bytes: number;
  codec: string;
  mimeType: string;
  width: number;
  height: number;
}

async function encodeClip(req: VideoBenchRequest): Promise<VideoBenchRound[]> {
  const frames = req.frames.map((f) => upscale(f, req.scale));
  const { width, height } = frames[0];
  const out: VideoBenchRound[] = [];
  for (let r = 0; r < req.rounds; r++) {
    const t0 = performance.now();
    const writer = await WebCodecsVideoWriter.open({ width, height, frames: frames.length, fps: req.fps });
    for (let i = 0; i < frames.length; i++) await writer.add(frames[i], i);
    const file = await writer.finish();
    out.push({ ms: performance.now() - t0, bytes: file.bytes.byteLength, codec: file.codec, mimeType: file.mimeType, width, height });
  }
  return out;
}

Object.assign(globalThis, { encodeClip, benchPageReady: true });

/**
 * Orbit videos for the engine: the camera path of EG3D's `gen_videos.py` (src/eg3d/orbit.ts) rendered
 * for chosen latents with the base generator, the adapted weights or both side by side, one frame at a
 * time, each handed to a `VideoWriter` the platform passes in (`LocalEngineOptions.openVideoWriter`:
 * WebCodecs + mediabunny in the worker, src/platform/browser-video.ts; animated PNG in Node,
 * src/platform/node-apng.ts), so memory holds one frame, not the clip.
 *
 * Frame layout: one row per seed (in the request's order); `source` and `adapted` show one column,
 * `side-by-side` two (source left, adapted right). The conditioning camera is the frontal one and the
 * renderer's draws are deterministic, as the viewer renders (and `gen_videos.py` with noise_mode='const').
 */
import * as tf from '@tensorflow/tfjs';
import { frontalCamera } from '../eg3d/camera.ts';
import { orbitCamera } from '../eg3d/orbit.ts';
import type { GeneratorView } from '../adapter/generator-view.ts';
import { latentFromSeed } from '../adapter/trainer.ts';
import type { LoadedGenerator } from './models.ts';
import { tick } from './rendering.ts';
import { EngineError, VIDEO_CONTENTS, VIDEO_LIMITS, type RgbaImage, type VideoRequest, type VideoResult } from './types.ts';

const MAX_VIDEO_SEEDS = VIDEO_LIMITS.seeds;
const MAX_VIDEO_FRAMES = VIDEO_LIMITS.frames;
const MAX_VIDEO_FPS = VIDEO_LIMITS.fps;
export const DEFAULT_VIDEO_PSI = 0.7;

/** What a platform's encoder is opened for. */
export interface VideoFrameSpec {
  width: number;
  height: number;
  frames: number;
  fps: number;
}

/** A finished file from a VideoWriter. */
export interface EncodedVideo {
  bytes: Uint8Array;
  mimeType: string;
  extension: string;
  codec: string;
}

/** The platform's encoder for one clip: frames arrive in order, then `finish()` (or `abort()`). */
export interface VideoWriter {
  /** Adds frame `index` (0-based; shown at index / fps s for 1 / fps s). The writer may keep the image. */
  add(frame: RgbaImage, index: number): Promise<void>;
  finish(): Promise<EncodedVideo>;
  /** Drops the clip (a cancel or a failure); the writer is unusable afterwards. */
  abort(): void;
}

export type OpenVideoWriter = (spec: VideoFrameSpec) => Promise<VideoWriter>;

/** Refuses a malformed request with a 'bad-settings' error naming the field. */
export function checkVideoRequest(r: VideoRequest): void {
  const bad = (m: string) => new EngineError('bad-settings', m);
  if (!VIDEO_CONTENTS.includes(r.content)) throw bad(`video content must be one of ${VIDEO_CONTENTS.join(', ')} (got ${JSON.stringify(r.content)})`);
  if (!Array.isArray(r.seeds) || r.seeds.length < 1 || r.seeds.length > MAX_VIDEO_SEEDS) throw bad(`a video needs 1…${MAX_VIDEO_SEEDS} seeds (got ${Array.isArray(r.seeds) ? r.seeds.length : 'none'})`);
  for (const s of r.seeds) if (!Number.isSafeInteger(s) || s < 0) throw bad(`video seeds must be non-negative integers (got ${s})`);
  if (!Number.isInteger(r.frames) || r.frames < 2 || r.frames > MAX_VIDEO_FRAMES) throw bad(`video frames must be an integer in 2…${MAX_VIDEO_FRAMES} (got ${r.frames})`);
  if (!(r.seconds > 0) || !Number.isFinite(r.seconds)) throw bad(`video length must be a positive number of seconds (got ${r.seconds})`);
  const fps = r.frames / r.seconds;
  if (fps < 1 || fps > MAX_VIDEO_FPS) throw bad(`${r.frames} frames in ${r.seconds} s is ${fps.toFixed(2)} fps; a video plays at 1…${MAX_VIDEO_FPS} fps`);
  if (r.psi !== undefined && !(r.psi >= 0 && r.psi <= 2)) throw bad(`video ψ must be within 0…2 (got ${r.psi})`);
}

/** Columns of a frame: the generators shown per latent, left to right. */
export function videoColumns(content: VideoRequest['content']): ('source' | 'adapted')[] {
  return content === 'side-by-side' ? ['source', 'adapted'] : [content];
}

/** The frame size for a generator's image side `size`: columns × size by seeds × size. */
export function videoFrameSize(request: Pick<VideoRequest, 'seeds' | 'content'>, size: number): { width: number; height: number } {
  return { width: videoColumns(request.content).length * size, height: request.seeds.length * size };
}

export interface VideoSpec {
  gen: LoadedGenerator;
  /** The adapted weights (tfjs layout); required unless the content is 'source'. */
  adapted: Map<string, tf.Tensor> | null;
  request: VideoRequest;
}

export interface VideoHost {
  openWriter: OpenVideoWriter;
  emit(e: { type: 'video-progress'; done: number; total: number }): void;
  shouldStop(): boolean;
}

/** [1,H,W,3] in [−1,1] → RGBA8 (EG3D's conversion x·127.5 + 128, clamped), as the viewer's images. */
async function toRgba(image: tf.Tensor4D): Promise<RgbaImage> {
  const [, h, w] = image.shape;
  const bytes = tf.tidy(() => tf.clipByValue(tf.add(tf.mul(image, 127.5), 128), 0, 255));
  const data = await bytes.data();
  bytes.dispose();
  const px = new Uint8ClampedArray(w * h * 4);
  for (let p = 0, s = 0; p < w * h; p++, s += 3) {
    px[p * 4] = data[s];
    px[p * 4 + 1] = data[s + 1];
    px[p * 4 + 2] = data[s + 2];
    px[p * 4 + 3] = 255;
  }
  return { width: w, height: h, data: px };
}

/** Renders the orbit and encodes it with the platform's writer; rejects 'cancelled' when stopped. */
export async function renderOrbitVideo(spec: VideoSpec, host: VideoHost): Promise<VideoResult> {
  const { gen, request } = spec;
  checkVideoRequest(request);
  const columns = videoColumns(request.content);
  if (columns.includes('adapted') && !spec.adapted) throw new EngineError('not-ready', 'there are no adapted weights yet: run an adaptation or import a file (or export the source only)');
  const stopped = () => {
    if (host.shouldStop()) throw new EngineError('cancelled', 'the video was cancelled');
  };
  const views: Record<'source' | 'adapted', GeneratorView | null> = {
    source: gen.view,
    adapted: spec.adapted ? gen.view.withWeights(spec.adapted) : null,
  };
  const config = gen.view.config;
  const size = config.imgResolution;
  const { width, height } = videoFrameSize(request, size);
  const fps = request.frames / request.seconds;
  const psi = request.psi ?? DEFAULT_VIDEO_PSI;
  const orbit = { radius: config.rendering.avgCameraRadius, pivot: config.rendering.avgCameraPivot };

  // A cancel sent together with the call (a message behind it, in the worker) is seen before any work.
  await tick();
  stopped();
  // w per (seed, column), once: the mapping does not depend on the view camera (conditioning = frontal).
  const ws: tf.Tensor3D[][] = tf.tidy(() => {
    const cCond = tf.tensor2d(frontalCamera(orbit), [1, 25]);
    return request.seeds.map((seed) => {
      const z = tf.tensor2d(latentFromSeed(seed, config.zDim), [1, config.zDim]);
      return columns.map((c) => views[c]!.mapping(z, cCond, psi, null));
    });
  });
  const writer = await host.openWriter({ width, height, frames: request.frames, fps });
  let renderMs = 0;
  let encodeMs = 0;
  try {
    host.emit({ type: 'video-progress', done: 0, total: request.frames });
    for (let i = 0; i < request.frames; i++) {
      stopped();
      const t0 = performance.now();
      const frame = tf.tidy(() => {
        const cam = tf.tensor2d(orbitCamera(i / request.frames, orbit), [1, 25]);
        const rows = ws.map((row) => tf.concat(row.map((w, c) => views[columns[c]]!.synthesize(w, cam, { kind: 'deterministic' }).image), 2));
        return (rows.length === 1 ? rows[0] : tf.concat(rows, 1)) as tf.Tensor4D;
      });
      const image = await toRgba(frame);
      frame.dispose();
      const t1 = performance.now();
      await writer.add(image, i);
      const t2 = performance.now();
      renderMs += t1 - t0;
      encodeMs += t2 - t1;
      host.emit({ type: 'video-progress', done: i + 1, total: request.frames });
      await tick();
    }
    stopped();
    const t3 = performance.now();
    const file = await writer.finish();
    encodeMs += performance.now() - t3;
    return {
      ...file,
      width,
      height,
      frames: request.frames,
      fps,
      seconds: request.seconds,
      renderSeconds: renderMs / 1000,
      encodeSeconds: encodeMs / 1000,
    };
  } catch (e) {
    writer.abort();
    throw e;
  } finally {
    tf.dispose(ws.flat());
  }
}

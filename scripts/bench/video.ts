/**
 * Orbit-video encoding speed: the demo generator's orbit frames (gen_videos.py camera path, rendered
 * once here by LocalEngine.renderVideo into a recording writer) are encoded by
 *  - the studio's writer in headless Chromium (src/platform/browser-video.ts: WebCodecs VP9 → WebM via
 *    mediabunny; the bench page scripts/bench/video/ is built with the studio's vite.config.ts), at the
 *    demo's 128² and upscaled 4× (nearest) to 512², the size of a full EG3D render;
 *  - the CLI's animated-PNG writer in Node (src/platform/node-apng.ts) at 128² and 512².
 * Each configuration runs BENCH_VIDEO_ROUNDS rounds (default 3) over BENCH_VIDEO_FRAMES frames
 * (default 16) and reports the median frames per second (open → finished file). Rendering is not
 * timed here (see the eg3d section for the forward pass).
 *
 * Runs once, in the wasm leg.
 */
import type { BenchContext } from '../bench.ts';
import { LocalEngine } from '../../src/engine/local-engine.ts';
import type { VideoWriter } from '../../src/engine/video.ts';
import type { RgbaImage } from '../../src/core/image.ts';
import { openEmbeddedFile } from '../../src/platform/node-embedded.ts';
import { ApngWriter } from '../../src/platform/node-apng.ts';
import type { VideoBenchRequest, VideoBenchRound } from './video/page.ts';
import { upscale } from './video/upscale.ts';
import { loadAverage as load, median, openBenchPage } from './common/browser-page.ts';

const FPS = 30;

/** The demo generator's orbit frames (source, seed 7), as the engine hands them to a writer. */
async function demoFrames(n: number): Promise<RgbaImage[]> {
  const frames: RgbaImage[] = [];
  const recorder: VideoWriter = {
    add: async (f) => void frames.push(f),
    finish: async () => ({ bytes: new Uint8Array(0), mimeType: '', extension: '', codec: '' }),
    abort: () => undefined,
  };
  const engine = new LocalEngine({ probe: async () => ({ backend: 'wasm', summary: 'bench' }), openEmbeddedFile, openVideoWriter: async () => recorder });
  try {
    await engine.loadGenerator({ kind: 'embedded' });
    await engine.renderVideo({ content: 'source', seeds: [7], frames: n, seconds: n / FPS });
  } finally {
    await engine.dispose();
  }
  return frames;
}

export async function run(ctx: BenchContext): Promise<void> {
  if (ctx.backend !== 'wasm') {
    console.log(`| video | (encoders) | ${ctx.backend} | | | skipped: measured once, in the wasm leg |`);
    return;
  }
  const rounds = Number(process.env.BENCH_VIDEO_ROUNDS ?? 3);
  const n = Number(process.env.BENCH_VIDEO_FRAMES ?? 16);
  const t0 = performance.now();
  const frames = await demoFrames(n);
  console.log(`video bench: ${n} demo orbit frames ${frames[0].width}×${frames[0].height} rendered in ${((performance.now() - t0) / 1000).toFixed(1)} s; load ${load()}`);

  // The CLI's APNG writer, in Node.
  for (const k of [1, 4]) {
    const fs = k === 1 ? frames : frames.map((f) => upscale(f, k));
    const times: number[] = [];
    let bytes = 0;
    for (let r = 0; r < rounds; r++) {
      const t = performance.now();
      const w = new ApngWriter({ width: fs[0].width, height: fs[0].height, frames: n, fps: FPS });
      for (let i = 0; i < n; i++) await w.add(fs[i], i);
      bytes = (await w.finish()).bytes.byteLength;
      times.push(performance.now() - t);
    }
    ctx.report(`APNG writer (Node, fast-png), ${fs[0].width}²`, (n * 1000) / median(times), 'frames/s', `${n} demo frames${k > 1 ? ` upscaled ${k}×` : ''}, median of ${rounds}; ${(bytes / n / 1024).toFixed(0)} KiB/frame; load avg ${load()}`);
  }

  // The studio's WebCodecs writer, in headless Chromium.
  const { page, browser, close } = await openBenchPage('video', { port: 4274, publicDir: false });
  try {
    const plain = frames.map((f) => ({ width: f.width, height: f.height, data: Array.from(f.data) }));
    for (const scale of [1, 4]) {
      const res = await page.evaluate(
        (req: VideoBenchRequest) => (globalThis as unknown as { encodeClip: (r: VideoBenchRequest) => Promise<VideoBenchRound[]> }).encodeClip(req),
        { frames: plain, scale, fps: FPS, rounds },
      );
      const r0 = res[0];
      console.log(`video bench: WebCodecs ${r0.codec} ${r0.width}×${r0.height}: ${res.map((x) => x.ms.toFixed(0)).join(', ')} ms for ${n} frames; load ${load()}`);
      ctx.report(
        `WebCodecs writer (Chromium ${browser.version()}, ${r0.codec} → ${r0.mimeType}), ${r0.width}²`,
        (n * 1000) / median(res.map((x) => x.ms)),
        'frames/s',
        `${n} demo frames${scale > 1 ? ` upscaled ${scale}×` : ''}, open → file, median of ${rounds}; ${(r0.bytes / n / 1024).toFixed(1)} KiB/frame; load avg ${load()}`,
      );
    }
  } finally {
    await close();
  }
}

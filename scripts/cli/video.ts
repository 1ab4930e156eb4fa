/**
 * npm run cli -- video [--generator <file.pkl|embedded>] [--adapted <delta.safetensors>] [--content source|adapted|side-by-side]
 *                      --seeds 1,2 [--frames 60] [--seconds 4] [--psi 0.7] [--render-resolution R] [--samples D,DI] --out orbit.png
 *
 * An orbit video — the camera path of EG3D's gen_videos.py (src/eg3d/orbit.ts) — of the base generator
 * (default: the embedded demo generator), of the adapted weights of a delta `.safetensors`, or both side by
 * side (the default with --adapted), one row per seed. Runs through the engine the studio uses
 * (LocalEngine.renderVideo).
 *
 * Format: animated PNG (APNG, src/platform/node-apng.ts). Node has no WebCodecs, so there is no VP9 or
 * H.264 encoder to call without shipping a native or wasm codec; APNG is lossless, plays (and loops) in
 * every current browser and in ffmpeg-based players, and is written with fast-png, already a dependency.
 * GIF would play in more old viewers but is limited to 256 colours (banding on skin). For WebM / MP4,
 * use the studio's Orbit video panel (WebCodecs in the browser).
 * Backend from TFJS_BACKEND (default wasm).
 */
import { writeFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { openApngWriter } from '../../src/platform/node-apng.ts';
import { argReader, fileBlob, loadCliGenerator, openCliEngine } from '../cli-engine.ts';
import type { RenderOverrides } from '../../src/adapter/generator-view.ts';
import { SettingsError } from '../../src/core/errors.ts';
import { parseVideoSeeds, VIDEO_CONTENTS, type VideoContent } from '../../src/engine/types.ts';

export interface VideoArgs {
  generator: string;
  adapted: string;
  content: VideoContent | null;
  seeds: number[];
  frames: number;
  seconds: number;
  psi: number;
  renderResolution: number | null;
  samples: [number, number] | null;
  out: string;
}

const USAGE = `usage: npm run cli -- video [--generator <file.pkl|embedded (default)>] [--adapted <delta.safetensors>]
       [--content source|adapted|side-by-side] --seeds 1,2 [--frames 60] [--seconds 4] [--psi 0.7]
       [--render-resolution R] [--samples D,DI] --out orbit.png
Writes an animated PNG (APNG): Node has no WebCodecs for WebM/MP4 (the studio's Orbit video panel writes those);
APNG is lossless and plays in every current browser and in ffmpeg-based players. Content defaults to
side-by-side with --adapted, else source. One row per seed; the camera path is gen_videos.py's.`;

export function parseVideoArgs(argv: string[]): VideoArgs {
  const a: VideoArgs = { generator: 'embedded', adapted: '', content: null, seeds: [], frames: 60, seconds: 4, psi: 0.7, renderResolution: null, samples: null, out: '' };
  const { value, num: number, int } = argReader(argv, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--generator': a.generator = value(++i, f); break;
      case '--adapted': a.adapted = value(++i, f); break;
      case '--content': {
        const v = value(++i, f);
        if (!(VIDEO_CONTENTS as readonly string[]).includes(v)) throw new SettingsError(`--content must be one of ${VIDEO_CONTENTS.join(', ')} (got ${v})`);
        a.content = v as VideoContent;
        break;
      }
      case '--seeds': {
        const seeds = parseVideoSeeds(value(++i, f));
        if (!seeds) throw new SettingsError(`--seeds needs 1 to 8 non-negative integers, e.g. 1,2 or 3-6 (got ${argv[i]})`);
        a.seeds = seeds;
        break;
      }
      case '--frames': a.frames = int(++i, f, 2); break;
      case '--seconds': a.seconds = number(++i, f); break;
      case '--psi': a.psi = number(++i, f); break;
      case '--render-resolution': a.renderResolution = int(++i, f, 4); break;
      case '--samples': {
        const xs = value(++i, f).split(',').map(Number);
        if (xs.length !== 2 || xs.some((x) => !Number.isInteger(x) || x < 0) || xs[0] < 2) throw new SettingsError(`--samples needs two integers D,DI (D ≥ 2) (got ${argv[i]})`);
        a.samples = [xs[0], xs[1]];
        break;
      }
      case '--out': a.out = value(++i, f); break;
      case '--help': case '-h': throw new SettingsError(USAGE);
      default: throw new SettingsError(`unknown argument ${f}\n${USAGE}`);
    }
  }
  if (!a.seeds.length) throw new SettingsError(`--seeds is required\n${USAGE}`);
  if (!a.out) throw new SettingsError(`--out is required\n${USAGE}`);
  const ext = extname(a.out).toLowerCase();
  if (ext === '.webm' || ext === '.mp4') throw new SettingsError(`${a.out}: Node has no WebCodecs, so the CLI writes animated PNG (--out orbit.png); the studio's Orbit video panel writes WebM / MP4`);
  if (ext !== '.png' && ext !== '.apng') throw new SettingsError(`--out must end in .png or .apng (an animated PNG) (got ${a.out})`);
  if (a.content !== null && a.content !== 'source' && !a.adapted) throw new SettingsError(`--content ${a.content} needs --adapted <delta.safetensors>`);
  a.content ??= a.adapted ? 'side-by-side' : 'source';
  return a;
}

export async function run(argv: string[]): Promise<void> {
  const a = parseVideoArgs(argv);
  const t0 = performance.now();
  const log = (s: string) => process.stderr.write(s);
  const overrides: RenderOverrides = {};
  if (a.renderResolution) overrides.resolution = a.renderResolution;
  if (a.samples) [overrides.depthResolution, overrides.depthResolutionImportance] = a.samples;
  const { engine, backend } = await openCliEngine({ renderOverrides: overrides, openVideoWriter: openApngWriter });
  engine.subscribe((e) => {
    if (e.type === 'video-progress') log(`\rframe ${e.done}/${e.total}   `);
  });
  try {
    const gen = await loadCliGenerator(engine, a.generator);
    if (a.adapted) await engine.importAdapted(fileBlob(a.adapted));
    const tLoad = performance.now();
    const r = await engine.renderVideo({ content: a.content!, seeds: a.seeds, frames: a.frames, seconds: a.seconds, psi: a.psi });
    writeFileSync(a.out, r.bytes);
    log('\n');
    console.log(
      `wrote ${a.out}: animated PNG, ${r.width}×${r.height}, ${r.frames} frames at ${r.fps.toFixed(2)} fps (${r.seconds} s), ${(r.bytes.byteLength / 1e6).toFixed(2)} MB; ` +
        `${a.content} of ${gen.name}${a.adapted ? ` + ${basename(a.adapted)}` : ''}, seeds ${a.seeds.join(',')}`,
    );
    console.log(
      `load ${((tLoad - t0) / 1000).toFixed(1)} s, rendering ${r.renderSeconds.toFixed(1)} s (${(r.frames / r.renderSeconds).toFixed(2)} frames/s), ` +
        `APNG encoding ${r.encodeSeconds.toFixed(2)} s (${(r.frames / r.encodeSeconds).toFixed(1)} frames/s), backend ${backend}`,
    );
  } finally {
    await engine.dispose();
  }
}

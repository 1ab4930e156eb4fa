/**
 * npm run cli -- render [<file.pkl>|embedded] --seed N --yaw R --pitch R [--psi 0.7] [--cutoff K] [--noise const|random|none]
 *                       [--draws deterministic|random] [--nrr R] --out img.png
 * Renders one image with an EG3D pickle (default: the embedded demo generator) and writes `img.png` (super-resolved), `img-raw.png` (neural
 * render) and `img-depth.png` (depth, near = bright, normalised to the image's own range).
 * The conditioning camera is the frontal camera (as the official scripts); yaw/pitch are radians
 * relative to it. z ~ N(0, I) from the project's seeded generator (not numpy's).
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { initNodeBackend, backendFromEnv } from '../../src/platform/node-backend.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';
import { Random } from '../../src/core/random.ts';
import { EG3DGenerator } from '../../src/eg3d/generator.ts';
import { loadEmbeddedGenerator } from '../../src/engine/embedded.ts';
import { openEmbeddedFile } from '../../src/platform/node-embedded.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from '../../src/eg3d/camera.ts';
import type { NoiseModeName } from '../../src/eg3d/config.ts';
import type { RendererDraws } from '../../src/eg3d/renderer.ts';

interface RenderArgs {
  file: string;
  seed: number;
  yaw: number;
  pitch: number;
  psi: number;
  cutoff: number | null;
  noise: NoiseModeName;
  draws: 'deterministic' | 'random';
  nrr: number | null;
  out: string;
}

function parseArgs(argv: string[]): RenderArgs {
  const a: RenderArgs = { file: '', seed: 0, yaw: 0, pitch: 0, psi: 0.7, cutoff: null, noise: 'const', draws: 'deterministic', nrr: null, out: '' };
  const number = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (v === undefined || !Number.isFinite(n)) throw new Error(`${flag} needs a number (got ${v})`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--seed': a.seed = number(f, argv[++i]); break;
      case '--yaw': a.yaw = number(f, argv[++i]); break;
      case '--pitch': a.pitch = number(f, argv[++i]); break;
      case '--psi': a.psi = number(f, argv[++i]); break;
      case '--cutoff': a.cutoff = number(f, argv[++i]); break;
      case '--nrr': a.nrr = number(f, argv[++i]); break;
      case '--out': a.out = argv[++i] ?? ''; break;
      case '--noise': {
        const v = argv[++i];
        if (v !== 'const' && v !== 'random' && v !== 'none') throw new Error('--noise must be const, random or none');
        a.noise = v;
        break;
      }
      case '--draws': {
        const v = argv[++i];
        if (v !== 'deterministic' && v !== 'random') throw new Error('--draws must be deterministic or random');
        a.draws = v;
        break;
      }
      default:
        if (f.startsWith('--') || a.file) throw new Error(`render: unexpected argument ${f}`);
        a.file = f;
    }
  }
  if (!a.out) throw new Error('usage: npm run cli -- render [<file.pkl>|embedded] --seed N --yaw R --pitch R [--psi 0.7] [--cutoff K] [--noise const|random|none] [--draws deterministic|random] [--nrr R] --out img.png');
  return a;
}

/** NHWC [1,H,W,C] in [−1,1] → 8-bit RGB (official conversion: clamp(x·127.5 + 128)). */
async function toRgb8(img: tf.Tensor4D): Promise<{ width: number; height: number; data: Uint8Array }> {
  const [, h, w] = img.shape;
  const t = tf.tidy(() => tf.clipByValue(tf.add(tf.mul(img, 127.5), 128), 0, 255).floor());
  const v = await t.data();
  t.dispose();
  return { width: w, height: h, data: Uint8Array.from(v) };
}

/** Depth [1,H,W,1] → 8-bit gray, near = bright, scaled to the image's own min…max. */
async function depthToGray(depth: tf.Tensor4D): Promise<{ width: number; height: number; data: Uint8Array }> {
  const [, h, w] = depth.shape;
  const v = await depth.data();
  let lo = Infinity;
  let hi = -Infinity;
  for (const d of v) {
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  }
  const span = hi > lo ? hi - lo : 1;
  const data = new Uint8Array(w * h);
  for (let i = 0; i < v.length; i++) data[i] = Math.round(255 * (1 - (v[i] - lo) / span));
  return { width: w, height: h, data };
}

function siblingPath(out: string, suffix: string): string {
  const dot = out.lastIndexOf('.');
  return dot > out.lastIndexOf('/') ? `${out.slice(0, dot)}${suffix}${out.slice(dot)}` : `${out}${suffix}.png`;
}

export async function run(argv: string[]): Promise<void> {
  const a = parseArgs(argv);
  const backend = await initNodeBackend(backendFromEnv());
  const t0 = performance.now();
  const gen = !a.file || a.file === 'embedded' ? (await loadEmbeddedGenerator(openEmbeddedFile)).generator : await EG3DGenerator.fromPickle(await NodeFileByteSource.open(a.file));
  const tLoad = performance.now();
  const rng = new Random(a.seed);
  const z = tf.tensor2d(rng.normalArray(gen.config.zDim), [1, gen.config.zDim]);
  const cCond = camerasTensor([frontalCamera({ radius: gen.config.rendering.avgCameraRadius, pivot: gen.config.rendering.avgCameraPivot })]);
  const cView = camerasTensor([cameraFromYawPitch(a.yaw, a.pitch, { radius: gen.config.rendering.avgCameraRadius, pivot: gen.config.rendering.avgCameraPivot })]);
  const draws: RendererDraws = a.draws === 'random' ? { kind: 'random', rng: new Random(a.seed + 1) } : { kind: 'deterministic' };
  const ws = gen.mapping(z, cCond, { psi: a.psi, cutoff: a.cutoff });
  const out = gen.synthesis(ws, cView, { noiseMode: a.noise, rng: new Random(a.seed + 2), draws, neuralRenderingResolution: a.nrr ?? undefined });
  const image = await toRgb8(out.image);
  const tRender = performance.now();
  const raw = await toRgb8(out.imageRaw);
  const depth = await depthToGray(out.imageDepth);
  writeFileSync(a.out, encode({ ...image, channels: 3, depth: 8 }));
  writeFileSync(siblingPath(a.out, '-raw'), encode({ ...raw, channels: 3, depth: 8 }));
  writeFileSync(siblingPath(a.out, '-depth'), encode({ ...depth, channels: 1, depth: 8 }));
  tf.dispose([z, cCond, cView, ws, out.image, out.imageRaw, out.imageDepth]);
  gen.dispose();
  console.log(
    `wrote ${a.out} (${image.width}²), ${siblingPath(a.out, '-raw')} (${raw.width}²), ${siblingPath(a.out, '-depth')}; ` +
      `backend ${backend}, load ${((tLoad - t0) / 1000).toFixed(2)} s, render ${((tRender - tLoad) / 1000).toFixed(2)} s`,
  );
}

/**
 * npm run eval:demo -- [options]
 *
 * Evaluates the embedded demo generator against the procedural ground truth on held-out latents ×
 * 5 views (src/demo/eval.ts says exactly how) and prints, last, the PSNR of the final images and the
 * mean absolute depth error on foreground pixels.
 *
 * Options: --weights FILE [public/models/demo-eg3d.safetensors]  --count N [64]
 *          --backend wasm|webgpu|cpu [wasm, or TFJS_BACKEND]
 *          --grid FILE.png  also write the renders of the first 8 latents: each generator row
 *                           (5 views) followed by its ground-truth row
 *          --grid-latents N [8]  how many latents (row pairs) --grid shows
 *          --gt-grid FILE.png  only write a ground-truth grid (--count heads × 5 yaws), no weights needed
 */
import { readFile, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { encode } from 'fast-png';
import { initNodeBackend, backendFromEnv, type NodeBackendName } from '../src/platform/node-backend.ts';
import { MemoryByteSource } from '../src/io/byte-source.ts';
import { cameraFromYawPitch } from '../src/eg3d/camera.ts';
import { generatorFromSafetensors } from '../src/engine/embedded.ts';
import { headParamsFromLatent, ProceduralHead } from '../src/demo/heads.ts';
import { renderGroundTruth, tileImages, toRgb8 } from '../src/demo/gt-render.ts';
import { evaluateGenerator, EVAL_VIEWS, heldOutLatents } from '../src/demo/eval.ts';

interface Args {
  weights: string;
  count: number;
  backend: NodeBackendName;
  grid: string | null;
  gridLatents: number;
  gtGrid: string | null;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { weights: 'public/models/demo-eg3d.safetensors', count: 64, backend: backendFromEnv(), grid: null, gridLatents: 8, gtGrid: null };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case '--weights': a.weights = argv[++i]; break;
      case '--count': a.count = Number(argv[++i]); break;
      case '--backend': a.backend = argv[++i] as NodeBackendName; break;
      case '--grid': a.grid = argv[++i]; break;
      case '--grid-latents': a.gridLatents = Number(argv[++i]); break;
      case '--gt-grid': a.gtGrid = argv[++i]; break;
      case '--': break;
      default: throw new Error(`unknown option ${argv[i]} (see the header of scripts/eval-demo.ts)`);
    }
  }
  if (!Number.isInteger(a.count) || a.count < 1) throw new Error('--count must be a positive integer');
  return a;
}

async function writePng(path: string, g: { data: Uint8Array; width: number; height: number }): Promise<void> {
  await writeFile(path, encode({ width: g.width, height: g.height, data: g.data, channels: 3, depth: 8 }));
  console.log(`wrote ${path} (${g.width}×${g.height})`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.gtGrid) {
    const tiles: Uint8Array[] = [];
    for (const z of heldOutLatents(args.count)) {
      const head = new ProceduralHead(headParamsFromLatent(z));
      for (const yaw of [-0.5, -0.25, 0, 0.25, 0.5]) tiles.push(toRgb8(renderGroundTruth(head, cameraFromYawPitch(yaw, 0), { resolution: 128 }).rgb));
    }
    await writePng(args.gtGrid, tileImages(tiles, 128, 5));
    return;
  }
  await initNodeBackend(args.backend);
  const bytes = new Uint8Array(await readFile(args.weights));
  const { generator, metadata } = await generatorFromSafetensors(new MemoryByteSource(bytes, args.weights));
  const S = generator.config.imgResolution;
  const R = generator.config.neuralRenderingResolution;
  console.log(`${metadata.name ?? args.weights}: ${args.count} held-out latents × ${EVAL_VIEWS.length} views, image ${S}², raw ${R}², backend ${tf.getBackend()}`);
  const rows: Uint8Array[] = [];
  const t0 = performance.now();
  const r = await evaluateGenerator(generator, {
    count: args.count,
    onLatent: (done, p) => {
      if (done % 8 === 0 || done === args.count) {
        console.log(`  ${done}/${args.count}: PSNR image ${p.psnrImage.toFixed(2)} dB, raw ${p.psnrRaw.toFixed(2)} dB, depth ${p.depthError.toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
      }
    },
    onImages: args.grid ? (k, gen, gt) => { if (k < args.gridLatents) rows.push(...gen, ...gt); } : undefined,
  });
  if (args.grid) await writePng(args.grid, tileImages(rows, S, EVAL_VIEWS.length));
  generator.dispose();
  console.log(`image_raw PSNR (${R}²): ${r.psnrRaw.toFixed(2)} dB`);
  console.log(`PSNR (${S}² images vs procedural ground truth, ${r.renders} renders): ${r.psnrImage.toFixed(2)} dB`);
  console.log(`mean |depth error| on foreground pixels (${r.foregroundPixels} pixels): ${r.depthError.toFixed(4)} world units`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});

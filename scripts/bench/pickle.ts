/**
 * Checkpoint reading speed. For the EG3D fixtures and a synthesized full-size ffhq512-128 pickle
 * (G + G_ema, 252 MB, written once into the OS temp folder by ./pickle/synthesize.ts) it reports, best of 3:
 * parse only; parse + every G_ema tensor as float32 in PyTorch layout; parse + every tensor converted to the
 * port's layouts and made a tfjs tensor on the bench backend (what loading a generator does); and, when a
 * python3 with torch is installed (Debian: python3-torch), Python's `pickle.load` of the same file (EG3D's
 * classes stubbed, ./pickle/python_load.py) and the ratio. Plus the TorchScript reader on the CLIP fixture.
 */
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BenchContext } from '../bench.ts';
import { readEG3DPickle } from '../../src/eg3d/checkpoint.ts';
import { FFHQ512_128_CONFIG, FFHQ512_128_INIT_KWARGS, parseEG3DConfig } from '../../src/eg3d/config.ts';
import { disposeWeights, loadWeights } from '../../src/eg3d/weights.ts';
import { TorchScriptArchive } from '../../src/io/torchscript.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';
import { writeSyntheticEG3DPickle } from './pickle/synthesize.ts';

const here = dirname(fileURLToPath(import.meta.url));

async function best(times: number, fn: () => Promise<void>): Promise<number> {
  let bestMs = Infinity;
  for (let k = 0; k < times; k++) {
    const t0 = performance.now();
    await fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

/** The full-size pickle, synthesized once per machine (same bytes every time). */
function fullSizePickle(): string {
  const path = join(tmpdir(), 'adapter3d-bench-ffhq512-128-synthetic.pkl');
  const size = (() => {
    try {
      return statSync(path).size;
    } catch {
      return 0;
    }
  })();
  if (size !== FULL_SIZE_BYTES) {
    writeSyntheticEG3DPickle(path, FFHQ512_128_CONFIG, JSON.parse(JSON.stringify(FFHQ512_128_INIT_KWARGS)) as Record<string, unknown>);
  }
  return path;
}
const FULL_SIZE_BYTES = 252_115_492;

/** A python3 that imports torch, or null. */
function pythonWithTorch(): string | null {
  for (const py of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return null;
}

export async function run(ctx: BenchContext): Promise<void> {
  const py = pythonWithTorch();
  if (!py) console.log('(no python3 with torch installed — Debian: apt-get install python3-torch — so no Python comparison)');
  const files: [string, string][] = [
    ['eg3d-tiny.pkl', join(ctx.fixturesDir, 'eg3d-tiny.pkl')],
    ['eg3d-ffhqlike.pkl', join(ctx.fixturesDir, 'eg3d-ffhqlike.pkl')],
    ['ffhq512-128 synthetic (G + G_ema)', fullSizePickle()],
  ];
  for (const [name, path] of files) {
    const open = () => NodeFileByteSource.open(path);
    const mb = (await open()).size / 1e6;
    let values = 0;
    const parseMs = await best(3, async () => {
      await readEG3DPickle(await open());
    });
    const readMs = await best(3, async () => {
      const ckpt = await readEG3DPickle(await open());
      values = 0;
      await ckpt.readEach(ckpt.keys, (_k, _s, v) => {
        values += v.length;
      });
    });
    const loadMs = await best(3, async () => {
      const ckpt = await readEG3DPickle(await open());
      const config = parseEG3DConfig({ initKwargs: ckpt.initKwargs, renderingKwargs: ckpt.renderingKwargs, neuralRenderingResolution: ckpt.neuralRenderingResolution });
      const weights = await loadWeights(config, ckpt);
      await Promise.all([...weights.values()].slice(-1).map((t) => t.data())); // uploads done
      disposeWeights(weights);
    });
    ctx.report(`${name} parse`, mb / (parseMs / 1000), 'MB/s', `${mb.toFixed(1)} MB in ${parseMs.toFixed(0)} ms`);
    ctx.report(`${name} parse + read all G_ema (PyTorch layout)`, mb / (readMs / 1000), 'MB/s', `${values} values in ${readMs.toFixed(0)} ms`);
    let note = `${loadMs.toFixed(0)} ms (loadWeights, tf ${tf.getBackend()})`;
    if (py) {
      const r = spawnSync(py, [join(here, 'pickle', 'python_load.py'), path, '3'], { encoding: 'utf8' });
      const pyMs = Number(r.stdout.trim());
      if (r.status === 0 && Number.isFinite(pyMs)) note += `; Python pickle.load (torch ${torchVersion(py)}) ${pyMs.toFixed(0)} ms → ${(pyMs / loadMs).toFixed(2)}× Python's speed`;
      else note += `; Python failed: ${(r.stderr || r.stdout).trim().split('\n').pop()}`;
    }
    ctx.report(`${name} parse + convert all G_ema to port layouts`, mb / (loadMs / 1000), 'MB/s', note);
  }
  const clip = join(ctx.fixturesDir, 'clip-tiny.pt');
  const size = (await NodeFileByteSource.open(clip)).size;
  const ms = await best(3, async () => {
    const pt = await TorchScriptArchive.open(await NodeFileByteSource.open(clip));
    for (const t of pt.tensors.values()) await t.read();
  });
  ctx.report('clip-tiny.pt open + read all (fp16)', size / 1e6 / (ms / 1000), 'MB/s', `${(size / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms`);
}

function torchVersion(py: string): string {
  return spawnSync(py, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * Checkpoint reading speed (backend-independent: pure TS + file reads).
 * Reports parse-only and parse + materialise-all-G_ema-tensors throughput (file MB / s, best of 3),
 * plus the TorchScript reader on the CLIP fixture.
 */
import { join } from 'node:path';
import type { BenchContext } from '../bench.ts';
import { readEG3DPickle } from '../../src/eg3d/checkpoint.ts';
import { TorchScriptArchive } from '../../src/io/torchscript.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';

async function best(times: number, fn: () => Promise<void>): Promise<number> {
  let bestMs = Infinity;
  for (let k = 0; k < times; k++) {
    const t0 = performance.now();
    await fn();
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return bestMs;
}

export async function run(ctx: BenchContext): Promise<void> {
  for (const name of ['eg3d-tiny.pkl', 'eg3d-ffhqlike.pkl']) {
    const path = join(ctx.fixturesDir, name);
    const size = (await NodeFileByteSource.open(path)).size;
    const mb = size / 1e6;
    let tensors = 0;
    const parseMs = await best(3, async () => {
      await readEG3DPickle(await NodeFileByteSource.open(path));
    });
    const allMs = await best(3, async () => {
      const ckpt = await readEG3DPickle(await NodeFileByteSource.open(path));
      tensors = 0;
      for (const k of ckpt.keys) tensors += (await ckpt.read(k)).data.length;
    });
    ctx.report(`${name} parse`, mb / (parseMs / 1000), 'MB/s', `${mb.toFixed(1)} MB in ${parseMs.toFixed(0)} ms`);
    ctx.report(`${name} parse + read all G_ema`, mb / (allMs / 1000), 'MB/s', `${tensors} values in ${allMs.toFixed(0)} ms`);
  }
  const clip = join(ctx.fixturesDir, 'clip-tiny.pt');
  const size = (await NodeFileByteSource.open(clip)).size;
  const ms = await best(3, async () => {
    const pt = await TorchScriptArchive.open(await NodeFileByteSource.open(clip));
    for (const t of pt.tensors.values()) await t.read();
  });
  ctx.report('clip-tiny.pt open + read all (fp16)', size / 1e6 / (ms / 1000), 'MB/s', `${(size / 1e6).toFixed(1)} MB in ${ms.toFixed(0)} ms`);
}

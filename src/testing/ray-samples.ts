/**
 * Random ray samples for the fused per-ray kernel tests (src/eg3d/ray-kernels*.test.ts): decoder
 * outputs and depths of coarse and fine samples that exercise the merge's corner cases.
 */
import { Random } from '../core/random.ts';
import type { RaySamples } from '../eg3d/ray-kernels.ts';

/** Random ray samples: ascending coarse depths (one ray out of order, as 'auto' misses are), fine depths in the same range with a few exact ties. */
export function randomRaySamples(seed: number, rays: number, d: number, di: number, cols: number): RaySamples {
  const rng = new Random(seed);
  const coarseDepths = new Float32Array(rays * d);
  for (let r = 0; r < rays; r++) for (let j = 0; j < d; j++) coarseDepths[r * d + j] = 2.25 + (1.05 * (j + rng.next())) / d;
  if (rays > 1) coarseDepths.set(Float32Array.from({ length: d }, (_, j) => 3.3 - j * 0.05 + 0.01 * rng.next()), d); // ray 1 descending
  const fineDepths = Float32Array.from({ length: rays * di }, () => 2.25 + 1.05 * rng.next());
  for (let r = 0; r < rays; r++) if (di > 2) fineDepths[r * di + 2] = coarseDepths[r * d + 3]; // tie: coarse first
  if (di > 4) fineDepths[4] = fineDepths[1]; // tie between two fine samples: the first one first
  const sigma = (v: number) => 2.5 * v + 0.5;
  const coarse = rng.normalArray(rays * d * cols);
  const fine = rng.normalArray(rays * di * cols);
  for (let i = 0; i < rays * d; i++) coarse[i * cols] = sigma(coarse[i * cols]);
  for (let i = 0; i < rays * di; i++) fine[i * cols] = sigma(fine[i * cols]);
  return { rays, d, di, cols, coarse, coarseDepths, fine: di > 0 ? fine : undefined, fineDepths: di > 0 ? fineDepths : undefined };
}

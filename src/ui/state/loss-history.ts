/**
 * Per-loss training curves. Each series keeps at most `capacity` points: when full, pairs of
 * neighbouring points are averaged (halving the resolution of the old part) so a long run stays cheap
 * to store and draw while the whole run remains visible.
 */
import type { AdaptPhase, LossValues } from '../../engine/types.ts';

export type LossKey = keyof LossValues;
export const LOSS_KEYS: LossKey[] = ['total', 'dir', 'dis', 'imageStructure', 'featureStructure'];
export const LOSS_LABELS: Record<LossKey, string> = {
  total: 'Total',
  dir: 'L_dir (direction)',
  dis: 'L_dis (REMD)',
  imageStructure: 'L_I-str (image structure)',
  featureStructure: 'L_F-str (feature structure)',
};

export interface LossPoint {
  /** Global iteration (1-based). */
  it: number;
  value: number;
  phase: AdaptPhase;
}

export type LossHistory = Record<LossKey, LossPoint[]>;

export function emptyHistory(): LossHistory {
  return { total: [], dir: [], dis: [], imageStructure: [], featureStructure: [] };
}

function compact(points: LossPoint[]): LossPoint[] {
  const out: LossPoint[] = [];
  for (let i = 0; i + 1 < points.length; i += 2) {
    const a = points[i], b = points[i + 1];
    // Never merge across the Tri-D → G2 boundary: the phase change must stay visible in the chart.
    if (a.phase !== b.phase) {
      out.push(a, b);
      continue;
    }
    out.push({ it: b.it, value: (a.value + b.value) / 2, phase: b.phase });
  }
  if (points.length % 2 === 1) out.push(points[points.length - 1]);
  return out;
}

/** Returns a new history with the losses of one iteration appended (non-finite values are skipped). */
export function appendLosses(
  h: LossHistory,
  it: number,
  phase: AdaptPhase,
  losses: LossValues,
  capacity = 400,
): LossHistory {
  const next = { ...h };
  for (const k of LOSS_KEYS) {
    const v = losses[k];
    if (!Number.isFinite(v)) continue;
    const series = h[k];
    // A resumed run replays iterations it already reported: drop anything at or after `it`.
    let kept = series;
    if (series.length > 0 && series[series.length - 1].it >= it) kept = series.filter((p) => p.it < it);
    let s = [...kept, { it, value: v, phase }];
    if (s.length > capacity) s = compact(s);
    next[k] = s;
  }
  return next;
}

export interface ChartGeometry {
  /** Polyline in pixel coordinates. */
  points: Array<[number, number]>;
  min: number;
  max: number;
  /** x pixel of the first G2 point, when the series crosses into step 2. */
  phaseBoundaryX: number | null;
  last: number | null;
}

/**
 * Maps a series onto a width × height box (y grows downwards) with `pad` pixels inside the box; the x axis
 * spans 1..totalIterations so the curve grows left to right as training advances.
 */
export function chartGeometry(
  series: LossPoint[],
  totalIterations: number,
  width: number,
  height: number,
  pad = 4,
): ChartGeometry {
  if (series.length === 0) return { points: [], min: 0, max: 0, phaseBoundaryX: null, last: null };
  let min = Infinity, max = -Infinity;
  for (const p of series) {
    min = Math.min(min, p.value);
    max = Math.max(max, p.value);
  }
  // A flat series is drawn in the middle instead of dividing by zero.
  const span = max - min || Math.abs(max) || 1;
  const lo = max - min === 0 ? min - span / 2 : min;
  const hi = max - min === 0 ? max + span / 2 : max;
  const total = Math.max(totalIterations, series[series.length - 1].it, 2);
  const x = (it: number) => pad + ((it - 1) / (total - 1)) * (width - 2 * pad);
  const y = (v: number) => pad + (1 - (v - lo) / (hi - lo)) * (height - 2 * pad);
  const points = series.map((p) => [x(p.it), y(p.value)] as [number, number]);
  const firstG2 = series.find((p) => p.phase === 'g2');
  const boundary = firstG2 && series[0].phase !== 'g2' ? x(firstG2.it) : null;
  return { points, min, max, phaseBoundaryX: boundary, last: series[series.length - 1].value };
}

/** Drawing helpers shared by the procedural example references. */
import { Random } from '../../core/random.ts';

export type Ctx2D = CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D;

export { Random };

/** Points of an ellipse-like closed curve with per-point radial wobble. */
export function wobblyEllipse(
  rng: Random,
  cx: number,
  cy: number,
  rx: number,
  ry: number,
  wobble: number,
  n = 48,
  from = 0,
  to = Math.PI * 2,
): Array<[number, number]> {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i <= n; i++) {
    const a = from + ((to - from) * i) / n;
    const r = 1 + (rng.next() - 0.5) * wobble;
    pts.push([cx + Math.cos(a) * rx * r, cy + Math.sin(a) * ry * r]);
  }
  return pts;
}

/** A smooth curve through points (quadratic midpoints). */
export function smoothPath(ctx: Ctx2D, pts: Array<[number, number]>, close = false): void {
  if (pts.length < 2) return;
  ctx.beginPath();
  ctx.moveTo(pts[0][0], pts[0][1]);
  for (let i = 1; i < pts.length - 1; i++) {
    const mx = (pts[i][0] + pts[i + 1][0]) / 2;
    const my = (pts[i][1] + pts[i + 1][1]) / 2;
    ctx.quadraticCurveTo(pts[i][0], pts[i][1], mx, my);
  }
  const last = pts[pts.length - 1];
  ctx.lineTo(last[0], last[1]);
  if (close) ctx.closePath();
}

/** Several slightly offset strokes along the same curve: the look of a pencil line drawn in passes. */
export function pencilStroke(
  ctx: Ctx2D,
  rng: Random,
  pts: Array<[number, number]>,
  passes: number,
  jitter: number,
  alpha: number,
  width: number,
): void {
  for (let p = 0; p < passes; p++) {
    const moved = pts.map(([x, y]) => [x + (rng.next() - 0.5) * jitter, y + (rng.next() - 0.5) * jitter] as [number, number]);
    ctx.globalAlpha = alpha * (0.6 + 0.4 * rng.next());
    ctx.lineWidth = width * (0.7 + 0.6 * rng.next());
    smoothPath(ctx, moved);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

/** Parallel hatching lines at `angle` covering the canvas, clipped by the caller's current clip. */
export function hatch(ctx: Ctx2D, rng: Random, size: number, angle: number, spacing: number, alpha: number): void {
  const dx = Math.cos(angle), dy = Math.sin(angle);
  const nx = -dy, ny = dx;
  const reach = size * 1.5;
  for (let o = -reach; o < reach; o += spacing * (0.8 + 0.4 * rng.next())) {
    const cx = size / 2 + nx * o, cy = size / 2 + ny * o;
    ctx.globalAlpha = alpha * (0.5 + 0.5 * rng.next());
    ctx.beginPath();
    ctx.moveTo(cx - dx * reach, cy - dy * reach);
    ctx.lineTo(cx + dx * reach + (rng.next() - 0.5) * 3, cy + dy * reach + (rng.next() - 0.5) * 3);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

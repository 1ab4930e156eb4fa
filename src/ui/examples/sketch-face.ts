/**
 * A pencil-sketch portrait drawn procedurally: paper grain, a face outlined in repeated graphite passes,
 * cross-hatched shading on the shadow side, hair in long strokes. Made by this project's code, seeded.
 */
import { hatch, pencilStroke, Random, smoothPath, wobblyEllipse, type Ctx2D } from './draw-utils.ts';

export function drawSketchFace(ctx: Ctx2D, size: number, seed = 3): void {
  const rng = new Random(seed);
  const s = size / 512;
  // Paper with grain.
  ctx.fillStyle = '#f3efe6';
  ctx.fillRect(0, 0, size, size);
  for (let i = 0; i < 5000; i++) {
    ctx.fillStyle = `rgba(90,80,70,${0.04 + rng.next() * 0.05})`;
    ctx.fillRect(rng.next() * size, rng.next() * size, 1.2 * s, 1.2 * s);
  }
  ctx.strokeStyle = '#2b2b2e';
  ctx.lineCap = 'round';
  const cx = 256 * s, cy = 270 * s;

  // Hair mass behind the face: long curved strokes from the crown.
  for (let i = 0; i < 140; i++) {
    const a = Math.PI * (1.05 + 0.9 * rng.next());
    const r0 = 150 * s, r1 = (175 + 40 * rng.next()) * s;
    const pts: Array<[number, number]> = [];
    for (let t = 0; t <= 6; t++) {
      const f = t / 6;
      const aa = a + 0.25 * f * (a > Math.PI * 1.5 ? 1 : -1);
      const rr = r0 * (1 - f) + r1 * f;
      pts.push([cx + Math.cos(aa) * rr * 0.95, cy - 20 * s + Math.sin(aa) * rr * 1.05 + f * f * 120 * s]);
    }
    pencilStroke(ctx, rng, pts, 1, 2 * s, 0.35, 1.4 * s);
  }

  // Face outline (jaw narrower than the temples).
  const face = wobblyEllipse(rng, cx, cy, 118 * s, 158 * s, 0.03, 60).map(([x, y]) => {
    const below = Math.max(0, (y - cy) / (158 * s));
    return [cx + (x - cx) * (1 - 0.28 * below * below), y] as [number, number];
  });
  // Shadow side: hatch inside the face's right third.
  ctx.save();
  smoothPath(ctx, face, true);
  ctx.clip();
  ctx.beginPath();
  ctx.rect(cx + 40 * s, 0, size, size);
  ctx.clip();
  ctx.lineWidth = 0.9 * s;
  hatch(ctx, rng, size, -0.9, 6 * s, 0.35);
  hatch(ctx, rng, size, 0.5, 9 * s, 0.2);
  ctx.restore();
  pencilStroke(ctx, rng, face, 4, 3 * s, 0.55, 1.6 * s);

  // Neck.
  pencilStroke(ctx, rng, [[cx - 55 * s, cy + 135 * s], [cx - 52 * s, cy + 190 * s], [cx - 60 * s, 512 * s]], 3, 2 * s, 0.5, 1.5 * s);
  pencilStroke(ctx, rng, [[cx + 55 * s, cy + 135 * s], [cx + 50 * s, cy + 190 * s], [cx + 62 * s, 512 * s]], 3, 2 * s, 0.5, 1.5 * s);

  // Eyes, brows.
  for (const side of [-1, 1]) {
    const ex = cx + side * 45 * s, ey = cy - 20 * s;
    const upper = wobblyEllipse(rng, ex, ey, 27 * s, 13 * s, 0.04, 20, Math.PI, Math.PI * 2);
    const lower = wobblyEllipse(rng, ex, ey, 27 * s, 10 * s, 0.04, 20, 0, Math.PI);
    pencilStroke(ctx, rng, upper, 3, 1.5 * s, 0.8, 1.8 * s);
    pencilStroke(ctx, rng, lower, 2, 1.5 * s, 0.45, 1.1 * s);
    ctx.save();
    ctx.beginPath();
    ctx.arc(ex + side * 2 * s, ey, 9.5 * s, 0, Math.PI * 2);
    ctx.clip();
    ctx.lineWidth = 1 * s;
    hatch(ctx, rng, size, 0.8, 2.2 * s, 0.9);
    hatch(ctx, rng, size, -0.8, 2.6 * s, 0.6);
    ctx.restore();
    ctx.fillStyle = '#f3efe6';
    ctx.beginPath();
    ctx.arc(ex - 2 * s, ey - 3 * s, 2.6 * s, 0, Math.PI * 2);
    ctx.fill();
    const brow: Array<[number, number]> = [];
    for (let t = 0; t <= 8; t++) {
      const f = t / 8;
      brow.push([ex + side * (-30 + 62 * f) * s, ey - (34 + 10 * Math.sin(Math.PI * f) - 6 * f) * s]);
    }
    pencilStroke(ctx, rng, brow, 6, 3 * s, 0.5, 2.2 * s);
  }

  // Nose: a bridge line on the shadow side and the nostril curve.
  pencilStroke(ctx, rng, [[cx + 12 * s, cy - 15 * s], [cx + 16 * s, cy + 20 * s], [cx + 20 * s, cy + 42 * s]], 2, 1.5 * s, 0.45, 1.2 * s);
  pencilStroke(ctx, rng, wobblyEllipse(rng, cx, cy + 46 * s, 22 * s, 9 * s, 0.05, 16, 0.1 * Math.PI, 0.9 * Math.PI), 3, 1.5 * s, 0.6, 1.5 * s);

  // Lips.
  const mouthY = cy + 88 * s;
  const upperLip: Array<[number, number]> = [];
  for (let t = 0; t <= 12; t++) {
    const f = t / 12 - 0.5;
    upperLip.push([cx + f * 84 * s, mouthY - (8 * Math.cos(f * Math.PI) - 5 * Math.abs(Math.sin(f * 2 * Math.PI))) * s]);
  }
  pencilStroke(ctx, rng, upperLip, 3, 1.5 * s, 0.7, 1.6 * s);
  pencilStroke(ctx, rng, wobblyEllipse(rng, cx, mouthY, 40 * s, 16 * s, 0.04, 16, 0.1 * Math.PI, 0.9 * Math.PI), 2, 1.5 * s, 0.45, 1.2 * s);

  // Ears.
  for (const side of [-1, 1]) {
    const ear = wobblyEllipse(rng, cx + side * 118 * s, cy + 5 * s, 14 * s, 32 * s, 0.05, 16, side > 0 ? -Math.PI / 2 : Math.PI / 2, side > 0 ? Math.PI / 2 : Math.PI * 1.5);
    pencilStroke(ctx, rng, ear, 3, 2 * s, 0.5, 1.4 * s);
  }
}

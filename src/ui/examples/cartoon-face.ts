/**
 * A flat-colour cartoon portrait drawn procedurally: solid fills, thick dark outlines, big eyes with
 * highlights, blush — the look of a cel-shaded illustration. Made by this project's code.
 */
import type { Ctx2D } from './draw-utils.ts';

function ellipse(ctx: Ctx2D, x: number, y: number, rx: number, ry: number, rot = 0): void {
  ctx.beginPath();
  ctx.ellipse(x, y, rx, ry, rot, 0, Math.PI * 2);
}

function fillStroke(ctx: Ctx2D, fill: string, line: string, width: number): void {
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.strokeStyle = line;
  ctx.lineWidth = width;
  ctx.stroke();
}

export function drawCartoonFace(ctx: Ctx2D, size: number): void {
  const s = size / 512;
  const ink = '#1d1b26';
  const skin = '#f6c9a4';
  const hair = '#6b3b2a';
  ctx.lineJoin = 'round';
  ctx.lineCap = 'round';

  // Background: two flat bands.
  ctx.fillStyle = '#7fc7c2';
  ctx.fillRect(0, 0, size, size);
  ctx.fillStyle = '#68b2ad';
  ctx.fillRect(0, size * 0.72, size, size * 0.28);

  const cx = 256 * s, cy = 268 * s;

  // Hair back.
  ellipse(ctx, cx, cy - 30 * s, 168 * s, 178 * s);
  fillStroke(ctx, hair, ink, 6 * s);
  ctx.fillStyle = hair;
  ctx.fillRect(cx - 160 * s, cy - 30 * s, 320 * s, 200 * s);

  // Neck and shirt.
  ctx.beginPath();
  ctx.rect(cx - 45 * s, cy + 120 * s, 90 * s, 90 * s);
  fillStroke(ctx, '#e9b48f', ink, 6 * s);
  ctx.beginPath();
  ctx.moveTo(cx - 190 * s, 512 * s);
  ctx.quadraticCurveTo(cx - 170 * s, cy + 185 * s, cx - 45 * s, cy + 190 * s);
  ctx.lineTo(cx + 45 * s, cy + 190 * s);
  ctx.quadraticCurveTo(cx + 170 * s, cy + 185 * s, cx + 190 * s, 512 * s);
  ctx.closePath();
  fillStroke(ctx, '#f2a03d', ink, 6 * s);

  // Ears.
  for (const side of [-1, 1]) {
    ellipse(ctx, cx + side * 122 * s, cy + 10 * s, 22 * s, 32 * s);
    fillStroke(ctx, skin, ink, 6 * s);
  }

  // Face: rounded with a soft chin.
  ctx.beginPath();
  ctx.moveTo(cx - 125 * s, cy - 40 * s);
  ctx.bezierCurveTo(cx - 130 * s, cy + 90 * s, cx - 60 * s, cy + 160 * s, cx, cy + 162 * s);
  ctx.bezierCurveTo(cx + 60 * s, cy + 160 * s, cx + 130 * s, cy + 90 * s, cx + 125 * s, cy - 40 * s);
  ctx.bezierCurveTo(cx + 120 * s, cy - 150 * s, cx - 120 * s, cy - 150 * s, cx - 125 * s, cy - 40 * s);
  fillStroke(ctx, skin, ink, 6 * s);

  // Fringe.
  ctx.beginPath();
  ctx.moveTo(cx - 135 * s, cy - 20 * s);
  ctx.bezierCurveTo(cx - 140 * s, cy - 170 * s, cx + 140 * s, cy - 170 * s, cx + 135 * s, cy - 20 * s);
  ctx.quadraticCurveTo(cx + 90 * s, cy - 90 * s, cx + 30 * s, cy - 85 * s);
  ctx.quadraticCurveTo(cx - 10 * s, cy - 60 * s, cx - 20 * s, cy - 88 * s);
  ctx.quadraticCurveTo(cx - 90 * s, cy - 80 * s, cx - 135 * s, cy - 20 * s);
  ctx.closePath();
  fillStroke(ctx, hair, ink, 6 * s);

  // Eyes.
  for (const side of [-1, 1]) {
    const ex = cx + side * 50 * s, ey = cy + 5 * s;
    ellipse(ctx, ex, ey, 27 * s, 32 * s);
    fillStroke(ctx, '#ffffff', ink, 5 * s);
    ellipse(ctx, ex + side * 3 * s, ey + 5 * s, 17 * s, 22 * s);
    fillStroke(ctx, '#3f7bd1', ink, 3 * s);
    ellipse(ctx, ex + side * 3 * s, ey + 7 * s, 9 * s, 12 * s);
    ctx.fillStyle = ink;
    ctx.fill();
    ellipse(ctx, ex - 5 * s, ey - 3 * s, 5 * s, 6 * s);
    ctx.fillStyle = '#ffffff';
    ctx.fill();
    // Brows.
    ctx.beginPath();
    ctx.moveTo(ex - 24 * s, ey - 48 * s + side * 2 * s);
    ctx.quadraticCurveTo(ex, ey - 60 * s, ex + 24 * s, ey - 48 * s - side * 2 * s);
    ctx.strokeStyle = ink;
    ctx.lineWidth = 7 * s;
    ctx.stroke();
    // Blush.
    ellipse(ctx, ex + side * 18 * s, ey + 55 * s, 20 * s, 10 * s);
    ctx.fillStyle = 'rgba(240,110,120,0.55)';
    ctx.fill();
  }

  // Nose and smile.
  ctx.beginPath();
  ctx.moveTo(cx - 4 * s, cy + 45 * s);
  ctx.quadraticCurveTo(cx + 8 * s, cy + 58 * s, cx - 2 * s, cy + 62 * s);
  ctx.strokeStyle = ink;
  ctx.lineWidth = 4 * s;
  ctx.stroke();
  ctx.beginPath();
  ctx.moveTo(cx - 38 * s, cy + 92 * s);
  ctx.quadraticCurveTo(cx, cy + 128 * s, cx + 38 * s, cy + 92 * s);
  ctx.quadraticCurveTo(cx, cy + 104 * s, cx - 38 * s, cy + 92 * s);
  fillStroke(ctx, '#b8404f', ink, 5 * s);
}

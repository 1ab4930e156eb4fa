/**
 * The FFHQ alignment from 68 face landmarks (iBUG 68-point layout, as face-api's landmark network
 * gives them): the recipe NVIDIA used for FFHQ, whose crops EG3D's FFHQ models are trained on. From the
 * eye centres (points 36–41, 42–47) and the mouth corners (48, 54):
 *
 *   e = (eye_l + eye_r) / 2,  ee = eye_r − eye_l,  m = (mouth_l + mouth_r) / 2,  em = m − e
 *   x = ee − rot90(em);  x ← x / |x| · max(2·|ee|, 1.8·|em|);  y = rot90(x)
 *   centre c = e + 0.1·em,  the square's side 2·|x|, rotated by atan2(x_y, x_x)
 *
 * so the eyes are level, the face centred slightly below the eyes and scaled by the larger of the eye
 * distance and the eye-to-mouth distance. Pure arithmetic (no tensors).
 */
import { InternalError } from '../core/errors.ts';

export interface Point {
  x: number;
  y: number;
}

/** A square crop rotated about its centre: side `size`, `angle` radians (image x toward y, i.e. clockwise on screen). */
export interface AlignedSquare {
  cx: number;
  cy: number;
  size: number;
  angle: number;
}

export const FACE_LANDMARKS = 68;

const mean = (ps: Point[]): Point => ({ x: ps.reduce((s, p) => s + p.x, 0) / ps.length, y: ps.reduce((s, p) => s + p.y, 0) / ps.length });

/** The eye centres and mouth corners the alignment uses. */
export function alignmentKeypoints(points: readonly Point[]): { eyeLeft: Point; eyeRight: Point; mouthLeft: Point; mouthRight: Point } {
  if (points.length !== FACE_LANDMARKS) throw new InternalError(`the FFHQ alignment needs ${FACE_LANDMARKS} landmarks (got ${points.length})`);
  return { eyeLeft: mean(points.slice(36, 42)), eyeRight: mean(points.slice(42, 48)), mouthLeft: points[48], mouthRight: points[54] };
}

/** The FFHQ-aligned square of a face with these 68 landmarks (image pixels). */
export function ffhqAlignment(points: readonly Point[]): AlignedSquare {
  const { eyeLeft, eyeRight, mouthLeft, mouthRight } = alignmentKeypoints(points);
  const e = { x: (eyeLeft.x + eyeRight.x) / 2, y: (eyeLeft.y + eyeRight.y) / 2 };
  const ee = { x: eyeRight.x - eyeLeft.x, y: eyeRight.y - eyeLeft.y };
  const m = { x: (mouthLeft.x + mouthRight.x) / 2, y: (mouthLeft.y + mouthRight.y) / 2 };
  const em = { x: m.x - e.x, y: m.y - e.y };
  // x = ee − (−em_y, em_x): the eye line averaged with the eye-to-mouth line turned a quarter (both point along the face's x).
  let x = { x: ee.x + em.y, y: ee.y - em.x };
  const n = Math.hypot(x.x, x.y);
  if (!(n > 0)) throw new InternalError('degenerate landmarks: the eyes and the mouth coincide');
  const half = Math.max(Math.hypot(ee.x, ee.y) * 2, Math.hypot(em.x, em.y) * 1.8);
  x = { x: (x.x / n) * half, y: (x.y / n) * half };
  return { cx: e.x + 0.1 * em.x, cy: e.y + 0.1 * em.y, size: 2 * half, angle: Math.atan2(x.y, x.x) };
}

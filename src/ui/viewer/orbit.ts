/**
 * Orbit interaction maths: a drag of the pointer turns into yaw/pitch offsets from the frontal pose,
 * clamped to the range where EG3D renders faces well (yaw ±0.6 rad, pitch ±0.35 rad); the wheel zooms
 * the displayed render.
 */
import { PITCH_LIMIT, YAW_LIMIT } from '../state/studio-store.ts';

/** Radians of rotation per pixel of drag across a view `viewSize` pixels wide (full width ≈ full yaw range). */
export function radiansPerPixel(viewSize: number): number {
  return (2 * YAW_LIMIT) / Math.max(64, viewSize);
}

export function orbitDrag(
  start: { yaw: number; pitch: number },
  dx: number,
  dy: number,
  viewSize: number,
): { yaw: number; pitch: number } {
  const k = radiansPerPixel(viewSize);
  // Dragging right turns the head to the viewer's right, as if grabbing it: the camera moves left.
  const yaw = clamp(start.yaw + dx * k, -YAW_LIMIT, YAW_LIMIT);
  const pitch = clamp(start.pitch + dy * k, -PITCH_LIMIT, PITCH_LIMIT);
  return { yaw, pitch };
}

export function wheelZoom(zoom: number, deltaY: number): number {
  return clamp(zoom * Math.exp(-deltaY * 0.0015), 1, 3);
}

export function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

/**
 * EG3D camera 25-vectors (cam2world 4×4 row-major, then normalised intrinsics 3×3) built like the
 * official `LookAtPoseSampler` (spec A.8), and the training-camera distribution of spec C.6.
 */
import type { Random } from '../core/random.ts';

export interface CameraRig {
  radius: number;
  pivot: [number, number, number];
  /** Normalised focal length (fx = fy); 4.2647 for the FFHQ models. */
  focal: number;
}

export const FFHQ_RIG: CameraRig = { radius: 2.7, pivot: [0, 0, 0.2], focal: 4.2647 };

/** Official `FOV_to_intrinsics` focal (18.837° → 4.2634; the FFHQ dataset's own value is 4.2647). */
export function focalFromFov(fovDeg: number): number {
  return 1 / (Math.tan((fovDeg * 3.14159) / 360) * 1.414);
}

function normalize3(v: [number, number, number]): [number, number, number] {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a: [number, number, number], b: [number, number, number]): [number, number, number] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** LookAtPoseSampler's deterministic pose at horizontal angle h and vertical angle v (radians). */
export function lookAtCamera(h: number, v: number, rig: CameraRig = FFHQ_RIG): Float32Array {
  const eps = 1e-5;
  const vc = Math.min(Math.max(v, eps), Math.PI - eps);
  const theta = h;
  const phi = Math.acos(1 - (2 * vc) / Math.PI);
  const r = rig.radius;
  // The official sampler places the camera on a sphere around the origin (not the pivot) and
  // only aims it at the pivot.
  const o: [number, number, number] = [
    r * Math.sin(phi) * Math.cos(Math.PI - theta),
    r * Math.cos(phi),
    r * Math.sin(phi) * Math.sin(Math.PI - theta),
  ];
  const f = normalize3([rig.pivot[0] - o[0], rig.pivot[1] - o[1], rig.pivot[2] - o[2]]);
  const right = normalize3(cross([0, 1, 0], f)).map((x) => -x) as [number, number, number];
  const up = normalize3(cross(f, right));
  const fx = rig.focal;
  // prettier-ignore
  return new Float32Array([
    right[0], up[0], f[0], o[0],
    right[1], up[1], f[1], o[1],
    right[2], up[2], f[2], o[2],
    0, 0, 0, 1,
    fx, 0, 0.5,
    0, fx, 0.5,
    0, 0, 1,
  ]);
}

/** Camera at a yaw / pitch offset (radians) from frontal; positive yaw turns the camera to +x. */
export function cameraAt(yaw: number, pitch: number, rig: CameraRig = FFHQ_RIG): Float32Array {
  return lookAtCamera(Math.PI / 2 + yaw, Math.PI / 2 + pitch, rig);
}

export function frontalCamera(rig: CameraRig = FFHQ_RIG): Float32Array {
  return cameraAt(0, 0, rig);
}

export interface CameraDistribution {
  /** Standard deviation of the horizontal angle around frontal (radians). */
  yawStd: number;
  /** Standard deviation of the vertical angle around frontal (radians). */
  pitchStd: number;
}

/** Spec C.6: h ~ π/2 + N(0, 0.3), v ~ π/2 + N(0, 0.155) (π-GAN / FFHQ-like spreads). */
export const FFHQ_TRAINING_CAMERAS: CameraDistribution = { yawStd: 0.3, pitchStd: 0.155 };

export function sampleCamera(rng: Random, dist: CameraDistribution, rig: CameraRig = FFHQ_RIG): Float32Array {
  const h = Math.PI / 2 + dist.yawStd * rng.normal();
  const v = Math.PI / 2 + dist.pitchStd * rng.normal();
  return lookAtCamera(h, v, rig);
}

/** Stacks 25-vectors into one [N·25] array (row-major [N, 25]). */
export function stackCameras(cams: Float32Array[]): Float32Array {
  const out = new Float32Array(cams.length * 25);
  cams.forEach((c, i) => out.set(c, i * 25));
  return out;
}

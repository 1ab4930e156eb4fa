/**
 * EG3D cameras (spec A.8): the 25-float camera vector = cam2world 4×4 row-major (OpenCV camera
 * axes: +x right, +y down, +z forward) followed by the 3×3 intrinsics normalised by image size.
 * World frame: y up, the face looks toward +z. Poses come from EG3D's look-at sampler, where the
 * vertical angle v is mapped area-uniformly (φ = arccos(1 − 2v/π)), so v is not the polar angle.
 *
 * All arithmetic is float64 in plain JS; the vectors are returned as Float32Array like the
 * official float32 tensors.
 */
import * as tf from '@tensorflow/tfjs';
import type { Random } from '../core/random.ts';
import { InternalError } from '../core/errors.ts';

export type Vec3 = [number, number, number];

/** Camera distance from the world origin used for FFHQ (rendering_kwargs.avg_camera_radius). */
export const DEFAULT_CAMERA_RADIUS = 2.7;
/** Look-at point used for FFHQ (rendering_kwargs.avg_camera_pivot). */
export const DEFAULT_CAMERA_PIVOT: Readonly<Vec3> = [0, 0, 0.2];
/** Normalised focal length of the FFHQ dataset labels (what the released networks were trained on). */
export const DATASET_FOCAL = 4.2647;
/** Field of view the official generation scripts pass to `FOV_to_intrinsics` (gives f ≈ 4.2634). */
export const DEFAULT_FOV_DEG = 18.837;
/** Frontal angles: h = v = π/2 puts the camera on +z looking at the face. */
export const FRONTAL_ANGLE = Math.PI / 2;

export class CameraError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

/**
 * Normalised focal length for a field of view in degrees, exactly as EG3D's `FOV_to_intrinsics`
 * computes it (its π and √2 are truncated to 3.14159 and 1.414; keep them to match the weights' data).
 */
export function fovToFocal(fovDegrees: number): number {
  return 1 / (Math.tan((fovDegrees * 3.14159) / 360) * 1.414);
}

/** Row-major 3×3 normalised intrinsics `[[f,0,0.5],[0,f,0.5],[0,0,1]]` for a field of view in degrees. */
export function fovToIntrinsics(fovDegrees: number): number[] {
  return focalToIntrinsics(fovToFocal(fovDegrees));
}

/** Row-major 3×3 normalised intrinsics with principal point at the image centre. */
export function focalToIntrinsics(focal: number): number[] {
  if (!(focal > 0) || !Number.isFinite(focal)) throw new CameraError(`focal length must be a positive number (got ${focal})`);
  return [focal, 0, 0.5, 0, focal, 0.5, 0, 0, 1];
}

function normalize(v: Vec3): Vec3 {
  const n = Math.hypot(v[0], v[1], v[2]);
  if (n === 0) throw new CameraError('cannot normalise a zero vector (camera origin equals look-at point?)');
  return [v[0] / n, v[1] / n, v[2] / n];
}

function cross(a: Vec3, b: Vec3): Vec3 {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/**
 * cam2world (row-major 4×4) for a camera at `origin` looking along `forward`, y up, no roll:
 * columns are right, up, forward, origin (EG3D's `create_cam2world_matrix`).
 */
export function createCam2World(forward: Vec3, origin: Vec3): number[] {
  const f = normalize(forward);
  const right = normalize(cross([0, 1, 0], f)).map((x) => -x) as Vec3;
  const up = normalize(cross(f, right));
  return [
    right[0], up[0], f[0], origin[0],
    right[1], up[1], f[1], origin[1],
    right[2], up[2], f[2], origin[2],
    0, 0, 0, 1,
  ];
}

/** Camera position on the sphere of `radius` around the world origin for angles (h, v). */
export function sphericalOrigin(h: number, v: number, radius: number): Vec3 {
  const vc = Math.min(Math.max(v, 1e-5), Math.PI - 1e-5);
  const theta = h;
  const phi = Math.acos(1 - (2 * vc) / Math.PI);
  return [
    radius * Math.sin(phi) * Math.cos(Math.PI - theta),
    radius * Math.cos(phi),
    radius * Math.sin(phi) * Math.sin(Math.PI - theta),
  ];
}

export interface LookAtOptions {
  /** Look-at point (default (0, 0, 0.2)). */
  pivot?: Readonly<Vec3>;
  /** Distance of the camera from the world origin (default 2.7). */
  radius?: number;
}

/** Deterministic part of `LookAtPoseSampler.sample(h, v, pivot, radius)`: row-major cam2world. */
export function lookAtPose(h: number, v: number, opts: LookAtOptions = {}): number[] {
  const pivot = opts.pivot ?? DEFAULT_CAMERA_PIVOT;
  const origin = sphericalOrigin(h, v, opts.radius ?? DEFAULT_CAMERA_RADIUS);
  return createCam2World([pivot[0] - origin[0], pivot[1] - origin[1], pivot[2] - origin[2]], origin);
}

export interface GaussianPoseOptions extends LookAtOptions {
  horizontalStddev?: number;
  verticalStddev?: number;
}

/** `LookAtPoseSampler` with Gaussian jitter: h += σh·n₁, v += σv·n₂ (n₁ drawn before n₂). */
export function sampleLookAtPose(h: number, v: number, rng: Random, opts: GaussianPoseOptions = {}): number[] {
  const hs = h + rng.normal() * (opts.horizontalStddev ?? 0);
  const vs = v + rng.normal() * (opts.verticalStddev ?? 0);
  return lookAtPose(hs, vs, opts);
}

export interface UniformPoseOptions extends LookAtOptions {
  /** Half-width of the uniform range added to h. */
  horizontalRange?: number;
  /** Half-width of the uniform range added to v. */
  verticalRange?: number;
}

/**
 * `UniformCameraPoseSampler`: h += r_h·U(−1,1), v += r_v·U(−1,1). The official sampler looks at the
 * world origin, so the pivot defaults to (0,0,0) here (pass one to look elsewhere).
 */
export function sampleUniformPose(h: number, v: number, rng: Random, opts: UniformPoseOptions = {}): number[] {
  const hs = h + (rng.next() * 2 - 1) * (opts.horizontalRange ?? 0);
  const vs = v + (rng.next() * 2 - 1) * (opts.verticalRange ?? 0);
  return lookAtPose(hs, vs, { pivot: opts.pivot ?? [0, 0, 0], radius: opts.radius });
}

/** The 25-float EG3D camera vector from a row-major cam2world (16) and row-major intrinsics (9). */
export function cameraVector(cam2world: ArrayLike<number>, intrinsics: ArrayLike<number>): Float32Array {
  if (cam2world.length !== 16) throw new CameraError(`cam2world must have 16 entries (got ${cam2world.length})`);
  if (intrinsics.length !== 9) throw new CameraError(`intrinsics must have 9 entries (got ${intrinsics.length})`);
  const c = new Float32Array(25);
  for (let i = 0; i < 16; i++) c[i] = cam2world[i];
  for (let i = 0; i < 9; i++) c[16 + i] = intrinsics[i];
  return c;
}

export interface YawPitchOptions extends LookAtOptions {
  /** Normalised focal length (default 4.2647, the dataset value). */
  focal?: number;
}

/**
 * Camera vector for yaw/pitch offsets (radians) from the frontal view: h = π/2 + yaw, v = π/2 + pitch.
 * Positive yaw moves the camera toward +x, negative pitch raises it (yaw +0.4, pitch −0.2 puts the
 * camera at ≈ (1.043, 0.344, 2.467)).
 */
export function cameraFromYawPitch(yawOffset: number, pitchOffset: number, opts: YawPitchOptions = {}): Float32Array {
  const pose = lookAtPose(FRONTAL_ANGLE + yawOffset, FRONTAL_ANGLE + pitchOffset, opts);
  return cameraVector(pose, focalToIntrinsics(opts.focal ?? DATASET_FOCAL));
}

/** The frontal camera (the conditioning camera the official scripts use). */
export function frontalCamera(opts: YawPitchOptions = {}): Float32Array {
  return cameraFromYawPitch(0, 0, opts);
}

/** Camera position (world) of a 25-vector: the translation column of cam2world. */
export function cameraPosition(camera: ArrayLike<number>): Vec3 {
  if (camera.length !== 25) throw new CameraError(`camera vector must have 25 entries (got ${camera.length})`);
  return [camera[3], camera[7], camera[11]];
}

/** Stacks camera vectors into the `[N, 25]` tensor the generator and renderer take. */
export function camerasTensor(cameras: readonly ArrayLike<number>[]): tf.Tensor2D {
  const data = new Float32Array(cameras.length * 25);
  cameras.forEach((c, i) => {
    if (c.length !== 25) throw new CameraError(`camera ${i} must have 25 entries (got ${c.length})`);
    data.set(Array.from(c), i * 25);
  });
  return tf.tensor2d(data, [cameras.length, 25]);
}

/**
 * The camera path of EG3D's orbit videos: NVlabs/eg3d `gen_videos.py` (`gen_interp_video`, commit
 * 7cf1fd1), spec A.8 "Official video orbit". For frame i of N (t = i / N, so the last frame stops one
 * step short of t = 1 and the clip loops without a repeated frame):
 *
 *   h = 3.14/2 + yaw_range · sin(2 · 3.14 · t)            yaw_range = 0.35
 *   v = 3.14/2 − 0.05 + pitch_range · cos(2 · 3.14 · t)   pitch_range = 0.25
 *
 * fed to `LookAtPoseSampler.sample(h, v, (0, 0, 0.2), radius = 2.7)` with intrinsics
 * `[[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1]]`. The script writes π as 3.14 (the spec's formula
 * writes π/2; the two differ by 0.0008 rad) — kept here as the script has it, so the poses are the
 * official ones. The conditioning camera stays the frontal one (`c` of the mapping in the script).
 */
import { cameraVector, DATASET_FOCAL, DEFAULT_CAMERA_PIVOT, DEFAULT_CAMERA_RADIUS, focalToIntrinsics, lookAtPose, CameraError, type Vec3 } from './camera.ts';

/** π as `gen_videos.py` writes it. */
export const GEN_VIDEOS_PI = 3.14;
/** Half-width of the horizontal sweep (radians of h). */
export const ORBIT_YAW_RANGE = 0.35;
/** Half-height of the vertical sweep (radians of v, before the area-uniform mapping). */
export const ORBIT_PITCH_RANGE = 0.25;
/** The vertical centre sits 0.05 above the frontal v = π/2 (the camera looks slightly down). */
export const ORBIT_PITCH_OFFSET = -0.05;

export interface OrbitOptions {
  /** Look-at point (default (0, 0, 0.2), the FFHQ `avg_camera_pivot`). */
  pivot?: Readonly<Vec3>;
  /** Camera distance from the world origin (default 2.7, the FFHQ `avg_camera_radius`). */
  radius?: number;
  /** Normalised focal length (default 4.2647, as `gen_videos.py`). */
  focal?: number;
}

/** The look-at sampler's angles (h, v) at phase t ∈ [0, 1) of the orbit. */
export function orbitAngles(t: number): { h: number; v: number } {
  if (!Number.isFinite(t)) throw new CameraError(`orbit phase must be a finite number (got ${t})`);
  const a = 2 * GEN_VIDEOS_PI * t;
  return {
    h: GEN_VIDEOS_PI / 2 + ORBIT_YAW_RANGE * Math.sin(a),
    v: GEN_VIDEOS_PI / 2 + ORBIT_PITCH_OFFSET + ORBIT_PITCH_RANGE * Math.cos(a),
  };
}

/** The 25-float camera of phase t ∈ [0, 1). */
export function orbitCamera(t: number, opts: OrbitOptions = {}): Float32Array {
  const { h, v } = orbitAngles(t);
  const pose = lookAtPose(h, v, { pivot: opts.pivot ?? DEFAULT_CAMERA_PIVOT, radius: opts.radius ?? DEFAULT_CAMERA_RADIUS });
  return cameraVector(pose, focalToIntrinsics(opts.focal ?? DATASET_FOCAL));
}

/** The cameras of an N-frame orbit, frame i at t = i / N (`frame_idx / (num_keyframes · w_frames)`). */
export function orbitCameras(frames: number, opts: OrbitOptions = {}): Float32Array[] {
  if (!Number.isInteger(frames) || frames < 1) throw new CameraError(`an orbit needs a whole number of frames ≥ 1 (got ${frames})`);
  return Array.from({ length: frames }, (_, i) => orbitCamera(i / frames, opts));
}

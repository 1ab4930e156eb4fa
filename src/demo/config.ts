/**
 * The reduced EG3D architecture of the embedded demo generator, written exactly like an official
 * checkpoint's construction arguments (`G_ema.init_kwargs`, `rendering_kwargs`,
 * `neural_rendering_resolution`), so `parseEG3DConfig` reads it like any real network pickle and
 * every downstream module (viewer, 3D-Adapter, export) treats it as one.
 *
 * What is reduced, all through official fields:
 * - backbone widths: channel_base 2048, channel_max 64 → 64 channels up to 32², then 32/16/8 at
 *   64²/128²/256² (TriPlaneGenerator always builds the backbone at 256² with 3×32 plane channels);
 * - super-resolution: the official `SuperresolutionHybrid2X` (64² neural rendering → 128² image);
 * - samples per ray: 24 coarse + 24 importance (the released model uses 48 + 48).
 * The mapping network keeps z_dim = w_dim = 512 (the SR blocks are hard-wired to w_dim 512).
 */
import { parseEG3DConfig, type EG3DConfig } from '../eg3d/config.ts';

export const DEMO_NEURAL_RENDERING_RESOLUTION = 64;

export const DEMO_RENDERING_KWARGS = {
  image_resolution: 128,
  disparity_space_sampling: false,
  clamp_mode: 'softplus',
  superresolution_module: 'training.superresolution.SuperresolutionHybrid2X',
  c_gen_conditioning_zero: false,
  gpc_reg_prob: 0.5,
  c_scale: 1.0,
  superresolution_noise_mode: 'none',
  density_reg: 0.25,
  density_reg_p_dist: 0.004,
  reg_type: 'l1',
  decoder_lr_mul: 1.0,
  sr_antialias: true,
  depth_resolution: 24,
  depth_resolution_importance: 24,
  ray_start: 2.25,
  ray_end: 3.3,
  box_warp: 1,
  avg_camera_radius: 2.7,
  avg_camera_pivot: [0, 0, 0.2],
} as const;

export const DEMO_INIT_KWARGS = {
  z_dim: 512,
  w_dim: 512,
  c_dim: 25,
  img_resolution: 128,
  img_channels: 3,
  mapping_kwargs: { num_layers: 2 },
  channel_base: 2048,
  channel_max: 64,
  fused_modconv_default: 'inference_only',
  num_fp16_res: 0,
  conv_clamp: null,
  sr_num_fp16_res: 4,
  sr_kwargs: { channel_base: 2048, channel_max: 64, fused_modconv_default: 'inference_only' },
  rendering_kwargs: DEMO_RENDERING_KWARGS,
} as const;

/** Plain JSON copies (what goes into the safetensors metadata). */
export function demoInitKwargs(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(DEMO_INIT_KWARGS)) as Record<string, unknown>;
}

export function demoRenderingKwargs(): Record<string, unknown> {
  return JSON.parse(JSON.stringify(DEMO_RENDERING_KWARGS)) as Record<string, unknown>;
}

/** The demo architecture, parsed by the same code that parses real checkpoints. */
export function demoConfig(): EG3DConfig {
  return parseEG3DConfig({ initKwargs: demoInitKwargs(), renderingKwargs: demoRenderingKwargs(), neuralRenderingResolution: DEMO_NEURAL_RENDERING_RESOLUTION });
}

import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseEG3DConfig, FFHQ512_128_CONFIG, FFHQ512_128_INIT_KWARGS, UnsupportedArchitectureError } from './config.ts';
import { parameterCounts, tensorSpecs } from './weights.ts';

const FIXTURES = new URL('../../../shared/fixtures/', import.meta.url);
const fixtureJson = (name: string) => JSON.parse(readFileSync(new URL(`eg3d-${name}.json`, FIXTURES), 'utf8'));
const ffhqKwargs = () => JSON.parse(JSON.stringify(FFHQ512_128_INIT_KWARGS)) as Record<string, unknown>;

describe('EG3D config', () => {
  it('derives the released ffhq512-128 architecture (spec A.5, A.10, A.11)', () => {
    const c = FFHQ512_128_CONFIG;
    expect(c.backbone.resolution).toBe(256);
    expect(c.backbone.numWs).toBe(14);
    expect(c.backbone.blocks.map((b) => [b.resolution, b.inChannels, b.outChannels])).toEqual([
      [4, 0, 512], [8, 512, 512], [16, 512, 512], [32, 512, 512], [64, 512, 512], [128, 512, 256], [256, 256, 128],
    ]);
    expect(c.backbone.convClamp).toBeNull();
    expect(c.superresolution.className).toBe('SuperresolutionHybrid8XDC');
    expect(c.superresolution.convClamp).toBe(256);
    expect(c.superresolution.blocks.map((b) => [b.kind, b.inChannels, b.outChannels, b.resolution])).toEqual([
      ['up', 32, 256, 256], ['up', 256, 128, 512],
    ]);
    expect(parameterCounts(c)).toEqual({ mapping: 800768, backbone: 28207533, decoder: 4257, superresolution: 1649578, total: 30662136 });
    // 13 (b4) + 6·19 (b8…b256) + 7 (mapping) + 2·19 (SR) + 4 (decoder); the ffhqlike fixture (same SR) confirms the layout.
    expect(tensorSpecs(c).length).toBe(176);
  });

  for (const name of ['tiny', 'ffhqlike']) {
    it(`matches the ${name} fixture's key list, shapes and parameter count`, () => {
      const js = fixtureJson(name);
      const c = parseEG3DConfig({ initKwargs: js.init_kwargs, neuralRenderingResolution: js.neural_rendering_resolution });
      const expected = Object.entries(js.keys as Record<string, number[]>).filter(([k]) => k !== 'dataset_label_std');
      expect(tensorSpecs(c).map((s) => [s.name, s.shape])).toEqual(expected);
      expect(parameterCounts(c).total).toBe(js.parameter_count);
    });
  }

  it('keeps the official rendering_kwargs semantics', () => {
    const k = ffhqKwargs();
    const rk = { ...(k.rendering_kwargs as Record<string, unknown>) };
    delete rk.c_scale; // TriPlaneGenerator uses .get('c_scale', 0)
    rk.white_back = true;
    const c = parseEG3DConfig({ initKwargs: k, renderingKwargs: rk, neuralRenderingResolution: 128 });
    expect(c.rendering.cScale).toBe(0);
    expect(c.rendering.whiteBack).toBe(true);
    expect(c.rendering.avgCameraPivot).toEqual([0, 0, 0.2]);
    const noFp16 = parseEG3DConfig({ initKwargs: { ...k, sr_num_fp16_res: 0 }, neuralRenderingResolution: 128 });
    expect(noFp16.superresolution.convClamp).toBeNull();
    const { conv_clamp: _drop, ...noClamp } = k;
    void _drop;
    expect(parseEG3DConfig({ initKwargs: noClamp, neuralRenderingResolution: 128 }).backbone.convClamp).toBe(256); // SynthesisBlock default
  });

  it('supports every official SR class and its resize rule', () => {
    const make = (cls: string, res: number) => {
      const k = ffhqKwargs();
      k.img_resolution = res;
      k.rendering_kwargs = { ...(k.rendering_kwargs as object), superresolution_module: `training.superresolution.${cls}` };
      return parseEG3DConfig({ initKwargs: k, neuralRenderingResolution: 64 }).superresolution;
    };
    expect(make('SuperresolutionHybrid2X', 128)).toMatchObject({ inputResolution: 64, resizeWhen: 'different' });
    expect(make('SuperresolutionHybrid4X', 256)).toMatchObject({ inputResolution: 128, resizeWhen: 'smaller' });
    expect(make('SuperresolutionHybrid8X', 512).blocks[0]).toMatchObject({ kind: 'up', outChannels: 128 });
  });

  it('refuses architectures it cannot reproduce, saying what differs', () => {
    const bad = (patch: (k: Record<string, unknown>) => void, re: RegExp) => {
      const k = ffhqKwargs();
      patch(k);
      expect(() => parseEG3DConfig({ initKwargs: k, neuralRenderingResolution: 128 })).toThrow(UnsupportedArchitectureError);
      expect(() => parseEG3DConfig({ initKwargs: k, neuralRenderingResolution: 128 })).toThrow(re);
    };
    bad((k) => (k.architecture = 'resnet'), /architecture is 'resnet'/);
    bad((k) => (k.img_resolution = 256), /SuperresolutionHybrid8XDC produces 512/);
    bad((k) => (k.rendering_kwargs = { ...(k.rendering_kwargs as object), superresolution_module: 'training.superresolution.SuperresolutionHybridDeepfp32' }), /not supported/);
    bad((k) => (k.rendering_kwargs = { ...(k.rendering_kwargs as object), clamp_mode: 'relu' }), /softplus/);
    bad((k) => (k.some_new_option = 1), /init_kwargs.some_new_option/);
  });
});

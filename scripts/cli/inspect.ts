/**
 * npm run cli -- inspect <file> [--config <model config .json>]
 * EG3D .pkl: architecture summary, parameter counts (mapping, backbone G1, Tri-D, G2, total), load time
 * and MB/s (parse + convert every G_ema tensor). CLIP .pt / .safetensors: detected architecture,
 * parameter count and where each tower's head count comes from; `--config` gives the model's open_clip
 * model config or Hugging Face config.json (the head count the weights cannot tell, e.g. ViT-H/14).
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { SettingsError } from '../../src/core/errors.ts';
import { initNodeBackend, backendFromEnv } from '../../src/platform/node-backend.ts';
import { NodeFileByteSource } from '../../src/platform/node-file.ts';
import { readEG3DPickle } from '../../src/eg3d/checkpoint.ts';
import { describeConfig, parseEG3DConfig } from '../../src/eg3d/config.ts';
import { disposeWeights, loadWeights, parameterCounts } from '../../src/eg3d/weights.ts';

const fmt = (n: number) => n.toLocaleString('en-US');

async function inspectEG3D(path: string): Promise<void> {
  await initNodeBackend(backendFromEnv());
  const source = await NodeFileByteSource.open(path);
  const t0 = performance.now();
  const ckpt = await readEG3DPickle(source);
  const tParse = performance.now();
  const config = parseEG3DConfig({ initKwargs: ckpt.initKwargs, renderingKwargs: ckpt.renderingKwargs, neuralRenderingResolution: ckpt.neuralRenderingResolution });
  const weights = await loadWeights(config, ckpt);
  const tLoad = performance.now();
  disposeWeights(weights);
  const counts = parameterCounts(config);
  const mb = source.size / 1e6;
  const r = config.rendering;
  const lines = [
    `file: ${path} (${mb.toFixed(1)} MB)`,
    `class: ${ckpt.className}`,
    `architecture: ${describeConfig(config)}`,
    `  mapping: z ${config.zDim}, c 25 (c_scale ${r.cScale}${r.cGenConditioningZero ? ', zeroed' : ''}), w ${config.wDim}, ${config.mapping.numLayers} layers, lr×${config.mapping.lrMul}, num_ws ${config.backbone.numWs}`,
    `  backbone: 4→${config.backbone.resolution}, ${config.backbone.channels} channels (3 planes × 32), channel_base ${config.backbone.channelBase}, channel_max ${config.backbone.channelMax}, conv_clamp ${config.backbone.convClamp ?? 'none'}`,
    `  renderer: ${config.neuralRenderingResolution}², ${r.depthResolution}+${r.depthResolutionImportance} samples, rays ${r.rayStart}…${r.rayEnd}, box_warp ${r.boxWarp}, ${r.whiteBack ? 'white' : 'black'} background`,
    `  super-resolution: ${config.superresolution.className}, input ${config.superresolution.inputResolution}², conv_clamp ${config.superresolution.convClamp ?? 'none'}, noise ${config.superresolution.noiseMode}, antialias ${config.superresolution.antialias}`,
    'parameters:',
    `  mapping           ${fmt(counts.mapping).padStart(12)}`,
    `  backbone (G1)     ${fmt(counts.backbone).padStart(12)}`,
    `  decoder (Tri-D)   ${fmt(counts.decoder).padStart(12)}`,
    `  super-res (G2)    ${fmt(counts.superresolution).padStart(12)}`,
    `  total             ${fmt(counts.total).padStart(12)}`,
    `load: parse ${((tParse - t0) / 1000).toFixed(2)} s, parse + convert ${ckpt.keys.length} tensors ${((tLoad - t0) / 1000).toFixed(2)} s (${(mb / ((tLoad - t0) / 1000)).toFixed(1)} MB/s)`,
  ];
  console.log(lines.join('\n'));
}

/** The report of a CLIP file, with the head count of each tower and where it came from (`config`: a model config file's path). */
export async function describeClip(path: string, config?: string): Promise<string> {
  const { describeClipFile } = await import('../../src/clip/load.ts');
  const t0 = performance.now();
  const d = await describeClipFile(await NodeFileByteSource.open(path), config ? { config: readFileSync(config, 'utf8'), configName: basename(config) } : {});
  const { vision, text } = d.architecture.headsFrom;
  const towerLine = (what: string, h: typeof vision) =>
    h.problem ? `  ${what}: ${h.problem} — pass it with --config <model config .json>` : `  ${what}: ${h.note}${h.from === 'config' && config ? ` [${basename(config)}]` : ''}`;
  return [
    `file: ${path}`,
    `format: ${d.formatLabel}`,
    `architecture: ${d.summary}`,
    'heads:',
    towerLine('image tower', vision),
    ...(text ? [towerLine('text tower', text)] : []),
    `parameters: ${fmt(d.parameters)} (vision ${fmt(d.visionParameters)}, text ${fmt(d.textParameters)})`,
    `read headers in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
  ].join('\n');
}

const USAGE = 'usage: npm run cli -- inspect <file.pkl | file.pt | file.safetensors> [--config <model config .json> (CLIP only)]';

export function parseInspectArgs(argv: string[]): { path: string; config?: string } {
  let path: string | undefined;
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--config') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new SettingsError(`--config needs a file\n${USAGE}`);
      config = v;
    } else if (argv[i].startsWith('--') || path !== undefined) throw new SettingsError(`unexpected argument ${argv[i]}\n${USAGE}`);
    else path = argv[i];
  }
  if (!path) throw new SettingsError(USAGE);
  return { path, ...(config ? { config } : {}) };
}

export async function run(argv: string[]): Promise<void> {
  const { path, config } = parseInspectArgs(argv);
  const ext = extname(path).toLowerCase();
  if (config && ext === '.pkl') throw new SettingsError('inspect: --config is for CLIP files (an EG3D pickle carries its own configuration)');
  if (ext === '.pkl') await inspectEG3D(path);
  else if (ext === '.pt' || ext === '.safetensors') console.log(await describeClip(path, config));
  else throw new SettingsError(`inspect: unknown file type '${ext}' (expected .pkl, .pt or .safetensors)`);
}

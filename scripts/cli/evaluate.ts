/**
 * npm run cli -- evaluate [--generator <file.pkl|embedded>] --adapted <delta.safetensors> [--clip <file> ...]
 *                         [--reference <img|example:id>] [--latents 32] [--seed N] [--psi 0.7] [--json out.json] [--grid out.png]
 *                         [--render-resolution R] [--samples D,DI] [--no-face] [--no-texture] [--vocab <bpe vocabulary>]
 *                         [--palette-reference face-box|image]
 *
 * The evaluation report (src/evaluate): the base generator (default: the embedded demo generator) vs the
 * same generator with the adapted Tri-D + G2 weights of a delta `.safetensors`, over held-out latents ×
 * 5 yaws: identity (face-api descriptors, a stand-in for ArcFace), depth difference, style distance to
 * the reference (Lab palette, InceptionV3 Gram matrices; CLIP with --clip), multi-view consistency.
 * Prints a table; --json writes the full result (thumbnails as PNG data URLs); --grid writes the
 * thumbnails as the adapt grid lays them out (rows: source / adapted per latent; columns: yaws).
 * Zero-shot weights (a prompt in their metadata): each --clip with a text tower adds a line against the
 * prompt (similarity to the target text, alignment with the text direction); it needs CLIP's BPE
 * vocabulary (--vocab, or one beside the first --clip file, as adapt finds it).
 * Runs through the engine the studio uses (LocalEngine.evaluate; face-api from src/platform/node-evaluation.ts).
 * Backend from TFJS_BACKEND (default wasm).
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { loadNodeFaceApi } from '../../src/platform/node-evaluation.ts';
import { argReader, engineFaceLocator, fileBlob, loadCliGenerator, openCliEngine } from '../cli-engine.ts';
import type { RenderOverrides } from '../../src/adapter/generator-view.ts';
import { SettingsError } from '../../src/core/errors.ts';
import type { EvaluationResult, RgbaImage } from '../../src/engine/types.ts';
import { findVocabulary, tile } from './adapt.ts';
import { parseCropMode, prepareReference, type ReferenceCropMode } from '../reference-image.ts';

export interface EvaluateArgs {
  generator: string;
  adapted: string;
  clips: string[];
  reference: string;
  /** How a reference file is cropped (as `adapt` does: the studio's face-aware crop by default). */
  crop: ReferenceCropMode;
  latents: number;
  seed: number;
  psi: number;
  json: string;
  grid: string;
  renderResolution: number | null;
  samples: [number, number] | null;
  face: boolean;
  texture: boolean;
  vocab: string;
  /** The palette's reference pixels: the face box of the reference crop (default) or the whole crop. */
  paletteReference: 'face-box' | 'image';
}

const USAGE = `usage: npm run cli -- evaluate [--generator <file.pkl|embedded (default)>] --adapted <delta.safetensors>
       [--clip <file> ...] [--reference <image|example:sketch|example:cartoon> [--crop face|centre]] [--latents 32] [--seed N] [--psi 0.7] [--json out.json] [--grid out.png]
       [--render-resolution R] [--samples D,DI] [--no-face] [--no-texture] [--vocab <bpe_simple_vocab_16e6.txt.gz|merges.txt>]
       [--palette-reference face-box (default)|image]`;

export function parseEvaluateArgs(argv: string[]): EvaluateArgs {
  const a: EvaluateArgs = { generator: 'embedded', adapted: '', clips: [], reference: '', crop: 'face', latents: 32, seed: 0, psi: 0.7, json: '', grid: '', renderResolution: null, samples: null, face: true, texture: true, vocab: '', paletteReference: 'face-box' };
  const { value, int, num } = argReader(argv, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--generator': a.generator = value(++i, f); break;
      case '--adapted': a.adapted = value(++i, f); break;
      case '--clip': a.clips.push(value(++i, f)); break;
      case '--reference': a.reference = value(++i, f); break;
      case '--crop': a.crop = parseCropMode(value(++i, f)); break;
      case '--latents': a.latents = int(++i, f, 1); break;
      case '--seed': a.seed = int(++i, f, 0); break;
      case '--psi': a.psi = num(++i, f); break;
      case '--json': a.json = value(++i, f); break;
      case '--grid': a.grid = value(++i, f); break;
      case '--render-resolution': a.renderResolution = int(++i, f, 4); break;
      case '--samples': {
        const xs = value(++i, f).split(',').map(Number);
        if (xs.length !== 2 || xs.some((x) => !Number.isInteger(x) || x < 0) || xs[0] < 2) throw new SettingsError(`--samples needs two integers D,DI (D ≥ 2) (got ${argv[i]})`);
        a.samples = [xs[0], xs[1]];
        break;
      }
      case '--no-face': a.face = false; break;
      case '--no-texture': a.texture = false; break;
      case '--vocab': a.vocab = value(++i, f); break;
      case '--palette-reference': {
        const v = value(++i, f);
        if (v !== 'face-box' && v !== 'image') throw new SettingsError(`--palette-reference must be face-box or image (got ${v})\n${USAGE}`);
        a.paletteReference = v;
        break;
      }
      case '--help': case '-h': throw new SettingsError(USAGE);
      default: throw new SettingsError(`unknown argument ${f}\n${USAGE}`);
    }
  }
  if (!a.adapted) throw new SettingsError(`--adapted is required\n${USAGE}`);
  return a;
}


function pngDataUrl(img: RgbaImage): string {
  const png = encodePng({ width: img.width, height: img.height, data: new Uint8Array(img.data.buffer, img.data.byteOffset, img.data.byteLength), channels: 4, depth: 8 });
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/** The result as JSON: thumbnails become PNG data URLs. */
export function resultToJson(result: EvaluationResult, extra: Record<string, unknown>): string {
  const rows = result.rows.map((r) => ({ ...r, thumbnails: { source: r.thumbnails.source.map(pngDataUrl), adapted: r.thumbnails.adapted.map(pngDataUrl) } }));
  return JSON.stringify({ ...extra, ...result, rows }, null, 2);
}

const f3 = (x: number | null | undefined) => (x === null || x === undefined ? '—' : x.toFixed(3));
const pair = (x: { source: number; adapted: number } | null) => (x ? `${f3(x.source)} → ${f3(x.adapted)}` : '—');

/** The printed table: one line per latent, then the means. */
export function formatTable(r: EvaluationResult): string {
  const clipHeads = r.means.clip.map((_, i) => `CLIP${i + 1} sim s→a | dir`);
  const head = ['latent', 'identity (crop)', 'Δdepth (world, %head)', 'palette ΔE s→a', 'texture s→a', 'consistency s | a', ...clipHeads];
  const lines = r.rows.map((row) => [
    String(row.latent),
    row.identity === null ? '—' : `${f3(row.identity)} (${row.identityCrop}${row.identityCrop === 'mixed' ? ` ${row.detectedViews}` : ''})`,
    `${row.depthDiff.toFixed(4)} (${row.depthDiffPct.toFixed(1)} %)`,
    pair(row.palette),
    pair(row.texture),
    `${f3(row.consistency.source)} | ${f3(row.consistency.adapted)}`,
    ...row.clip.map((c) => `${pair(c.similarity)} | ${f3(c.directionAlignment)}`),
  ]);
  const m = r.means;
  const pct = (x: number | null) => (x === null ? '' : ` (${x >= 0 ? '+' : ''}${x.toFixed(1)} %)`);
  lines.push([
    'mean',
    m.identity === null ? '—' : f3(m.identity),
    `${m.depthDiff.toFixed(4)} (${m.depthDiffPct.toFixed(1)} %)`,
    pair(m.palette) + pct(m.paletteChangePct),
    pair(m.texture) + pct(m.textureChangePct),
    `${f3(m.consistency.source)} | ${f3(m.consistency.adapted)}`,
    ...m.clip.map((c) => `${pair(c.similarity)} | ${f3(c.directionAlignment)}`),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const fmt = (cells: string[]) => cells.map((x, c) => x.padEnd(widths[c])).join('  ');
  const out = [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.slice(0, -1).map(fmt), widths.map((w) => '-'.repeat(w)).join('  '), fmt(lines[lines.length - 1])];
  if (r.means.identity !== null) out.push(`identity crops: ${m.detectedLatents} latent(s) detected in every view, ${m.fixedCropLatents} fixed crop in every view, ${r.rows.length - m.detectedLatents - m.fixedCropLatents} mixed`);
  return out.join('\n');
}

export async function run(argv: string[]): Promise<void> {
  const a = parseEvaluateArgs(argv);
  const t0 = performance.now();
  const log = (s: string) => process.stderr.write(s);

  const overrides: RenderOverrides = {};
  if (a.renderResolution) overrides.resolution = a.renderResolution;
  if (a.samples) [overrides.depthResolution, overrides.depthResolutionImportance] = a.samples;
  // The engine the studio uses (LocalEngine): its evaluate() loads face-api and InceptionV3 on first use.
  const { engine, backend } = await openCliEngine({ renderOverrides: overrides, evaluationModels: { loadFaceApi: loadNodeFaceApi } });
  let tLoad = t0;
  engine.subscribe((e) => {
    if (e.type === 'evaluation-progress' && e.stage === 'evaluating') log(`\revaluating ${e.done}/${e.total} latents (${((performance.now() - tLoad) / 1000).toFixed(1)} s)   `);
    else if (e.type === 'evaluation-progress') log(`loading the ${e.what}\n`);
  });
  try {
    const gen = await loadCliGenerator(engine, a.generator);
    await engine.importAdapted(fileBlob(a.adapted));
    if (a.reference) {
      const ref = await prepareReference(a.reference, a.crop, engineFaceLocator(engine));
      log(`reference: ${ref.how}\n`);
      await engine.setReference(ref.image);
    }
    const clipIds: string[] = [];
    for (const c of a.clips) clipIds.push((await engine.loadEncoder({ kind: 'file', file: fileBlob(c), name: basename(c) })).id);
    const vocab = findVocabulary(a.vocab, a.clips);
    if (vocab) await engine.loadVocabulary(fileBlob(vocab), basename(vocab));
    tLoad = performance.now();

    const report = await engine.evaluate({ latents: a.latents, seed: a.seed, psi: a.psi, identity: a.face, texture: a.texture, clipEncoders: clipIds, paletteReference: a.paletteReference });
    const { result } = report;
    const it = report.adaptedIterations;
    log(`\ngenerator: ${gen.name}; adapted: ${a.adapted} (${it.triD} Tri-D + ${it.g2} G2 iterations); backend ${backend}\n`);
    if (report.adaptedMetadata.prompt !== undefined) log(`zero-shot weights: "${report.adaptedMetadata.sourcePrompt ?? 'photo'}" → "${report.adaptedMetadata.prompt}"\n`);
    console.log(formatTable(result));
    if (report.clipEncoders.length) console.log(report.clipEncoders.map((c, i) => `CLIP${i + 1}: ${c.name}${result.means.clip[i]?.target === 'prompt' ? ' (vs the prompt)' : ' (vs the reference)'}`).join('\n'));
    for (const n of report.notes) console.log(`note: ${n}`);
    console.log(`identity: ${report.identityModel ?? (a.face ? 'no face model' : 'off (--no-face)')}; texture: ${report.textureModel ?? (a.reference ? 'off (--no-texture)' : 'needs --reference')}`);
    console.log(`load ${((tLoad - t0) / 1000).toFixed(1)} s, evaluation ${result.seconds.toFixed(1)} s (${a.latents} latents × ${result.options.yaws.length} views, backend ${backend})`);
    if (a.json) {
      writeFileSync(a.json, resultToJson(result, { generator: gen.name, generatorSha256: gen.sha256, adapted: a.adapted, adaptedMetadata: report.adaptedMetadata, reference: a.reference || null, backend }));
      log(`wrote ${a.json}\n`);
    }
    if (a.grid) {
      const cells: RgbaImage[] = [];
      for (const r of result.rows) cells.push(...r.thumbnails.source, ...r.thumbnails.adapted);
      const grid = tile(cells, result.options.yaws.length);
      writeFileSync(a.grid, encodePng({ width: grid.width, height: grid.height, data: new Uint8Array(grid.data.buffer), channels: 4, depth: 8 }));
      log(`wrote ${a.grid} (rows: source / adapted per latent; columns: yaw ${result.options.yaws.join(', ')})\n`);
    }
  } finally {
    await engine.dispose();
  }
}

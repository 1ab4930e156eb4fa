/**
 * npm run cli -- mesh [--generator <file.pkl|embedded>] [--adapted <delta.safetensors>] --seed N
 *                     [--resolution 128] [--psi 0.7] [--smooth K] [--decimate K] [--level 10] [--yaw R] [--pitch R] [--no-consistency] --out head.glb|head.ply
 *
 * One latent's shape as EG3D's gen_samples.py --shapes makes it (raw σ on an N³ grid over the
 * generator's box, border trimmed, surface at level 10 unless --level says otherwise), through the engine the studio uses
 * (LocalEngine.extractMesh): marching cubes, optional Taubin smoothing (--smooth K) and vertex-clustering
 * decimation (--decimate K: cells of K grid steps), vertex colours
 * from the decoder's raw RGB (with --adapted: the adapted Tri-D's), written as binary glTF (.glb) or
 * PLY (.ply) by the --out extension. Prints vertex / face counts, the time of each stage and the
 * consistency figure: the mesh's depth from the render camera (frontal, or --yaw/--pitch) against the
 * volume-rendered depth map, mean |Δ| on the render's foreground, its median (bias) and the residual.
 * Backend from TFJS_BACKEND (default wasm).
 */
import { writeFileSync } from 'node:fs';
import { extname } from 'node:path';
import { argReader, fileBlob, loadCliGenerator, openCliEngine } from '../cli-engine.ts';
import { SettingsError } from '../../src/core/errors.ts';
import type { ExtractedMesh, MeshFormat } from '../../src/engine/types.ts';

export interface MeshArgs {
  generator: string;
  adapted: string;
  seed: number;
  resolution: number;
  psi: number;
  smooth: number;
  decimate: number;
  level: number | null;
  yaw: number;
  pitch: number;
  consistency: boolean;
  out: string;
  format: MeshFormat;
}

const USAGE = `usage: npm run cli -- mesh [--generator <file.pkl|embedded (default)>] [--adapted <delta.safetensors>] --seed N
       [--resolution 128] [--psi 0.7] [--smooth K] [--decimate K] [--level 10] [--yaw R] [--pitch R] [--no-consistency] --out head.glb|head.ply`;

export function parseMeshArgs(argv: string[]): MeshArgs {
  const a: Omit<MeshArgs, 'format'> & { format?: MeshFormat } = { generator: 'embedded', adapted: '', seed: NaN, resolution: 128, psi: 0.7, smooth: 0, decimate: 0, level: null, yaw: 0, pitch: 0, consistency: true, out: '' };
  const { value, int, num } = argReader(argv, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    switch (f) {
      case '--generator': a.generator = value(++i, f); break;
      case '--adapted': a.adapted = value(++i, f); break;
      case '--seed': a.seed = int(++i, f, 0); break;
      case '--resolution': a.resolution = int(++i, f, 8); break;
      case '--psi': a.psi = num(++i, f); break;
      case '--smooth': a.smooth = int(++i, f, 0); break;
      case '--decimate': a.decimate = num(++i, f); break;
      case '--level': a.level = num(++i, f); break;
      case '--yaw': a.yaw = num(++i, f); break;
      case '--pitch': a.pitch = num(++i, f); break;
      case '--no-consistency': a.consistency = false; break;
      case '--out': a.out = value(++i, f); break;
      case '--help': case '-h': throw new SettingsError(USAGE);
      default: throw new SettingsError(`unknown argument ${f}\n${USAGE}`);
    }
  }
  if (!Number.isInteger(a.seed)) throw new SettingsError(`--seed is required\n${USAGE}`);
  if (!a.out) throw new SettingsError(`--out is required\n${USAGE}`);
  const ext = extname(a.out).toLowerCase();
  if (ext !== '.glb' && ext !== '.ply') throw new SettingsError(`--out must end in .glb or .ply (got '${a.out}')`);
  return { ...a, format: ext === '.glb' ? 'glb' : 'ply' };
}

/** The printed summary of an extraction. */
export function describeMesh(m: ExtractedMesh): string {
  const s = m.seconds;
  const lines = [
    `${m.vertices} vertices, ${m.faces} faces (${m.request.resolution}³ grid, level ${m.level}, ${m.weights} weights${m.request.smoothing ? `, ${m.request.smoothing} smoothing passes` : ''}${m.request.decimate ? `, decimated with ${m.request.decimate}-step cells` : ''})`,
    `time ${s.total.toFixed(1)} s: density grid ${s.density.toFixed(1)} s, surface ${s.surface.toFixed(2)} s, colours ${s.colours.toFixed(2)} s, consistency ${s.consistency.toFixed(2)} s`,
  ];
  if (m.vertices > 0) lines.splice(1, 0, `bounds [${m.bounds.min.map((x) => x.toFixed(3)).join(', ')}] … [${m.bounds.max.map((x) => x.toFixed(3)).join(', ')}]`);
  const [lo, hi] = m.densityRange;
  if (m.vertices === 0) lines.push(`no surface: σ inside the grid spans ${lo.toFixed(2)} … ${hi.toFixed(2)}, never crossing level ${m.level} (try --level between those)`);
  const c = m.consistency;
  if (c && c.pixels > 0) {
    lines.push(
      `consistency (${c.resolution}² depth, ${c.pixels} foreground px, coverage ${(100 * c.coverage).toFixed(1)} %): ` +
        `mean |mesh − rendered depth| ${c.meanError.toFixed(4)} (${c.meanErrorPct.toFixed(1)} % of head depth ${c.headDepth.toFixed(3)}), ` +
        `bias ${c.bias >= 0 ? '+' : ''}${c.bias.toFixed(4)}, residual ${c.residual.toFixed(4)}`,
    );
  }
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<void> {
  const a = parseMeshArgs(argv);
  const { engine, backend } = await openCliEngine();
  const log = (s: string) => process.stderr.write(s);
  engine.subscribe((e) => {
    if (e.type === 'mesh-progress' && e.stage === 'density') log(`\rdensity grid ${((100 * e.done) / e.total).toFixed(0)} %   `);
    else if (e.type === 'mesh-progress' && e.done === 0) log(`\n${e.stage}…`);
  });
  try {
    const gen = await loadCliGenerator(engine, a.generator);
    if (a.adapted) await engine.importAdapted(fileBlob(a.adapted));
    const m = await engine.extractMesh({
      seed: a.seed,
      psi: a.psi,
      weights: a.adapted ? 'adapted' : 'source',
      resolution: a.resolution,
      smoothing: a.smooth,
      ...(a.decimate ? { decimate: a.decimate } : {}),
      ...(a.level !== null ? { level: a.level } : {}),
      formats: [a.format],
      consistency: a.consistency,
      yaw: a.yaw,
      pitch: a.pitch,
    });
    log('\n');
    writeFileSync(a.out, m.files[a.format]!);
    console.log(`generator: ${gen.name}${a.adapted ? `; adapted: ${a.adapted}` : ''}; seed ${a.seed}, ψ ${a.psi}; backend ${backend}`);
    console.log(describeMesh(m));
    console.log(`wrote ${a.out} (${m.files[a.format]!.byteLength} bytes)`);
  } finally {
    await engine.dispose();
  }
}

/**
 * npm run cli -- mix a.safetensors:0.5 b.safetensors:0.5 [...] --out m.safetensors [--generator <file.pkl|embedded>]
 *
 * Mixes adapted domains: adapted-weights files made on the same base generator (default: the embedded
 * demo generator) blended with one weight each, W_base + Σ w_i (W_i − W_base) per Tri-D / G2 tensor
 * (src/adapter/mix.ts), through the engine the studio uses (LocalEngine.mixAdapted). The output is an
 * adapted-weights file like any adaptation's; its metadata lists the parts and their weights. A file
 * made on another base generator is refused. A part without ':weight' has weight 1.
 */
import { writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { argReader, fileBlob, loadCliGenerator, openCliEngine } from '../cli-engine.ts';
import { parseMixArgument } from '../../src/adapter/mix.ts';
import { SettingsError } from '../../src/core/errors.ts';

export interface MixArgs {
  parts: { path: string; weight: number }[];
  out: string;
  generator: string;
}

const USAGE = 'usage: npm run cli -- mix a.safetensors:0.5 b.safetensors:0.5 [...] --out m.safetensors [--generator <file.pkl|embedded (default)>]';

export function parseMixArgs(argv: string[]): MixArgs {
  const a: MixArgs = { parts: [], out: '', generator: 'embedded' };
  const { value } = argReader(argv, USAGE);
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i];
    if (f === '--out') a.out = value(++i, f);
    else if (f === '--generator') a.generator = value(++i, f);
    else if (f === '--help' || f === '-h') throw new SettingsError(USAGE);
    else if (f.startsWith('--')) throw new SettingsError(`unknown argument ${f}\n${USAGE}`);
    else a.parts.push(parseMixArgument(f));
  }
  if (a.parts.length === 0) throw new SettingsError(`name at least one adapted-weights file\n${USAGE}`);
  if (!a.out) throw new SettingsError(`--out is required\n${USAGE}`);
  return a;
}

export async function run(argv: string[]): Promise<void> {
  const a = parseMixArgs(argv);
  const { engine } = await openCliEngine();
  try {
    const gen = await loadCliGenerator(engine, a.generator);
    const info = await engine.mixAdapted(a.parts.map((p, i) => ({ id: String(i), weight: p.weight, file: fileBlob(p.path), name: basename(p.path) })));
    const bytes = await engine.exportSafetensors();
    writeFileSync(a.out, bytes);
    const sum = a.parts.reduce((s, p) => s + p.weight, 0);
    for (const p of info.parts) {
      console.log(`  ${p.weight.toFixed(3).padStart(7)} × ${p.name} (${p.iterations.triD} Tri-D + ${p.iterations.g2} G2 iterations${p.prompt !== undefined ? `, prompt "${p.prompt}"` : ''})`);
    }
    console.log(`mixed ${info.parts.length} part(s) on ${gen.name} (weights sum ${sum.toFixed(3)}${Math.abs(sum - 1) > 1e-6 ? ': not an interpolation, the mix extrapolates or attenuates' : ''}); wrote ${a.out} (${bytes.byteLength} bytes)`);
  } finally {
    await engine.dispose();
  }
}

import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runFuzz, type FuzzReport } from './runner.ts';
import { caseSeed, mutate } from './mutate.ts';
import { pickleFields, safetensorsFields, zipFields } from './fields.ts';
import { classify } from './outcome.ts';
import { FormatError, IncompatibleFileError, InternalError } from '../../src/core/errors.ts';

const FIXTURES = '../shared/fixtures';
const STUBS = fileURLToPath(new URL('./test-stubs.ts', import.meta.url));

function byTarget(r: FuzzReport, name: string) {
  const t = r.targets.find((x) => x.target === name);
  if (!t) throw new Error(`no report for ${name}`);
  return t;
}

describe('fuzz harness', () => {
  it('counts typed format errors as passes and flags TypeErrors, other error kinds, hangs and huge allocations', async () => {
    const lines: string[] = [];
    const only = ['stub-typed', 'stub-typeerror', 'stub-internal', 'stub-hang', 'stub-huge-alloc'];
    const report = await runFuzz({ dir: FIXTURES, cases: 3, seed: 5, timeoutMs: 1500, targetsModule: STUBS, only, log: (l) => lines.push(l) });
    const typed = byTarget(report, 'stub-typed');
    expect(typed.failures).toEqual({});
    expect(Object.values(typed.typed).reduce((a, b) => a + b, 0)).toBe(3);
    expect(Object.keys(typed.typed).every((k) => /^(corrupt-file:FormatError|incompatible-file:IncompatibleFileError)$/.test(k))).toBe(true);
    expect(byTarget(report, 'stub-typeerror').failures).toEqual({ TypeError: 3 });
    expect(byTarget(report, 'stub-internal').failures).toEqual({ 'AppError(internal):InternalError': 3 });
    expect(byTarget(report, 'stub-hang').failures).toEqual({ hang: 3 });
    expect(byTarget(report, 'stub-huge-alloc').failures).toEqual({ 'huge-allocation': 3 });
    expect(report.passed).toBe(false);
    // every failure prints how to replay it
    expect(lines.filter((l) => l.includes('replay: npm run fuzz --')).length).toBe(report.failures.length);
    expect(lines.some((l) => /--only stub-typeerror --seed 5 --case 2/.test(l))).toBe(true);
  });

  it('flags a child process that dies (crash, out of memory) and carries on with a fresh one', async () => {
    const report = await runFuzz({ dir: FIXTURES, cases: 1, seed: 5, targetsModule: STUBS, only: ['stub-crash', 'stub-typed'], log: () => {} });
    expect(byTarget(report, 'stub-crash').failures).toEqual({ crash: 1 });
    expect(byTarget(report, 'stub-typed').failures).toEqual({});
  });

  it('classifies only corrupt-file / incompatible-file AppErrors as typed', () => {
    expect(classify(new FormatError('x')).outcome).toBe('typed');
    expect(classify(new IncompatibleFileError('x')).outcome).toBe('typed');
    expect(classify(new InternalError('x')).outcome).toBe('failure');
    expect(classify(new RangeError('x'))).toMatchObject({ outcome: 'failure', type: 'RangeError' });
    expect(classify('a string')).toMatchObject({ outcome: 'failure', type: 'string' });
  });

  it('mutations are reproducible from their seed and differ between seeds', () => {
    const pt = new Uint8Array(readFileSync(`${FIXTURES}/clip-tiny.pt`));
    const ctx = { fields: zipFields(pt) };
    const a = mutate(pt, ctx, caseSeed(1, 'clip-pt', 7));
    const b = mutate(pt, ctx, caseSeed(1, 'clip-pt', 7));
    expect(a.steps).toEqual(b.steps);
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    const seeds = new Set([...Array(50).keys()].map((i) => mutate(pt, ctx, caseSeed(1, 'clip-pt', i)).steps.join(';')));
    expect(seeds.size).toBeGreaterThan(45);
  });

  it('finds the length fields of each format (pickle opcodes, legacy storage counts, zip records, safetensors header)', () => {
    const pkl = new Uint8Array(readFileSync(`${FIXTURES}/eg3d-tiny.pkl`));
    const pf = pickleFields(pkl).fields;
    // one legacy blob per stored tensor of G, D and G_ema, each with its int64 element count
    expect(pf.filter((f) => f.kind === 'legacy-blob:numel').length).toBeGreaterThan(300);
    expect(pf.some((f) => f.kind === 'pickle:BINBYTES.len' || f.kind === 'pickle:BINBYTES8.len')).toBe(true);
    const zf = zipFields(new Uint8Array(readFileSync(`${FIXTURES}/clip-tiny.pt`))).fields;
    for (const k of ['zip:eocd.cdOffset', 'zip:central.uncompressedSize', 'zip:local.extraLength', 'pickle:BINUNICODE.len']) {
      expect(zf.some((f) => f.kind === k), k).toBe(true);
    }
    const sf = safetensorsFields(new Uint8Array(readFileSync(`${FIXTURES}/clip-tiny.hf.safetensors`)));
    expect(sf.fields).toEqual([{ at: 0, width: 8, kind: 'safetensors:header-length' }]);
    expect(sf.regions[0].end).toBeGreaterThan(1000);
  });

  it('every studio reader ends each mutated case in a load or a typed format error (30 cases per format here; npm test runs 200)', async () => {
    const lines: string[] = [];
    const report = await runFuzz({ dir: FIXTURES, cases: 30, seed: 2026, largeCases: 1, log: (l) => lines.push(l) });
    expect(report.targets.map((t) => t.target)).toEqual(['eg3d-pkl', 'clip-pt', 'clip-hf', 'clip-openclip', 'adapted', 'checkpoint', 'eg3d-pkl-large']);
    expect(report.failures, lines.join('\n')).toEqual([]);
    for (const t of report.targets) {
      expect(t.cases).toBe(t.target === 'eg3d-pkl-large' ? 1 : 30);
      // the mutations reach the parsers: most cases are refused with a typed error, some still load
      expect(Object.values(t.typed).reduce((a, b) => a + b, 0), t.target).toBeGreaterThan(0);
    }
  });
});

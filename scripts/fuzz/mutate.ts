/**
 * Seeded mutations of a known-good file: truncation, bit flips, random overwrites, chunk deletion and
 * duplication, lying length/size fields, and (for safetensors) lies inside the JSON header. Every
 * mutation is a pure function of (bytes, field map, seed), so a failing case replays from its seed.
 */
import { Random } from '../../src/core/random.ts';
import type { Field, FieldMap } from './fields.ts';

export interface Mutation {
  bytes: Uint8Array;
  /** Human-readable list of what was done, for the failure report. */
  steps: string[];
}

export interface MutationContext {
  fields: FieldMap;
  /** Safetensors files also get JSON-header mutations. */
  safetensors?: boolean;
  /** Only truncations (at structural positions or anywhere). */
  truncateOnly?: boolean;
}

function int(rng: Random, n: number): number {
  return Math.floor(rng.next() * n);
}

function pick<T>(rng: Random, items: readonly T[]): T {
  return items[int(rng, items.length)];
}

/** A position: near a header field (60 %), inside a structural region (20 %) or anywhere (20 %). */
function position(rng: Random, size: number, ctx: MutationContext): number {
  const r = rng.next();
  const { fields, regions } = ctx.fields;
  // Few fields (a safetensors header length) get less attention: their JSON header is mutated separately.
  if (r < (fields.length >= 8 ? 0.6 : 0.15) && fields.length) {
    const f = pick(rng, fields);
    return Math.min(size - 1, Math.max(0, f.at - 16 + int(rng, f.width + 32)));
  }
  if (r < 0.8 && regions.length) {
    const g = pick(rng, regions);
    return Math.min(size - 1, Math.max(0, g.begin + int(rng, Math.max(1, g.end - g.begin))));
  }
  return int(rng, size);
}

function writeUint(b: Uint8Array, at: number, width: number, value: bigint): void {
  let v = BigInt.asUintN(width * 8, value);
  for (let k = 0; k < width && at + k < b.length; k++) {
    b[at + k] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readUint(b: Uint8Array, at: number, width: number): bigint {
  let v = 0n;
  for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[at + k] ?? 0);
  return v;
}

/** A plausible lie for a length/size/offset field. */
function lie(rng: Random, old: bigint, width: number, size: number): bigint {
  const max = (1n << BigInt(width * 8)) - 1n;
  const choices: bigint[] = [
    0n,
    1n,
    max,
    max >> 1n,
    old + 1n,
    old - 1n,
    old * 2n,
    old + BigInt(1 + int(rng, 4096)),
    BigInt(size),
    BigInt(size + 1),
    BigInt(Math.floor(size / 2)),
    1n << 31n,
    1n << 32n,
    (1n << 53n) + 1n,
    BigInt(int(rng, 2 ** 31)),
  ];
  return pick(rng, choices) & max;
}

function lyingField(rng: Random, b: Uint8Array, f: Field): string {
  const old = readUint(b, f.at, f.width);
  const v = lie(rng, old, f.width, b.length);
  writeUint(b, f.at, f.width, v);
  return `lie ${f.kind} @${f.at}: ${old} → ${v}`;
}

/** Lies inside a safetensors JSON header (offsets, shapes, dtypes, metadata); the length field is kept honest. */
function safetensorsJsonLie(rng: Random, b: Uint8Array): { bytes: Uint8Array; step: string } | null {
  if (b.length < 8) return null;
  const n = Number(readUint(b, 0, 8));
  if (8 + n > b.length) return null;
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch {
    return null;
  }
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  const r = rng.next();
  let step: string;
  if (r < 0.25 && header.__metadata__ && typeof header.__metadata__ === 'object') {
    const md = header.__metadata__ as Record<string, unknown>;
    const keys = Object.keys(md);
    const key = pick(rng, keys);
    const values: unknown[] = ['', '{', '[1,2', 'null', '[]', '{}', 12, null, 'x'.repeat(int(rng, 64)), '[1e999]', '{"a":'];
    md[key] = pick(rng, values);
    step = `metadata ${key} := ${JSON.stringify(md[key])}`;
  } else if (names.length) {
    const name = pick(rng, names);
    const e = header[name] as Record<string, unknown>;
    const what = pick(rng, ['data_offsets', 'shape', 'dtype', 'entry'] as const);
    const huge = [2 ** 53, 2 ** 40, 2 ** 32, 2 ** 31 - 1, -1, -8, 1.5, 0, b.length, b.length * 4];
    if (what === 'data_offsets' && Array.isArray(e.data_offsets)) {
      const offs = e.data_offsets as number[];
      const k = int(rng, 2);
      offs[k] = rng.next() < 0.5 ? pick(rng, huge) : offs[k] + pick(rng, [-4, -1, 1, 4, 4096]);
      step = `${name}.data_offsets := ${JSON.stringify(offs)}`;
    } else if (what === 'shape' && Array.isArray(e.shape)) {
      const shape = e.shape as unknown[];
      const r2 = rng.next();
      if (r2 < 0.3 && shape.length) shape[int(rng, shape.length)] = pick(rng, [...huge, '3', null, [2]]);
      else if (r2 < 0.5) shape.push(pick(rng, [1, 0, 2 ** 20]));
      else if (r2 < 0.7 && shape.length) shape.pop();
      else if (shape.length >= 2) {
        // a reshaping lie: same element count, other dims (e.g. [a, b] → [b, a] or [a·b])
        const i = int(rng, shape.length);
        const j = (i + 1) % shape.length;
        [shape[i], shape[j]] = [shape[j], shape[i]];
      } else shape.push(1);
      step = `${name}.shape := ${JSON.stringify(shape)}`;
    } else if (what === 'dtype') {
      e.dtype = pick(rng, ['F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'I8', 'F8_E4M3', 'str', 7, null]);
      step = `${name}.dtype := ${JSON.stringify(e.dtype)}`;
    } else {
      header[name] = pick(rng, [null, 1, 'x', [], {}, { dtype: 'F32' }]);
      step = `${name} := ${JSON.stringify(header[name])}`;
    }
  } else return null;
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + (b.length - 8 - n));
  writeUint(out, 0, 8, BigInt(json.length));
  out.set(json, 8);
  out.set(b.subarray(8 + n), 8 + json.length);
  return { bytes: out, step: `json ${step}` };
}

/** One mutation step applied to `b` (may return a new array). */
function mutateOnce(rng: Random, b: Uint8Array, ctx: MutationContext, steps: string[]): Uint8Array {
  const r = ctx.truncateOnly ? 0 : rng.next();
  const size = b.length;
  if (size === 0) return b;
  if (r < 0.2) {
    // truncation: near structure or anywhere, incl. 0 and size-1
    const at = rng.next() < 0.1 ? pick(rng, [0, 1, 4, 8, size - 1, size - 22]) : position(rng, size, ctx);
    const cut = Math.max(0, Math.min(size - 1, at));
    steps.push(`truncate to ${cut} bytes`);
    return b.slice(0, cut);
  }
  if (r < 0.4 && ctx.fields.fields.length) {
    steps.push(lyingField(rng, b, pick(rng, ctx.fields.fields)));
    return b;
  }
  if (r < 0.55 && ctx.safetensors) {
    const m = safetensorsJsonLie(rng, b);
    if (m) {
      steps.push(m.step);
      return m.bytes;
    }
  }
  if (r < 0.7) {
    const flips = 1 + int(rng, 8);
    const at: number[] = [];
    for (let k = 0; k < flips; k++) {
      const p = position(rng, size, ctx);
      b[p] ^= 1 << int(rng, 8);
      at.push(p);
    }
    steps.push(`bit flips @${at.join(',')}`);
    return b;
  }
  if (r < 0.8) {
    const p = position(rng, size, ctx);
    const n = Math.min(size - p, 1 + int(rng, 32));
    for (let k = 0; k < n; k++) b[p + k] = int(rng, 256);
    steps.push(`random overwrite @${p}+${n}`);
    return b;
  }
  if (r < 0.9) {
    const p = position(rng, size, ctx);
    const n = Math.min(size - p, 1 + int(rng, rng.next() < 0.7 ? 64 : 4096));
    const out = new Uint8Array(size - n);
    out.set(b.subarray(0, p));
    out.set(b.subarray(p + n), p);
    steps.push(`delete @${p}+${n}`);
    return out;
  }
  const p = position(rng, size, ctx);
  const n = Math.min(size - p, 1 + int(rng, rng.next() < 0.7 ? 64 : 4096));
  const out = new Uint8Array(size + n);
  out.set(b.subarray(0, p + n));
  out.set(b.subarray(p), p + n);
  steps.push(`duplicate @${p}+${n}`);
  return out;
}

/** 1–3 stacked mutations of a copy of `pristine` (field positions refer to the pristine layout). */
export function mutate(pristine: Uint8Array, ctx: MutationContext, seed: number): Mutation {
  const rng = new Random(seed);
  let b: Uint8Array = pristine.slice();
  const steps: string[] = [];
  const count = ctx.truncateOnly || rng.next() < 0.75 ? 1 : 2 + int(rng, 2);
  for (let k = 0; k < count; k++) b = mutateOnce(rng, b, ctx, steps);
  return { bytes: b, steps };
}

/** The seed of case `index` of a run: distinct per (run seed, format, index). */
export function caseSeed(runSeed: number, format: string, index: number): number {
  let h = (runSeed ^ 0x9e3779b9) >>> 0;
  for (const ch of `${format}#${index}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return h;
}

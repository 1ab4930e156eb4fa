/**
 * Mixing adapted domains: several adapted-weights files made on the same base generator blended with
 * one weight each. Each part is a delta from the base, so the mix is
 *
 *   W_mix = W_base + Σ_i w_i · (W_i − W_base)
 *
 * per Tri-D / G2 tensor. Weights summing to 1 interpolate between the domains (the paper's domain
 * interpolation); a single part with weight w is that adaptation at strength w. The viewer's strength
 * slider then scales the whole mix (W_base + s · (W_mix − W_base)). Parts made on another base generator
 * are refused with a MixBaseError.
 */
import * as tf from '@tensorflow/tfjs';
import { AppError, SettingsError } from '../core/errors.ts';
import { isTrainableKey, type AdaptedMetadata } from './export.ts';

/** One part as the mix's metadata lists it. */
export interface MixPartRecord {
  /** File name of the part. */
  name: string;
  weight: number;
  /** Iterations the part was trained for, its seed, creation time and (zero-shot runs) its prompt. */
  iterations: { triD: number; g2: number };
  seed: number;
  createdAt: string;
  prompt?: string;
  /** A part that is itself a mix lists its own parts. */
  mix?: MixPartRecord[];
}

/** A part of another base generator than the one loaded or the other parts ('incompatible-file'). */
export class MixBaseError extends AppError {
  constructor(message: string) {
    super('incompatible-file', message);
  }
}

export interface MixPart {
  name: string;
  weight: number;
  meta: AdaptedMetadata;
  /** tfjs-layout Tri-D + G2 tensors keyed by official names (not owned by the mix). */
  weights: ReadonlyMap<string, tf.Tensor>;
}

export interface MixBase {
  sha256: string;
  name: string;
  weights: ReadonlyMap<string, tf.Tensor>;
}

/** The largest |w| a part may have: beyond it a mix extrapolates so far that renders break down. */
export const MAX_MIX_WEIGHT = 4;

/** Refuses an empty mix, non-finite or too large weights, and parts of another base generator. */
export function checkMix(base: MixBase, parts: readonly MixPart[]): void {
  if (parts.length === 0) throw new SettingsError('a mix needs at least one adapted-weights file');
  for (const p of parts) {
    if (!Number.isFinite(p.weight) || Math.abs(p.weight) > MAX_MIX_WEIGHT) {
      throw new SettingsError(`the weight of ${p.name} must be a number in [−${MAX_MIX_WEIGHT}, ${MAX_MIX_WEIGHT}] (got ${p.weight})`);
    }
    if (p.meta.baseGeneratorSha256 !== base.sha256) {
      throw new MixBaseError(
        `${p.name} was adapted from another base generator (${p.meta.baseGeneratorName || 'unknown'}, SHA-256 ${p.meta.baseGeneratorSha256.slice(0, 12)}…) ` +
          `than the mix's (${base.name}, SHA-256 ${base.sha256.slice(0, 12)}…): only adaptations of the same base can be mixed.`,
      );
    }
    for (const key of base.weights.keys()) {
      if (!isTrainableKey(key)) continue;
      const t = p.weights.get(key);
      if (!t) throw new MixBaseError(`${p.name} lacks the tensor ${key} of the base generator`);
      if (t.shape.join('x') !== base.weights.get(key)!.shape.join('x')) throw new MixBaseError(`${p.name}: tensor ${key} has shape [${t.shape}], the base [${base.weights.get(key)!.shape}]`);
    }
  }
}

/** W_base + Σ w_i (W_i − W_base) for every Tri-D / G2 tensor; the caller owns the result. */
export function mixWeights(base: MixBase, parts: readonly MixPart[]): Map<string, tf.Tensor> {
  checkMix(base, parts);
  const out = new Map<string, tf.Tensor>();
  for (const [key, b] of base.weights) {
    if (!isTrainableKey(key)) continue;
    out.set(
      key,
      tf.tidy(() => {
        let acc: tf.Tensor = b;
        for (const p of parts) if (p.weight !== 0) acc = tf.add(acc, tf.mul(tf.sub(p.weights.get(key)!, b), p.weight));
        // A fresh tensor even when every weight is 0 (the caller disposes it, never the base's).
        return acc === b ? tf.clone(b) : acc;
      }),
    );
  }
  return out;
}

/** The part as the mix lists it. */
export function mixPartRecord(p: Pick<MixPart, 'name' | 'weight' | 'meta'>): MixPartRecord {
  const r: MixPartRecord = { name: p.name, weight: p.weight, iterations: { ...p.meta.iterations }, seed: p.meta.seed, createdAt: p.meta.createdAt };
  if (p.meta.prompt !== undefined) r.prompt = p.meta.prompt;
  if (p.meta.mix) r.mix = p.meta.mix;
  return r;
}

/** The metadata of a mix: the base generator, every part's encoders (once each), and the parts with their weights. */
export function mixMetadata(base: Pick<MixBase, 'sha256' | 'name'>, parts: readonly Pick<MixPart, 'name' | 'weight' | 'meta'>[], createdAt = new Date().toISOString()): AdaptedMetadata {
  const encoders = new Map<string, AdaptedMetadata['encoders'][number]>();
  for (const p of parts) for (const e of p.meta.encoders) if (!encoders.has(e.sha256)) encoders.set(e.sha256, e);
  return {
    baseGeneratorSha256: base.sha256,
    baseGeneratorName: base.name,
    encoders: [...encoders.values()],
    settings: { mix: parts.map((p) => ({ name: p.name, weight: p.weight, settings: p.meta.settings })) },
    seed: parts[0]?.meta.seed ?? 0,
    iterations: { triD: 0, g2: 0 },
    lossHistory: [],
    createdAt,
    mix: parts.map(mixPartRecord),
  };
}

/** Parses `file.safetensors:0.5` (a missing weight is 1); the last ':' separates, so Windows paths keep theirs. */
export function parseMixArgument(arg: string): { path: string; weight: number } {
  const m = /^(.*):([^:/\\]*)$/.exec(arg);
  if (!m || m[1] === '' || /^[A-Za-z]$/.test(m[1])) return { path: arg, weight: 1 };
  const weight = Number(m[2]);
  if (m[2].trim() === '' || !Number.isFinite(weight)) throw new SettingsError(`'${arg}': the weight after ':' must be a number (e.g. a.safetensors:0.5)`);
  return { path: m[1], weight };
}

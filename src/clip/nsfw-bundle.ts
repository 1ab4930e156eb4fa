/**
 * Reading the Keras models that ship inside the `nsfwjs` npm package (MIT): each model is a module
 * with its `model.json` and base64 weight bundles. Used by the embedded default encoder (MobileNetV2,
 * src/clip/default-encoder.ts) and the evaluation's texture network (InceptionV3, src/evaluate/texture.ts).
 */
import { InternalError } from '../core/errors.ts';

/** One nsfwjs model module: its model.json and its weight bundles, each loaded on demand. */
export interface NsfwModelDefinition {
  modelJson: () => Promise<{ default?: unknown }>;
  weightBundles: (() => Promise<{ default?: unknown }>)[];
}

/** The modules are UMD bundles: as CommonJS their value is `default`; evaluated as scripts they set a global instead. */
export function moduleValue<T>(mod: { default?: unknown }, globalName: string): T {
  const v = mod.default ?? (globalThis as Record<string, unknown>)[globalName];
  if (v === undefined || v === null) throw new InternalError(`the nsfwjs bundle did not provide ${globalName}`);
  return v as T;
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

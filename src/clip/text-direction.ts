/**
 * Text embeddings and text directions in CLIP's joint space (the zero-shot variant, spec C.7): a
 * description is embedded through the prompt templates (prompt-templates.ts), each sentence's embedding
 * L2-normalised, averaged and normalised again; the domain direction is
 * Δ_text = normalize(T(target) − T(source)), the text counterpart of the image direction
 * normalize(E(I_ref) − μ_s).
 */
import * as tf from '@tensorflow/tfjs';
import { SettingsError } from '../core/errors.ts';
import type { ClipImageEncoder } from './encoder.ts';
import { promptSentences, type TemplateMode } from './prompt-templates.ts';
import type { ClipTokenizer } from './tokenizer.ts';

/** A CLIP encoder whose file has a text tower (loaded with it). */
export function hasTextTower(encoder: unknown): encoder is ClipImageEncoder {
  return typeof encoder === 'object' && encoder !== null && 'text' in encoder && (encoder as ClipImageEncoder).text !== null && typeof (encoder as ClipImageEncoder).encodePrompts === 'function';
}

/** The normalised, template-averaged text embedding of `description`, [D]. */
export function textEmbedding(encoder: ClipImageEncoder, tokenizer: ClipTokenizer, description: string, templates: TemplateMode): tf.Tensor1D {
  if (description.trim() === '') throw new SettingsError('the description is empty');
  const sentences = promptSentences(description, templates);
  return tf.tidy(() => {
    const e = encoder.encodePrompts(sentences, tokenizer); // [T, D], each row normalised
    const m = tf.mean(e, 0) as tf.Tensor1D;
    return tf.div(m, tf.maximum(tf.norm(m), 1e-12)) as tf.Tensor1D;
  });
}

/** Δ_text = normalize(T(target) − T(source)), [D]; the two embeddings are returned too (the evaluation uses them). */
export async function textDirection(
  encoder: ClipImageEncoder,
  tokenizer: ClipTokenizer,
  target: string,
  source: string,
  templates: TemplateMode,
): Promise<{ direction: Float32Array; target: Float32Array; source: Float32Array }> {
  const t = textEmbedding(encoder, tokenizer, target, templates);
  const s = textEmbedding(encoder, tokenizer, source, templates);
  const d = tf.sub(t, s);
  try {
    const [tv, sv, dv] = (await Promise.all([t.data(), s.data(), d.data()])) as Float32Array[];
    const n = Math.hypot(...dv);
    if (!(n > 1e-6)) throw new SettingsError(`the target "${target}" and the source "${source}" embed alike in ${encoder.name}: there is no direction between them`);
    return { direction: dv.map((x) => x / n), target: tv, source: sv };
  } finally {
    tf.dispose([t, s, d]);
  }
}

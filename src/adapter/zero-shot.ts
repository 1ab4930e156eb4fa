/**
 * The zero-shot (text-driven) variant of 3D-Adapter (spec C.7; docs/method.md, "Zero-shot"): the
 * domain direction Δ_ref comes from CLIP's text tower, Δ_text = normalize(T(target) − T(source)),
 * instead of normalize(E(I_ref) − μ_s). What needs a target image changes:
 *
 * - L_dir keeps its form (per-sample image direction E(I_t) − E(I_s) against Δ_ref) with Δ_text;
 *   no μ_s is needed, so a text-only run skips that phase.
 * - L_dis (REMD to the reference's tokens, colours) has no target: it is off in a text-only run.
 * - L_I-str and L_F-str compare source and adapted renders only: kept as they are.
 * - Text and a reference image together: Δ_ref = normalize((1 − w)·Δ_image + w·Δ_text) with the text
 *   weight w; L_dis keeps its reference.
 *
 * Encoders without a text tower (the embedded MobileNetV2, a vision-only CLIP file) keep only the
 * structure terms (and L_dis toward a reference when there is one).
 */
import * as tf from '@tensorflow/tfjs';
import { SettingsError } from '../core/errors.ts';
import type { RgbaImage } from '../core/image.ts';
import type { FeatureEncoder } from '../clip/encoder.ts';
import type { TemplateMode } from '../clip/prompt-templates.ts';
import { hasTextTower, textDirection } from '../clip/text-direction.ts';
import type { ClipTokenizer } from '../clip/tokenizer.ts';
import type { MethodOptions } from './options.ts';
import { directionWeightOf, prepareTrainerEncoder, type LossWeightsConfig, type TrainerEncoder } from './trainer.ts';

/** The text target of a zero-shot run (AdaptSettings.text). */
export interface TextTarget {
  /** What the adapted generator should make, e.g. "a pencil sketch". */
  prompt: string;
  /** What the base generator makes (default "photo"). */
  sourcePrompt: string;
  /** With a reference image too: the share of Δ_text in Δ_ref, in [0, 1]; ignored without one (all text). */
  weight: number;
  /** false: the run ignores the reference image even when one is set (text only); default true. */
  withReference?: boolean;
}

export const DEFAULT_SOURCE_PROMPT = 'photo';
/** Longest description accepted (CLIP's context is 77 tokens including the templates' words). */
export const MAX_PROMPT_LENGTH = 200;

/** The target, checked and trimmed; a bad one is a SettingsError. */
export function checkTextTarget(t: TextTarget): TextTarget {
  const prompt = typeof t.prompt === 'string' ? t.prompt.trim() : '';
  const sourcePrompt = typeof t.sourcePrompt === 'string' && t.sourcePrompt.trim() !== '' ? t.sourcePrompt.trim() : DEFAULT_SOURCE_PROMPT;
  if (prompt === '') throw new SettingsError('zero-shot: describe the target domain (e.g. "a pencil sketch")');
  if (prompt.length > MAX_PROMPT_LENGTH || sourcePrompt.length > MAX_PROMPT_LENGTH) throw new SettingsError(`zero-shot: descriptions are limited to ${MAX_PROMPT_LENGTH} characters`);
  if (prompt.toLowerCase() === sourcePrompt.toLowerCase()) throw new SettingsError('zero-shot: the target and the source descriptions are the same');
  if (typeof t.weight !== 'number' || !Number.isFinite(t.weight) || t.weight < 0 || t.weight > 1) throw new SettingsError(`zero-shot: the text weight must be in [0, 1] (got ${String(t.weight)})`);
  return { prompt, sourcePrompt, weight: t.weight, ...(t.withReference === false ? { withReference: false } : {}) };
}

/** The loss weights a run uses: L_dis is off when there is no reference image to learn the distribution of. */
export function zeroShotLossWeights(weights: LossWeightsConfig, hasReference: boolean): LossWeightsConfig {
  return hasReference ? { ...weights } : { ...weights, dis: 0 };
}

/** Whether an encoder needs μ_s in this run: only for the image part of Δ_ref (a reference and text weight < 1). */
export function needsMeanEmbedding(encoder: FeatureEncoder, options: MethodOptions, dirWeight: number, text: TextTarget | null, hasReference: boolean): boolean {
  if (dirWeight <= 0 || directionWeightOf(encoder, options) <= 0) return false;
  if (!text) return true;
  return hasReference && (text.weight < 1 || !hasTextTower(encoder));
}

export interface ZeroShotEncoderSpec {
  encoder: FeatureEncoder;
  reference: RgbaImage | null;
  meanEmbedding: Float32Array | null;
  options: MethodOptions;
  text: TextTarget;
  tokenizer: ClipTokenizer | null;
  templates: TemplateMode;
}

/**
 * One encoder prepared for a zero-shot run (the caller disposes it with disposeTrainerEncoder):
 * Δ_ref from the text (mixed with the image direction when there is a reference), the reference's
 * tokens when there is one, else an empty token set that no loss reads (L_dis is off).
 */
export async function prepareZeroShotEncoder(spec: ZeroShotEncoderSpec): Promise<TrainerEncoder> {
  const { encoder, reference, options, text } = spec;
  const withText = hasTextTower(encoder) && directionWeightOf(encoder, options) > 0;
  if (withText && !spec.tokenizer) throw new SettingsError("zero-shot needs CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt.gz or the model's merges.txt)");
  const dir = withText ? await textDirection(encoder, spec.tokenizer!, text.prompt, text.sourcePrompt, spec.templates) : null;
  if (reference) {
    const prepared = prepareTrainerEncoder(encoder, reference, spec.meanEmbedding, options);
    if (!dir) return prepared;
    const image = prepared.refDirection;
    const w = image ? text.weight : 1;
    prepared.refDirection = tf.tidy(() => {
      const mixed = image ? tf.add(tf.mul(image, 1 - w), tf.mul(tf.tensor1d(dir.direction), w)) : tf.tensor1d(dir.direction);
      return tf.div(mixed, tf.maximum(tf.norm(mixed), 1e-12)) as tf.Tensor1D;
    });
    image?.dispose();
    return prepared;
  }
  const tokenBlock = options.tokenBlock < 0 ? encoder.defaultTokenBlock : options.tokenBlock;
  return {
    encoder,
    tokenBlock,
    refTokens: tf.zeros([0, encoder.embedDim]),
    refDirection: dir ? tf.tensor1d(dir.direction) : null,
    directionWeight: directionWeightOf(encoder, options),
    mapBlocks: [],
    refHypercolumn: null,
    refColours: null,
  };
}

/** A text-only run needs at least one encoder with a text tower (and L_dir on): else nothing pulls toward the text. */
export function checkZeroShotEncoders(encoders: readonly FeatureEncoder[], options: MethodOptions, dirWeight: number, hasReference: boolean): void {
  if (hasReference) return;
  if (dirWeight <= 0) throw new SettingsError('zero-shot without a reference image needs L_dir (its weight is 0)');
  if (!encoders.some((e) => hasTextTower(e) && directionWeightOf(e, options) > 0)) {
    throw new SettingsError(
      'zero-shot needs a CLIP file with a text tower (an OpenAI .pt or a Hugging Face CLIPModel): the embedded MobileNetV2 encoder has no text tower, so it cannot tell which way the text points',
    );
  }
}

/**
 * Prompt templates for text directions. Zero-shot CLIP work (CLIP's prompt ensembling, StyleGAN-NADA,
 * DiFa) embeds a description through many sentence templates and averages the normalised embeddings,
 * so the direction depends on the description rather than on one sentence's wording. This is the
 * project's own small set, written for faces and styles (not a copy of any published list).
 */

/** `{}` is replaced by the description. */
export const PROMPT_TEMPLATES: readonly string[] = [
  '{}',
  'a {}.',
  'a photo of a {}.',
  'a picture of a {}.',
  'an image of a {}.',
  'a rendering of a {}.',
  'a portrait in the style of a {}.',
  'a face as a {}.',
  'a close-up of a {}.',
  'a good image of a {}.',
  'a low resolution image of a {}.',
  'a cropped image of a {}.',
  'a bright image of a {}.',
  'a dark image of a {}.',
  'a 3D render of a {}.',
  'a drawing of a {}.',
];

export type TemplateMode = 'ensemble' | 'plain';
export const TEMPLATE_MODES: readonly TemplateMode[] = ['ensemble', 'plain'];

/** The sentences a description is embedded through: every template ('ensemble') or the description alone ('plain'). */
export function promptSentences(description: string, mode: TemplateMode): string[] {
  const d = description.trim().replace(/\s+/g, ' ');
  if (mode === 'plain') return [d];
  // The templates bring their own article: "a pencil sketch" fills them as "pencil sketch".
  const bare = d.replace(/^(a|an|the)\s+/i, '');
  return PROMPT_TEMPLATES.map((t) => (t === '{}' ? d : t.replace('{}', bare)));
}

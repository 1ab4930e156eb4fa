/**
 * A CLIP model's configuration file, supplied beside its weights, read for what the weights cannot
 * tell: the attention head count. Two layouts are understood:
 *  - open_clip model configs (`ViT-H-14.json`: `{"embed_dim", "vision_cfg": {"width", "head_width", ...},
 *    "text_cfg": {"width", "heads", ...}}`) with open_clip's semantics: vision heads = width // head_width
 *    (head_width 64 unless given), text heads = text_cfg.heads (open_clip's default 8);
 *  - Hugging Face `config.json` of `CLIPModel` (`vision_config` / `text_config` with `hidden_size` and
 *    `num_attention_heads`) or of a bare `CLIPVisionModel` (those keys at the top level), with the
 *    transformers defaults (vision 768 / 12 heads, text 512 / 8 heads) for keys left out.
 */
import { FormatError, IncompatibleFileError } from '../core/errors.ts';

export interface ClipTowerHeads {
  /** Width the config describes (checked against the weights), when it says. */
  width?: number;
  heads: number;
}

export interface ClipHeadConfig {
  /** 'open_clip config' or 'Hugging Face config.json', for messages. */
  source: string;
  vision: ClipTowerHeads | null;
  text: ClipTowerHeads | null;
}

/** The config file as its JSON text or its parsed value. */
export type ClipConfigInput = string | Record<string, unknown>;

type Dict = Record<string, unknown>;

const isDict = (v: unknown): v is Dict => typeof v === 'object' && v !== null && !Array.isArray(v);

function positiveInt(v: unknown, what: string, where: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new IncompatibleFileError(`${where}: ${what} must be a positive integer (got ${JSON.stringify(v)})`);
  return v;
}

export function parseClipConfig(input: ClipConfigInput, name = 'CLIP config'): ClipHeadConfig {
  let cfg: unknown = input;
  if (typeof input === 'string') {
    try {
      cfg = JSON.parse(input);
    } catch {
      throw new FormatError(`${name}: not a JSON file`);
    }
  }
  if (!isDict(cfg)) throw new IncompatibleFileError(`${name}: not a CLIP configuration (expected a JSON object)`);
  // open_clip: {"model_cfg": {...}} in open_clip_config.json on the Hub, or the bare model config.
  const oc = isDict(cfg.model_cfg) ? cfg.model_cfg : cfg;
  if (isDict(oc.vision_cfg)) {
    const where = `${name} (open_clip)`;
    const v = oc.vision_cfg;
    let vision: ClipTowerHeads | null = null;
    if (v.width !== undefined) {
      const width = positiveInt(v.width, 'vision_cfg.width', where);
      const headWidth = v.head_width === undefined ? 64 : positiveInt(v.head_width, 'vision_cfg.head_width', where);
      // open_clip: vision_heads = vision_cfg.width // vision_cfg.head_width
      vision = { width, heads: Math.floor(width / headWidth) };
    }
    let text: ClipTowerHeads | null = null;
    if (isDict(oc.text_cfg)) {
      const t = oc.text_cfg;
      text = {
        width: t.width === undefined ? 512 : positiveInt(t.width, 'text_cfg.width', where),
        heads: t.heads === undefined ? 8 : positiveInt(t.heads, 'text_cfg.heads', where),
      };
    }
    return { source: 'open_clip config', vision, text };
  }
  const hfTower = (d: Dict, defaults: { width: number; heads: number }, where: string): ClipTowerHeads => ({
    width: d.hidden_size === undefined ? defaults.width : positiveInt(d.hidden_size, 'hidden_size', where),
    heads: d.num_attention_heads === undefined ? defaults.heads : positiveInt(d.num_attention_heads, 'num_attention_heads', where),
  });
  if (isDict(cfg.vision_config) || cfg.model_type === 'clip' || cfg.model_type === 'clip_vision_model') {
    const where = `${name} (Hugging Face)`;
    const visionDict = isDict(cfg.vision_config) ? cfg.vision_config : cfg.model_type === 'clip_vision_model' ? cfg : {};
    const vision = hfTower(visionDict, { width: 768, heads: 12 }, `${where} vision_config`);
    const text = isDict(cfg.text_config) ? hfTower(cfg.text_config, { width: 512, heads: 8 }, `${where} text_config`) : null;
    return { source: 'Hugging Face config.json', vision, text };
  }
  throw new IncompatibleFileError(
    `${name}: not a CLIP configuration this app understands (expected an open_clip model config with vision_cfg, or a Hugging Face config.json with vision_config)`,
  );
}

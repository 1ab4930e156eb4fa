/**
 * CLIP's byte-level BPE tokenizer (openai/CLIP `simple_tokenizer.py`). The vocabulary
 * (`bpe_simple_vocab_16e6.txt`, merges list) is supplied by the caller; the product does not ship it.
 * Differences from the Python original: no `ftfy.fix_text` (mojibake repair); HTML entities are
 * unescaped for the common named and all numeric forms.
 */
import { SettingsError } from '../core/errors.ts';

export class ClipTokenizerError extends SettingsError {
  constructor(message: string) {
    super(message);
  }
}

const SOT = '<|startoftext|>';
const EOT = '<|endoftext|>';
/** Merges used by CLIP: lines 1 .. 49152−256−2 of the vocabulary file (line 0 is a version header). */
const NUM_MERGES = 49152 - 256 - 2;

/** GPT-2's reversible byte → printable-unicode map (bytes that are printable map to themselves). */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map = new Map<number, string>();
  bs.forEach((b, i) => map.set(b, String.fromCodePoint(cs[i])));
  return map;
}

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function htmlUnescape(s: string): string {
  return s.replace(/&(#[0-9]+|#[xX][0-9a-fA-F]+|[a-zA-Z]+);/g, (m, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    return NAMED_ENTITIES[body] ?? m;
  });
}

const TOKEN_PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

export class ClipTokenizer {
  private readonly byteEncoder = bytesToUnicode();
  private readonly encoder = new Map<string, number>();
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string>([[SOT, SOT], [EOT, EOT]]);
  readonly sotToken: number;
  readonly eotToken: number;

  /** `vocabText`: the (decompressed) contents of `bpe_simple_vocab_16e6.txt`. */
  constructor(vocabText: string) {
    const lines = vocabText.split('\n');
    if (lines.length < NUM_MERGES + 1) {
      throw new ClipTokenizerError(`BPE vocabulary has ${lines.length} lines; CLIP's needs at least ${NUM_MERGES + 1}`);
    }
    const merges = lines.slice(1, NUM_MERGES + 1).map((l, i) => {
      const parts = l.split(' ');
      if (parts.length !== 2) throw new ClipTokenizerError(`BPE vocabulary line ${i + 2} is not a merge pair: ${JSON.stringify(l)}`);
      return parts as [string, string];
    });
    const vocab = [...this.byteEncoder.values()];
    vocab.push(...vocab.map((v) => v + '</w>'));
    for (const [a, b] of merges) vocab.push(a + b);
    vocab.push(SOT, EOT);
    vocab.forEach((v, i) => this.encoder.set(v, i));
    merges.forEach(([a, b], i) => this.ranks.set(`${a} ${b}`, i));
    this.sotToken = this.encoder.get(SOT)!;
    this.eotToken = this.encoder.get(EOT)!;
  }

  get vocabSize(): number {
    return this.encoder.size;
  }

  private bpe(token: string): string {
    const cached = this.cache.get(token);
    if (cached !== undefined) return cached;
    const chars = Array.from(token);
    let word = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    if (word.length === 1) {
      this.cache.set(token, word[0]);
      return word[0];
    }
    for (;;) {
      let best: [string, string] | null = null;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = [word[i], word[i + 1]];
        }
      }
      if (!best) break;
      const [first, second] = best;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]);
          i += 1;
        }
      }
      word = merged;
      if (word.length === 1) break;
    }
    const out = word.join(' ');
    this.cache.set(token, out);
    return out;
  }

  /** Token ids of `text` without start/end tokens (Python `SimpleTokenizer.encode`). */
  encode(text: string): number[] {
    const cleaned = htmlUnescape(htmlUnescape(text)).trim().replace(/\s+/g, ' ').trim().toLowerCase();
    const ids: number[] = [];
    const utf8 = new TextEncoder();
    for (const m of cleaned.matchAll(TOKEN_PATTERN)) {
      const token = Array.from(utf8.encode(m[0]), (b) => this.byteEncoder.get(b)!).join('');
      for (const piece of this.bpe(token).split(' ')) {
        const id = this.encoder.get(piece);
        if (id === undefined) throw new ClipTokenizerError(`BPE piece ${JSON.stringify(piece)} is not in the vocabulary`);
        ids.push(id);
      }
    }
    return ids;
  }

  /**
   * `clip.tokenize`: `[SOT] + encode(text) + [EOT]`, zero-padded to `contextLength`; `[N·contextLength]`
   * row-major. Too-long texts are an error unless `truncate` (then the last kept token is EOT).
   */
  tokenize(texts: string[], contextLength = 77, truncate = false): Int32Array {
    const out = new Int32Array(texts.length * contextLength);
    texts.forEach((t, r) => {
      let ids = [this.sotToken, ...this.encode(t), this.eotToken];
      if (ids.length > contextLength) {
        if (!truncate) throw new ClipTokenizerError(`input ${JSON.stringify(t)} is too long for context length ${contextLength}`);
        ids = ids.slice(0, contextLength);
        ids[contextLength - 1] = this.eotToken;
      }
      out.set(ids, r * contextLength);
    });
    return out;
  }
}

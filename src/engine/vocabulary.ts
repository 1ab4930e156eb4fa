/**
 * CLIP's BPE vocabulary for the text tower (zero-shot runs, the prompt measures of the evaluation): the
 * user's `bpe_simple_vocab_16e6.txt(.gz)` from OpenAI's CLIP or a Hugging Face model's `merges.txt`
 * (the same merge list). The product does not ship it.
 */
import { maybeGunzip } from '../io/gzip.ts';
import { sha256OfSource } from '../io/sha256.ts';
import { BlobByteSource } from '../io/byte-source.ts';
import { ClipTokenizer, ClipTokenizerError } from '../clip/tokenizer.ts';
import { EngineError, type VocabularyInfo } from './types.ts';

/** Larger than any CLIP vocabulary file (OpenAI's is 1.3 MB gzipped, 1.7 MB plain; merges.txt 0.5 MB). */
const MAX_VOCABULARY_BYTES = 16 * 1024 * 1024;

export async function readVocabulary(file: Blob, name: string): Promise<{ tokenizer: ClipTokenizer; info: VocabularyInfo }> {
  if (file.size > MAX_VOCABULARY_BYTES) throw new EngineError('incompatible-file', `${name} (${file.size} bytes) is too large to be CLIP's BPE vocabulary`);
  const bytes = maybeGunzip(new Uint8Array(await file.arrayBuffer()), name);
  let tokenizer: ClipTokenizer;
  try {
    tokenizer = new ClipTokenizer(new TextDecoder('utf-8', { fatal: false }).decode(bytes));
  } catch (e) {
    if (e instanceof ClipTokenizerError) throw new EngineError('incompatible-file', `${name} is not CLIP's BPE vocabulary: ${e.message}`);
    throw e;
  }
  const sha256 = await sha256OfSource(new BlobByteSource(file, name));
  return { tokenizer, info: { name, sha256, tokens: tokenizer.vocabSize } };
}

/**
 * Where the structure of a fixture sits: the length and size fields of its headers (pickle opcode
 * arguments, the int64 element count of legacy storage blobs, zip local/central/end records, the
 * safetensors header length). The mutator aims most of its damage at these places, because a flip in
 * the middle of a weight tensor only changes a number while a lie in a length field tests the reader.
 *
 * These walkers are deliberately independent of the readers under test (src/io/*): they only locate
 * fields in known-good fixtures and never decide whether a file is valid.
 */

export interface Field {
  /** Absolute byte offset of the field. */
  at: number;
  /** Width in bytes (little-endian unless noted in `kind`). */
  width: 1 | 2 | 4 | 8;
  /** What the field is, e.g. 'pickle:BINBYTES.len', 'zip:central.compressedSize'. */
  kind: string;
}

/** A span of structural bytes (a pickle opcode stream, a zip directory, a JSON header). */
export interface Region {
  begin: number;
  end: number;
  kind: string;
}

export interface FieldMap {
  fields: Field[];
  regions: Region[];
}

const LEGACY_MAGIC_PREFIX = [0x80, 0x02, 0x8a, 0x0a];

/** Opcodes without arguments (protocols 2–5). */
const NO_ARG = new Set([
  0x28, 0x30, 0x31, 0x32, 0x94, 0x4e, 0x88, 0x89, 0x7d, 0x5d, 0x29, 0x8f, 0x64, 0x6c, 0x74, 0x85, 0x86, 0x87, 0x91, 0x73,
  0x75, 0x61, 0x65, 0x90, 0x93, 0x52, 0x81, 0x92, 0x62, 0x51,
]);
/** Opcodes with one fixed-size argument: opcode → [width, field name]. */
const FIXED: Record<number, [1 | 2 | 4 | 8, string]> = {
  0x80: [1, 'PROTO'],
  0x95: [8, 'FRAME'],
  0x71: [1, 'BINPUT'],
  0x72: [4, 'LONG_BINPUT'],
  0x68: [1, 'BINGET'],
  0x6a: [4, 'LONG_BINGET'],
  0x4a: [4, 'BININT'],
  0x4b: [1, 'BININT1'],
  0x4d: [2, 'BININT2'],
  0x47: [8, 'BINFLOAT'],
};
/** Length-prefixed opcodes: opcode → [prefix width, name]. */
const PREFIXED: Record<number, [1 | 4 | 8, string]> = {
  0x8a: [1, 'LONG1'],
  0x8b: [4, 'LONG4'],
  0x8c: [1, 'SHORT_BINUNICODE'],
  0x58: [4, 'BINUNICODE'],
  0x8d: [8, 'BINUNICODE8'],
  0x55: [1, 'SHORT_BINSTRING'],
  0x54: [4, 'BINSTRING'],
  0x43: [1, 'SHORT_BINBYTES'],
  0x42: [4, 'BINBYTES'],
  0x8e: [8, 'BINBYTES8'],
  0x96: [8, 'BYTEARRAY8'],
};
/** Newline-terminated text arguments: opcode → number of lines. */
const LINES: Record<number, number> = { 0x63: 2, 0x70: 1, 0x67: 1, 0x49: 1, 0x4c: 1, 0x46: 1, 0x50: 1 };

function readUint(b: Uint8Array, at: number, width: number): number {
  let v = 0;
  for (let k = width - 1; k >= 0; k--) v = v * 256 + b[at + k];
  return v;
}

/**
 * Walks one pickle opcode stream from `start` and records its fields; returns the offset after STOP
 * (or -1 when the stream cannot be walked). Byte strings that hold a nested legacy `torch.save` storage
 * blob are walked too (five pickles, then the int64 element count).
 */
export function walkPickle(b: Uint8Array, start: number, end: number, out: FieldMap, depth = 0): number {
  let p = start;
  while (p < end) {
    const op = b[p];
    const opAt = p;
    p++;
    if (op === 0x2e) {
      out.regions.push({ begin: start, end: p, kind: depth ? 'pickle:legacy-blob' : 'pickle' });
      return p;
    }
    if (NO_ARG.has(op)) continue;
    const fixed = FIXED[op];
    if (fixed) {
      out.fields.push({ at: p, width: fixed[0], kind: `pickle:${fixed[1]}` });
      p += fixed[0];
      continue;
    }
    const prefixed = PREFIXED[op];
    if (prefixed) {
      const [w, name] = prefixed;
      if (p + w > end) return -1;
      const n = readUint(b, p, w);
      out.fields.push({ at: p, width: w, kind: `pickle:${name}.len` });
      const payload = p + w;
      if (payload + n > end) return -1;
      if ((op === 0x42 || op === 0x8e || op === 0x43) && depth === 0 && n > 16 && LEGACY_MAGIC_PREFIX.every((x, k) => b[payload + k] === x)) {
        walkLegacyBlob(b, payload, payload + n, out);
      }
      p = payload + n;
      continue;
    }
    const lines = LINES[op];
    if (lines) {
      for (let k = 0; k < lines; k++) {
        const nl = b.indexOf(0x0a, p);
        if (nl < 0 || nl >= end) return -1;
        p = nl + 1;
      }
      continue;
    }
    void opAt;
    return -1;
  }
  return -1;
}

/** A legacy storage blob: magic, protocol, sys info, storage id, key list, then int64 numel + data. */
function walkLegacyBlob(b: Uint8Array, begin: number, end: number, out: FieldMap): void {
  let p = begin;
  for (let k = 0; k < 5; k++) {
    p = walkPickle(b, p, end, out, 1);
    if (p < 0) return;
  }
  if (p + 8 <= end) out.fields.push({ at: p, width: 8, kind: 'legacy-blob:numel' });
}

/** The safetensors header length and the JSON header. */
export function safetensorsFields(b: Uint8Array): FieldMap {
  const n = readUint(b, 0, 8);
  return { fields: [{ at: 0, width: 8, kind: 'safetensors:header-length' }], regions: [{ begin: 8, end: 8 + n, kind: 'safetensors:header' }] };
}

/** End record, central directory, local headers, and the pickles (`data.pkl`, `constants.pkl`) stored in a zip. */
export function zipFields(b: Uint8Array): FieldMap {
  const out: FieldMap = { fields: [], regions: [] };
  let eocd = -1;
  for (let p = b.length - 22; p >= Math.max(0, b.length - 22 - 65535); p--) {
    if (b[p] === 0x50 && b[p + 1] === 0x4b && b[p + 2] === 0x05 && b[p + 3] === 0x06) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) return out;
  out.regions.push({ begin: eocd, end: b.length, kind: 'zip:eocd' });
  out.fields.push(
    { at: eocd + 8, width: 2, kind: 'zip:eocd.entriesOnDisk' },
    { at: eocd + 10, width: 2, kind: 'zip:eocd.entries' },
    { at: eocd + 12, width: 4, kind: 'zip:eocd.cdSize' },
    { at: eocd + 16, width: 4, kind: 'zip:eocd.cdOffset' },
    { at: eocd + 20, width: 2, kind: 'zip:eocd.commentLength' },
  );
  const count = readUint(b, eocd + 10, 2);
  const cdSize = readUint(b, eocd + 12, 4);
  const cdOffset = readUint(b, eocd + 16, 4);
  out.regions.push({ begin: cdOffset, end: cdOffset + cdSize, kind: 'zip:central' });
  let p = cdOffset;
  for (let k = 0; k < count && p + 46 <= b.length; k++) {
    const method = readUint(b, p + 10, 2);
    const nameLength = readUint(b, p + 28, 2);
    const extraLength = readUint(b, p + 30, 2);
    const commentLength = readUint(b, p + 32, 2);
    const lho = readUint(b, p + 42, 4);
    const name = new TextDecoder().decode(b.subarray(p + 46, p + 46 + nameLength));
    out.fields.push(
      { at: p + 10, width: 2, kind: 'zip:central.method' },
      { at: p + 20, width: 4, kind: 'zip:central.compressedSize' },
      { at: p + 24, width: 4, kind: 'zip:central.uncompressedSize' },
      { at: p + 28, width: 2, kind: 'zip:central.nameLength' },
      { at: p + 30, width: 2, kind: 'zip:central.extraLength' },
      { at: p + 42, width: 4, kind: 'zip:central.localHeaderOffset' },
      { at: lho + 18, width: 4, kind: 'zip:local.compressedSize' },
      { at: lho + 22, width: 4, kind: 'zip:local.uncompressedSize' },
      { at: lho + 26, width: 2, kind: 'zip:local.nameLength' },
      { at: lho + 28, width: 2, kind: 'zip:local.extraLength' },
    );
    const dataAt = lho + 30 + readUint(b, lho + 26, 2) + readUint(b, lho + 28, 2);
    out.regions.push({ begin: lho, end: dataAt, kind: 'zip:local' });
    if (method === 0 && /(^|\/)(data|constants)\.pkl$/.test(name)) {
      walkPickle(b, dataAt, dataAt + readUint(b, p + 24, 4), out);
    }
    p += 46 + nameLength + extraLength + commentLength;
  }
  return out;
}

/** Fields of a whole pickle file (an EG3D network pickle). */
export function pickleFields(b: Uint8Array): FieldMap {
  const out: FieldMap = { fields: [], regions: [] };
  walkPickle(b, 0, b.length, out);
  return out;
}

/**
 * Cache-blocked layout permutations on the CPU, used once at load to turn PyTorch weight layouts into the
 * port's (FC `[out,in]` → `[in,out]`, conv `[out,in,kh,kw]` → `[kh,kw,in,out]`). A naive element loop over
 * the destination strides through the source a row at a time and misses the cache on every element of a
 * large matrix; tiles of BLOCK × BLOCK keep both sides in L1.
 */

const BLOCK = 64;

/**
 * Row-major `[a, b, k]` → `[k, b, a]`: `dst[(j·b + i)·a + o] = src[(o·b + i)·k + j]`. Tiles of BLOCK × BLOCK
 * (o, i) pairs; inside a tile, per j and i, the destination row segment is written contiguously while the
 * source is read with stride b·k (one cache line per o, reused by the next i and j). Against the former
 * strided 2-D transpose per j (a throwaway micro-benchmark on the 2-core VM, idle): 3.6–4.1 → 1.8–2.0 ns per
 * value for 3 × 3 convs of 256–512 channels, 2.0 → 1.7–1.8 for FC matrices; the full-size load's layout pass
 * 145–194 → 115–128 ms (docs/benchmarks.md).
 */
function permuteOuterInner(src: Float32Array, a: number, b: number, k: number): Float32Array {
  const dst = new Float32Array(src.length);
  const ab = a * b;
  const step = b * k;
  for (let o0 = 0; o0 < a; o0 += BLOCK) {
    const o1 = Math.min(a, o0 + BLOCK);
    for (let i0 = 0; i0 < b; i0 += BLOCK) {
      const i1 = Math.min(b, i0 + BLOCK);
      for (let j = 0; j < k; j++) {
        for (let i = i0; i < i1; i++) {
          const d = j * ab + i * a;
          let s = (o0 * b + i) * k + j;
          for (let o = o0; o < o1; o++, s += step) dst[d + o] = src[s];
        }
      }
    }
  }
  return dst;
}

/** Row-major `[rows, cols]` → `[cols, rows]`. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  if (src.length !== rows * cols) throw new RangeError(`transpose2d: ${src.length} values for [${rows}, ${cols}]`);
  return permuteOuterInner(src, rows, cols, 1);
}

/** Row-major `[a, b, k]` → `[k, b, a]` (conv `[out,in,kh·kw]` → `[kh·kw,in,out]`). */
export function transposeOuterInner(src: Float32Array, a: number, b: number, k: number): Float32Array {
  if (src.length !== a * b * k) throw new RangeError(`transposeOuterInner: ${src.length} values for [${a}, ${b}, ${k}]`);
  return permuteOuterInner(src, a, b, k);
}

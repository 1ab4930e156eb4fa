/**
 * Cache-blocked layout permutations on the CPU, used once at load to turn PyTorch weight layouts into the
 * port's (FC `[out,in]` → `[in,out]`, conv `[out,in,kh,kw]` → `[kh,kw,in,out]`). A naive element loop over
 * the destination strides through the source a row at a time and misses the cache on every element of a
 * large matrix; tiles of BLOCK × BLOCK keep both sides in L1.
 */

const BLOCK = 32;

/**
 * `dst[dstOffset + c·rows + r] = src[srcOffset + r·rowStride + c·colStride]` for r < rows, c < cols:
 * the transpose of a (possibly strided) `rows × cols` matrix into a contiguous `cols × rows` one.
 */
export function transposeStridedInto(
  src: Float32Array,
  srcOffset: number,
  rows: number,
  cols: number,
  rowStride: number,
  colStride: number,
  dst: Float32Array,
  dstOffset: number,
): void {
  for (let r0 = 0; r0 < rows; r0 += BLOCK) {
    const r1 = Math.min(rows, r0 + BLOCK);
    for (let c0 = 0; c0 < cols; c0 += BLOCK) {
      const c1 = Math.min(cols, c0 + BLOCK);
      for (let r = r0; r < r1; r++) {
        const s = srcOffset + r * rowStride;
        let d = dstOffset + c0 * rows + r;
        for (let c = c0; c < c1; c++, d += rows) dst[d] = src[s + c * colStride];
      }
    }
  }
}

/** Row-major `[rows, cols]` → `[cols, rows]`. */
export function transpose2d(src: Float32Array, rows: number, cols: number): Float32Array {
  if (src.length !== rows * cols) throw new RangeError(`transpose2d: ${src.length} values for [${rows}, ${cols}]`);
  const dst = new Float32Array(src.length);
  transposeStridedInto(src, 0, rows, cols, cols, 1, dst, 0);
  return dst;
}

/**
 * Row-major `[a, b, k]` → `[k, b, a]` (conv `[out,in,kh·kw]` → `[kh·kw,in,out]`): for each k, the strided
 * `a × b` slice `src[·,·,k]` is transposed into the contiguous block `dst[k]`.
 */
export function transposeOuterInner(src: Float32Array, a: number, b: number, k: number): Float32Array {
  if (src.length !== a * b * k) throw new RangeError(`transposeOuterInner: ${src.length} values for [${a}, ${b}, ${k}]`);
  const dst = new Float32Array(src.length);
  for (let j = 0; j < k; j++) transposeStridedInto(src, j, a, b, b * k, k, dst, j * a * b);
  return dst;
}

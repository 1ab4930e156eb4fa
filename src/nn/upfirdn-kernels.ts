/**
 * Plain-TS twins (float64) of the fused up-sampling kernels in upfirdn-webgpu.ts: the same NHWC
 * data, outputs and formulas. They are tested against the generic tf-op path of upfirdn.ts on the
 * cpu/wasm backends (upfirdn-kernels.test.ts), and the WGSL kernels against them.
 *
 *  - `upsample2dForward`: StyleGAN2's upfirdn2d.upsample2d with f = [1,3,3,1], polyphase per axis
 *    with zero padding: out[2q] = (x[q−1] + 3x[q])/4, out[2q+1] = (3x[q] + x[q+1])/4; both axes at
 *    once, i.e. out[oy, ox] = Σ wy·wx·x[iy, ix] over the 2×2 input pixels the output pixel reads.
 *  - `upsample2dBackward`: the adjoint. Per axis, input q was read by outputs 2q−1 (weight 1/4),
 *    2q (3/4), 2q+1 (3/4) and 2q+2 (1/4): dx[q] = (g[2q−1] + 3g[2q] + 3g[2q+1] + g[2q+2])/4 with g
 *    zero outside [0, 2n); in 2-D the outer product of these over a 4×4 block of output gradients.
 */

/** The per-axis taps (offset from q, weight) output o = 2q + phase reads: phase 0 → q−1, q; phase 1 → q, q+1. */
export function upsampleTaps(o: number): Array<[number, number]> {
  const q = o >> 1;
  return o % 2 === 0 ? [[q - 1, 0.25], [q, 0.75]] : [[q, 0.75], [q + 1, 0.25]];
}

/** The per-axis adjoint taps of input q: (output index, weight). */
export function upsampleAdjointTaps(q: number): Array<[number, number]> {
  return [[2 * q - 1, 0.25], [2 * q, 0.75], [2 * q + 1, 0.75], [2 * q + 2, 0.25]];
}

/** upsample2d of NHWC `[n, h, w, c]` data → `[n, 2h, 2w, c]`. */
export function upsample2dForward(x: ArrayLike<number>, [n, h, w, c]: readonly number[]): Float64Array {
  const H = 2 * h;
  const W = 2 * w;
  const out = new Float64Array(n * H * W * c);
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < H; oy++) {
      for (let ox = 0; ox < W; ox++) {
        const base = ((b * H + oy) * W + ox) * c;
        for (const [iy, wy] of upsampleTaps(oy)) {
          if (iy < 0 || iy >= h) continue;
          for (const [ix, wx] of upsampleTaps(ox)) {
            if (ix < 0 || ix >= w) continue;
            const src = ((b * h + iy) * w + ix) * c;
            for (let ch = 0; ch < c; ch++) out[base + ch] += wy * wx * x[src + ch];
          }
        }
      }
    }
  }
  return out;
}

/** ∂L/∂x `[n, h, w, c]` of upsample2d given ∂L/∂y `dy` `[n, 2h, 2w, c]` (x's shape passed). */
export function upsample2dBackward(dy: ArrayLike<number>, [n, h, w, c]: readonly number[]): Float64Array {
  const H = 2 * h;
  const W = 2 * w;
  const out = new Float64Array(n * h * w * c);
  for (let b = 0; b < n; b++) {
    for (let iy = 0; iy < h; iy++) {
      for (let ix = 0; ix < w; ix++) {
        const base = ((b * h + iy) * w + ix) * c;
        for (const [oy, wy] of upsampleAdjointTaps(iy)) {
          if (oy < 0 || oy >= H) continue;
          for (const [ox, wx] of upsampleAdjointTaps(ix)) {
            if (ox < 0 || ox >= W) continue;
            const src = ((b * H + oy) * W + ox) * c;
            for (let ch = 0; ch < c; ch++) out[base + ch] += wy * wx * dy[src + ch];
          }
        }
      }
    }
  }
  return out;
}

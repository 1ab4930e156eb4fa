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
 *  - `upConvLowpassForward` / `upConvLowpassBackward`: the up-sampling conv's tail (upfirdn.ts
 *    `upConvLowpass`) and its adjoint.
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

/** The up-sampling conv's low-pass taps per axis, 2·[1,3,3,1]/8. */
export const UPCONV_TAPS = [0.25, 0.75, 0.75, 0.25];

/**
 * upConvLowpass: the four phases (00, 01, 10, 11; each `[n, H+1, W+1, c]`, `phaseShape`) interleaved
 * into y' (2H+2 × 2W+2) and low-passed, out[oy, ox] = Σ_ij t_i t_j y'[oy+i−1, ox+j−1] (y' zero at −1)
 * → `[n, 2H, 2W, c]`.
 */
export function upConvLowpassForward(phases: ArrayLike<number>[], [n, ph, pw, c]: readonly number[]): Float64Array {
  const H = 2 * (ph - 1);
  const W = 2 * (pw - 1);
  const yAt = (b: number, a: number, e: number, ch: number) => {
    if (a < 0 || e < 0) return 0;
    return phases[(a % 2) * 2 + (e % 2)][((b * ph + (a >> 1)) * pw + (e >> 1)) * c + ch];
  };
  const out = new Float64Array(n * H * W * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < H; oy++)
      for (let ox = 0; ox < W; ox++)
        for (let ch = 0; ch < c; ch++) {
          let s = 0;
          for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += UPCONV_TAPS[i] * UPCONV_TAPS[j] * yAt(b, oy + i - 1, ox + j - 1, ch);
          out[((b * H + oy) * W + ox) * c + ch] = s;
        }
  return out;
}

/**
 * The adjoint: ∂L/∂phase_{py,px}[a, e] = Σ_ij t_i t_j dy[2a+py+1−i, 2e+px+1−j] (dy zero outside
 * [0, 2H) × [0, 2W)); the four phases in order 00, 01, 10, 11, each `[n, H+1, W+1, c]`.
 */
export function upConvLowpassBackward(dy: ArrayLike<number>, [n, ph, pw, c]: readonly number[]): Float64Array[] {
  const H = 2 * (ph - 1);
  const W = 2 * (pw - 1);
  return [0, 1, 2, 3].map((p) => {
    const py = p >> 1;
    const px = p & 1;
    const out = new Float64Array(n * ph * pw * c);
    for (let b = 0; b < n; b++)
      for (let a = 0; a < ph; a++)
        for (let e = 0; e < pw; e++)
          for (let ch = 0; ch < c; ch++) {
            let s = 0;
            for (let i = 0; i < 4; i++) {
              const oy = 2 * a + py + 1 - i;
              if (oy < 0 || oy >= H) continue;
              for (let j = 0; j < 4; j++) {
                const ox = 2 * e + px + 1 - j;
                if (ox < 0 || ox >= W) continue;
                s += UPCONV_TAPS[i] * UPCONV_TAPS[j] * dy[((b * H + oy) * W + ox) * c + ch];
              }
            }
            out[((b * ph + a) * pw + e) * c + ch] = s;
          }
    return out;
  });
}

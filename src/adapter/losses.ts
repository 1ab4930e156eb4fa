/**
 * The four 3D-Adapter losses (spec Part C.4) as plain functions on tensors. Each returns a scalar
 * and is differentiable with respect to its "adapted" inputs; the source / reference inputs are
 * treated as constants by the caller (they are computed outside the gradient scope).
 *
 * Shapes: embeddings `[N, D]`, tokens `[N, n, d]`, images NHWC `[N, S, S, 3]` in [−1, 1],
 * rendered feature images NHWC `[N, R, R, C]`.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Bare numerical guard of the L_dir normalisation (`x / max(|x|, eps)`), as in PyTorch's F.normalize.
 * By default L_dir is the plain cosine of DiFa / DoRM; the one place its direction is exactly zero —
 * the first iteration, when the adapted generator still equals the source — is handled as DoRM does
 * (the trainer re-encodes the adapted image + `DORM_ZERO_DIRECTION_NUDGE`, see trainer.ts). The
 * optional `directionFloor` (method option) instead leaves directions shorter than the floor
 * unnormalised; docs/method.md gives the measurement that decides between them.
 */
export const DIRECTION_EPS = 1e-6;

/** DoRM / StyleGAN-NADA: when E(I_t) − E(I_s) is exactly 0, encode I_t + 1e-6 instead. */
export const DORM_ZERO_DIRECTION_NUDGE = 1e-6;

/**
 * PyTorch's F.normalize: x / max(‖x‖₂, eps) along the last axis. Written as
 * x / sqrt(max(Σx², eps²)) so the gradient stays finite at x = 0 (sqrt'(0) is infinite).
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.maximum(tf.sum(tf.square(x), -1, true), eps * eps));
    return tf.div(x, norm) as T;
  });
}

/**
 * Normalised mean of normalised embeddings (DoRM's μ_s): `normalize(mean_n normalize(e_n))`.
 * `embeddings` [N, D] → [D].
 */
export function meanDirection(embeddings: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => l2Normalize(tf.mean(l2Normalize(embeddings), 0)) as tf.Tensor1D);
}

/** Δ_ref = normalize(E(I_ref) − μ_s); `refEmbedding` [D] or [1, D], `sourceMean` [D] → [D]. */
export function referenceDirection(refEmbedding: tf.Tensor, sourceMean: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => l2Normalize(tf.sub(tf.reshape(refEmbedding, [-1]), sourceMean), DIRECTION_EPS) as tf.Tensor1D);
}

/**
 * L_dir (DDR): mean_n (1 − cos(normalize(E(I_t,n) − E(I_s,n)), Δ_ref)).
 * `adapted`, `source` [N, D] (embeddings, normalised or not — only their difference matters);
 * `refDirection` [D], unit length; `floor` 0 (or anything ≤ DIRECTION_EPS) = plain cosine with the
 * DIRECTION_EPS guard; > 0 = directions shorter than `floor` are not normalised (`Δ / max(|Δ|, floor)`).
 */
export function lossDirection(adapted: tf.Tensor2D, source: tf.Tensor2D, refDirection: tf.Tensor1D, floor = 0): tf.Scalar {
  return tf.tidy(() => {
    const delta = l2Normalize(tf.sub(adapted, source), Math.max(floor, DIRECTION_EPS));
    const cos = tf.sum(tf.mul(delta, refDirection), -1); // [N]
    return tf.mean(tf.sub(1, cos)) as tf.Scalar;
  });
}

/** Cosine cost matrix C_ij = 1 − â_i·r̂_j: `a` [N, n, d], `r` [m, d] → [N, n, m]. */
export function cosineCost(a: tf.Tensor3D, r: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const an = l2Normalize(a);
    const rn = l2Normalize(r);
    const [N, n, d] = a.shape;
    const sim = tf.reshape(tf.matMul(tf.reshape(an, [N * n, d]), rn, false, true), [N, n, r.shape[0]]);
    return tf.sub(1, sim) as tf.Tensor3D;
  });
}

/**
 * Euclidean cost matrix C_ij = ‖a_i − r_j‖₂: `a` [N, n, d], `r` [m, d] → [N, n, m]. Computed as
 * sqrt(max(|a|² + |r|² − 2a·r, eps²)) so the gradient stays finite where two tokens coincide.
 */
export function euclideanCost(a: tf.Tensor3D, r: tf.Tensor2D, eps = 1e-4): tf.Tensor3D {
  return tf.tidy(() => {
    const [N, n, d] = a.shape;
    const a2 = tf.reshape(a, [N * n, d]);
    const aa = tf.sum(tf.square(a2), 1, true); // [N·n, 1]
    const rr = tf.reshape(tf.sum(tf.square(r), 1), [1, -1]); // [1, m]
    const d2 = tf.sub(tf.add(aa, rr), tf.mul(2, tf.matMul(a2, r, false, true)));
    return tf.reshape(tf.sqrt(tf.maximum(d2, eps * eps)), [N, n, r.shape[0]]) as tf.Tensor3D;
  });
}

export type RemdMetric = 'cosine' | 'euclidean';

/**
 * L_dis (TDL): relaxed Earth Mover's Distance (Kolkin et al.) between the adapted tokens of each
 * sample and the reference tokens: max(mean_i min_j C_ij, mean_j min_i C_ij), averaged over the
 * batch. `adapted` [N, n, d]; `reference` [m, d] or [1, m, d]. `metric` 'cosine' (feature tokens,
 * C = 1 − cos) or 'euclidean' (STROTSS's colour term, C = ‖a − r‖₂).
 */
export function lossRemd(adapted: tf.Tensor3D, reference: tf.Tensor, metric: RemdMetric = 'cosine'): tf.Scalar {
  return tf.tidy(() => {
    const ref = tf.reshape(reference, [-1, adapted.shape[2]]) as tf.Tensor2D;
    const cost = metric === 'cosine' ? cosineCost(adapted, ref) : euclideanCost(adapted, ref);
    const rowTerm = tf.mean(tf.min(cost, 2), 1); // each adapted token → nearest reference token
    const colTerm = tf.mean(tf.min(cost, 1), 1); // each reference token → nearest adapted token
    return tf.mean(tf.maximum(rowTerm, colTerm)) as tf.Scalar;
  });
}

/** Cosine self-similarity matrices of token sets: `tokens` [N, n, d] → [N, n, n]. */
export function selfSimilarity(tokens: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const t = l2Normalize(tokens);
    return tf.matMul(t, t, false, true) as tf.Tensor3D;
  });
}

export type FeatureStructureMode = 'selfsim-mse' | 'selfsim-l1';
export const FEATURE_STRUCTURE_MODES: readonly FeatureStructureMode[] = ['selfsim-mse', 'selfsim-l1'];

/**
 * L_F-str (FSSM): distance between the token self-similarity matrices of adapted and source images
 * (DoRM's similarity-based structure loss). 'selfsim-mse' = mean squared difference (DoRM's code),
 * 'selfsim-l1' = mean absolute difference (DoRM++ write-up). Both averaged over N·n².
 */
export function lossFeatureStructure(adapted: tf.Tensor3D, source: tf.Tensor3D, mode: FeatureStructureMode = 'selfsim-mse'): tf.Scalar {
  return tf.tidy(() => {
    const diff = tf.sub(selfSimilarity(adapted), selfSimilarity(source));
    return (mode === 'selfsim-mse' ? tf.mean(tf.square(diff)) : tf.mean(tf.abs(diff))) as tf.Scalar;
  });
}

/**
 * Area (box) down-sampling of an NHWC image by the largest integer factor that keeps at least
 * `minSize` pixels per side (identity when the image is already ≤ minSize).
 */
export function areaDownsample(images: tf.Tensor4D, minSize: number): tf.Tensor4D {
  const size = Math.min(images.shape[1], images.shape[2]);
  const k = Math.max(1, Math.floor(size / minSize));
  if (k === 1) return tf.clone(images);
  return tf.avgPool(images, k, k, 'valid');
}

export type ImageStructureMode = 'lowres-l1' | 'lowres-l1-standardized' | 'feature-selfsim';
export const IMAGE_STRUCTURE_MODES: readonly ImageStructureMode[] = ['lowres-l1', 'lowres-l1-standardized', 'feature-selfsim'];

/**
 * L_I-str 'lowres-l1' (ISSM default): mean |down(I_t) − down(I_s)| with area down-sampling to
 * 64² — keeps the low-frequency layout (pose, shape, shading) of the source while leaving the
 * high frequencies (texture, strokes) free to change. `standardized` ('lowres-l1-standardized'):
 * each image's channels are first brought to zero mean and unit spread over its pixels, so the
 * layout is kept while any per-channel gain and offset — a global colour change, Reinhard's colour
 * transfer — costs nothing.
 */
export function lossImageStructureLowres(adapted: tf.Tensor4D, source: tf.Tensor4D, size = 64, standardized = false): tf.Scalar {
  return tf.tidy(() => {
    const prepare = (x: tf.Tensor4D) => {
      const d = areaDownsample(x, size);
      if (!standardized) return d;
      const { mean, variance } = tf.moments(d, [1, 2], true);
      return tf.div(tf.sub(d, mean), tf.sqrt(tf.add(variance, STANDARDIZE_EPS)));
    };
    return tf.mean(tf.abs(tf.sub(prepare(adapted), prepare(source)))) as tf.Scalar;
  });
}

/** Variance guard of the standardised L_I-str (colours in [−1, 1]: a flat channel's spread is ≪ this). */
const STANDARDIZE_EPS = 1e-4;

/**
 * L_I-str 'feature-selfsim': cosine self-similarity of the rendered 32-channel feature image,
 * area-pooled to at most `grid`² positions, L1 between adapted and source. It constrains the
 * spatial layout of what Tri-D renders; G2 cannot change the rendered features, so in step 2 this
 * term is a constant (zero gradient).
 */
export function lossImageStructureFeatureSelfSim(adaptedFeatures: tf.Tensor4D, sourceFeatures: tf.Tensor4D, grid = 32): tf.Scalar {
  return tf.tidy(() => {
    const toTokens = (f: tf.Tensor4D) => {
      const p = areaDownsample(f, grid);
      const [N, H, W, C] = p.shape;
      return tf.reshape(p, [N, H * W, C]) as tf.Tensor3D;
    };
    const diff = tf.sub(selfSimilarity(toTokens(adaptedFeatures)), selfSimilarity(toTokens(sourceFeatures)));
    return tf.mean(tf.abs(diff)) as tf.Scalar;
  });
}

// ---------------------------------------------------------------------------------------------
// Hypercolumns (STROTSS, Kolkin et al. 2019): L_dis on features of several encoder blocks at
// sampled image positions, plus the pixel colour there, instead of one block's token grid.

/**
 * `n` distinct cells of a `side`×`side` grid drawn without replacement (all cells when n ≥ side²),
 * as points (x, y) in [0, 1]² at the cell centres: `[n·2]`, x first.
 */
export function samplePoints(rng: { next(): number }, side: number, n: number): Float32Array {
  const cells = side * side;
  const take = Math.min(n, cells);
  const order = Int32Array.from({ length: cells }, (_, i) => i);
  // Partial Fisher–Yates: the first `take` entries become a uniform sample without replacement.
  for (let i = 0; i < take; i++) {
    const j = i + Math.floor(rng.next() * (cells - i));
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  const out = new Float32Array(take * 2);
  for (let k = 0; k < take; k++) {
    out[2 * k] = ((order[k] % side) + 0.5) / side;
    out[2 * k + 1] = (Math.floor(order[k] / side) + 0.5) / side;
  }
  return out;
}

/** Every cell centre of a `side`×`side` grid (row-major), as points `[side²·2]`. */
export function gridPoints(side: number): Float32Array {
  const out = new Float32Array(side * side * 2);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      out[2 * (y * side + x)] = (x + 0.5) / side;
      out[2 * (y * side + x) + 1] = (y + 0.5) / side;
    }
  }
  return out;
}

/** The points (x, y pairs in [0, 1]) that lie in `box` (fractions of the side) and those that do not, each in order. */
export function pointsByBox(points: Float32Array, box: { x: number; y: number; width: number; height: number }): { inside: Float32Array; outside: Float32Array } {
  const inside: number[] = [];
  const outside: number[] = [];
  for (let i = 0; i < points.length; i += 2) {
    const x = points[i];
    const y = points[i + 1];
    (x >= box.x && x < box.x + box.width && y >= box.y && y < box.y + box.height ? inside : outside).push(x, y);
  }
  return { inside: new Float32Array(inside), outside: new Float32Array(outside) };
}

/**
 * Row-major `[P, h·w]` matrix of bilinear interpolation weights of an `h`×`w` map at the points
 * (x, y in [0, 1]², pixel centres at (i + 0.5)/size, edges clamped — `align_corners=False`).
 */
export function bilinearSampleMatrix(points: Float32Array, h: number, w: number): Float32Array {
  const p = points.length / 2;
  const m = new Float32Array(p * h * w);
  const axis = (u: number, size: number): [number, number, number] => {
    const s = Math.min(Math.max(u * size - 0.5, 0), size - 1);
    const i0 = Math.floor(s);
    const i1 = Math.min(i0 + 1, size - 1);
    return [i0, i1, s - i0];
  };
  for (let k = 0; k < p; k++) {
    const [x0, x1, fx] = axis(points[2 * k], w);
    const [y0, y1, fy] = axis(points[2 * k + 1], h);
    const row = k * h * w;
    m[row + y0 * w + x0] += (1 - fy) * (1 - fx);
    m[row + y0 * w + x1] += (1 - fy) * fx;
    m[row + y1 * w + x0] += fy * (1 - fx);
    m[row + y1 * w + x1] += fy * fx;
  }
  return m;
}

/** Bilinear samples of an NHWC map at the points: `[N, h, w, c]` → `[N, P, c]` (a matMul: differentiable everywhere). */
export function sampleAt(map: tf.Tensor4D, points: Float32Array): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, c] = map.shape;
    const p = points.length / 2;
    const s = tf.tensor2d(bilinearSampleMatrix(points, h, w), [p, h * w]);
    // [N, h·w, c] → [h·w, N·c] so one matMul serves the whole batch.
    const flat = tf.reshape(tf.transpose(tf.reshape(map, [n, h * w, c]), [1, 0, 2]), [h * w, n * c]);
    return tf.transpose(tf.reshape(tf.matMul(s, flat), [p, n, c]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/**
 * Hypercolumn tokens: each map sampled at the points and L2-normalised per map, scaled by 1/√K and
 * concatenated — so the cosine of two hypercolumns is the mean of the K per-block cosines and no
 * block dominates by its channel count or magnitude. `maps` K × `[N, h_k, w_k, c_k]` → `[N, P, Σc_k]`.
 */
export function hypercolumnTokens(maps: readonly tf.Tensor4D[], points: Float32Array): tf.Tensor3D {
  return tf.tidy(() => {
    const scale = 1 / Math.sqrt(maps.length);
    const parts = maps.map((m) => tf.mul(l2Normalize(sampleAt(m, points)), scale));
    return (parts.length === 1 ? parts[0] : tf.concat(parts, 2)) as tf.Tensor3D;
  });
}

/**
 * Colour tokens: the RGB of NHWC images in [−1, 1], area-down-sampled to at most `size`² (colour at
 * the scale of the hypercolumn grid, not single noisy pixels), sampled at the points → `[N, P, 3]`.
 */
export function colourTokens(images: tf.Tensor4D, points: Float32Array, size: number): tf.Tensor3D {
  return tf.tidy(() => sampleAt(areaDownsample(images, size), points));
}

/**
 * STROTSS's moment term ℓ_m (Kolkin et al. 2019, eq. 4) between two point sets, per sample:
 * (1/d)·‖μ_a − μ_r‖₁ + (1/d²)·‖Σ_a − Σ_r‖₁, averaged over the batch. Unlike the REMD, which matches
 * every point to its nearest counterpart (it takes the reference's colours, not their proportions),
 * the moments pull the whole distribution — its mean and spread — toward the reference's.
 * `adapted` [N, n, d]; `reference` [m, d] or [1, m, d] (a constant); `weights` [N, n, 1] (optional,
 * ≥ 0, a constant): the adapted moments are weighted means over the points (e.g. the foreground).
 */
export function lossMoments(adapted: tf.Tensor3D, reference: tf.Tensor, weights?: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const [N, n, d] = adapted.shape;
    const ref = tf.reshape(reference, [-1, d]) as tf.Tensor2D;
    const m = ref.shape[0];
    const muR = tf.mean(ref, 0, true); // [1, d]
    const rc = tf.sub(ref, muR);
    const covR = tf.div(tf.matMul(rc, rc, true, false), m); // [d, d]
    // Normalised point weights per sample (uniform without `weights`).
    const w = weights ? tf.div(weights, tf.maximum(tf.sum(weights, 1, true), 1e-6)) : tf.fill([N, n, 1], 1 / n);
    const muA = tf.sum(tf.mul(adapted, w), 1, true); // [N, 1, d]
    const ac = tf.sub(adapted, muA);
    const covA = tf.matMul(tf.mul(ac, w), ac, true, false); // [N, d, d]
    const meanTerm = tf.div(tf.sum(tf.abs(tf.sub(tf.reshape(muA, [N, d]), muR)), 1), d); // [N]
    const covTerm = tf.div(tf.sum(tf.abs(tf.sub(covA, tf.reshape(covR, [1, d, d]))), [1, 2]), d * d); // [N]
    return tf.mean(tf.add(meanTerm, covTerm)) as tf.Scalar;
  });
}

/**
 * Soft foreground of rendered depth maps `[N, R, R, 1]` → `[N, R, R, 1]` in (0, 1): pixels in front of
 * the midpoint between each map's nearest and farthest depth (the head before the backdrop / far end),
 * with a sigmoid edge 5 % of the depth range wide. Tensor ops only: no read-back in the training loop.
 */
export function softForeground(depth: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const lo = tf.min(depth, [1, 2, 3], true);
    const hi = tf.max(depth, [1, 2, 3], true);
    const mid = tf.div(tf.add(lo, hi), 2);
    const width = tf.add(tf.mul(tf.sub(hi, lo), 0.05), 1e-6);
    return tf.sigmoid(tf.div(tf.sub(mid, depth), width)) as tf.Tensor4D;
  });
}

/**
 * `count` unit directions in d = 3 spread evenly over a hemisphere (a Fibonacci lattice): the fixed
 * projections of the sliced colour distance (a direction and its opposite give the same 1-D distance).
 */
export function hemisphereDirections(count: number): Float32Array {
  const out = new Float32Array(count * 3);
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let k = 0; k < count; k++) {
    const z = 1 - (k + 0.5) / count; // (0, 1): the upper hemisphere
    const r = Math.sqrt(1 - z * z);
    out[k * 3] = r * Math.cos(golden * k);
    out[k * 3 + 1] = r * Math.sin(golden * k);
    out[k * 3 + 2] = z;
  }
  return out;
}

/**
 * The reference side of the sliced colour distance: the reference points `[m, d]` (or `[1, m, d]`)
 * projected on `projections` `[K, d]`, each projection's values in ascending order → `[K, m]`. A
 * constant per reference and projection set: computed once, not every iteration (on webgpu a sort is
 * a few dozen dispatches).
 */
export function slicedReference(reference: tf.Tensor, projections: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const d = projections.shape[1];
    const ref = tf.reshape(reference, [-1, d]) as tf.Tensor2D;
    const m = ref.shape[0];
    return tf.neg(tf.topk(tf.neg(tf.transpose(tf.matMul(ref, projections, false, true))), m).values) as tf.Tensor2D;
  });
}

/**
 * Sliced Wasserstein-1 distance between point sets (Heitz et al. 2021's sliced loss, with |·| as in
 * W1), per sample: project the adapted points `[N, n, d]` on the `projections` `[K, d]`; in each
 * projection match the adapted values, in sorted order, with the reference's quantiles at their mid
 * cumulative weight ((k + ½)/n without weights); weighted mean absolute difference, averaged over
 * samples and projections. `refSorted` `[K, m]` is `slicedReference(reference, projections)`. Unlike
 * the REMD it matches proportions (a point set that only uses some of the reference's colours is far
 * from it), and unlike the moments every quantile, not only mean and covariance. `weights` `[N, n, 1]`
 * (≥ 0, a constant, e.g. the foreground): the adapted distribution is the weighted one. The matching
 * is piecewise constant in the points, so the gradient is w·sign(a − matched quantile) (one custom
 * gradient, no sort on the tape); tensor ops only (one top-k, a cumulative sum, a scatter), no read-back.
 */
export function lossSlicedWasserstein(adapted: tf.Tensor3D, refSorted: tf.Tensor2D, projections: tf.Tensor2D, weights?: tf.Tensor3D): tf.Scalar {
  const [N, n, d] = adapted.shape;
  const [K, m] = refSorted.shape;
  if (projections.shape[0] !== K || projections.shape[1] !== d) {
    throw new RangeError(`lossSlicedWasserstein: ${K} sorted reference projections for projections [${projections.shape}] of ${d}-d points`);
  }
  const R = N * K;
  const consts = tf.tidy(() => {
    // Per-row point weights, normalised to sum 1: [R, n].
    const w = weights ? tf.reshape(weights, [N, 1, n]) : tf.ones([N, 1, n]);
    const wn = tf.reshape(tf.broadcastTo(tf.div(w, tf.maximum(tf.sum(w, 2, true), 1e-12)), [N, K, n]), [R, n]);
    const row = tf.range(0, R, 1, 'int32');
    const rowOffsets = tf.reshape(tf.mul(row, tf.scalar(n, 'int32')), [R, 1]);
    const refOffsets = tf.reshape(tf.mul(tf.mod(row, tf.scalar(K, 'int32')), tf.scalar(m, 'int32')), [R, 1]);
    return { wn, rowOffsets, refOffsets };
  });
  const { wn, rowOffsets, refOffsets } = consts;
  const op = tf.customGrad((pa, save) => {
    const p = pa as tf.Tensor3D; // [N, K, n]
    const diff = tf.tidy(() => {
      const rows = tf.reshape(p, [R, n]) as tf.Tensor2D;
      const order = tf.reshape(tf.add(tf.topk(tf.neg(rows), n).indices, rowOffsets), [R * n]); // flat index of each row's j-th smallest
      const wSorted = tf.reshape(tf.gather(tf.reshape(wn, [R * n]), order), [R, n]);
      const mid = tf.sub(tf.cumsum(wSorted, 1), tf.div(wSorted, 2)); // mid cumulative weight, in (0, 1)
      const at = tf.add(tf.cast(tf.clipByValue(tf.floor(tf.mul(mid, m)), 0, m - 1), 'int32'), refOffsets); // clipped as float: wasm's ClipByValue ignores int32
      const matchedSorted = tf.gather(tf.reshape(refSorted, [K * m]), tf.reshape(at, [R * n]));
      // Back to the points' own order: a permutation, so a scatter.
      const matched = tf.reshape(tf.scatterND(tf.reshape(order, [R * n, 1]), matchedSorted, [R * n]), [R, n]);
      return tf.sub(rows, matched);
    });
    (save as tf.GradSaveFunc)([diff, wn]); // kept by the engine for the backward pass (this function disposes its own wn)
    return {
      value: tf.div(tf.sum(tf.mul(tf.abs(diff), wn)), R) as tf.Scalar,
      // tidy: custom gradient functions are not scoped by the engine.
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.tidy(() => tf.reshape(tf.mul(tf.mul(tf.sign(saved[0]), saved[1]), tf.div(dy, R)), [N, K, n])),
    };
  });
  try {
    return tf.tidy(() => {
      const pa = tf.transpose(tf.reshape(tf.matMul(tf.reshape(adapted, [N * n, d]), projections, false, true), [N, n, K]), [0, 2, 1]);
      return op(pa) as tf.Scalar;
    });
  } finally {
    tf.dispose([wn, rowOffsets, refOffsets]);
  }
}

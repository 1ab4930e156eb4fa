/**
 * The evaluation report: source vs adapted generator over N held-out latents × V yaws.
 * - identity: cosine of face descriptors (injected FaceEmbedder; face-api stands in for ArcFace);
 * - depth: mean |Δdepth| on the source's foreground, world units and % of head depth;
 * - style to the reference: Lab palette (sliced Wasserstein) and texture (Gram matrices of a network
 *   the training losses do not use); with user CLIPs, similarity to the reference and the alignment of
 *   the image direction with the domain direction;
 * - multi-view consistency: neighbouring views reprojected through the rendered depth, masked L1.
 * Generators, encoders and the reference are passed in; no file I/O, no DOM, no Node.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../core/random.ts';
import { SettingsError } from '../core/errors.ts';
import { cameraFromYawPitch, camerasTensor, frontalCamera } from '../eg3d/camera.ts';
import { iterationSeed } from '../adapter/trainer.ts';
import { FACE_BOX } from '../adapter/options.ts';
import { concatFloat32, labPixels, slicedWasserstein } from './color.ts';
import { cosine } from './face-identity.ts';
import { foregroundMask, headDepth, maskedMeanAbsDiff, reprojectionL1, type ViewGeometry } from './geometry.ts';
import type {
  ClipEvalInput,
  EvalGenerator,
  EvalImage,
  EvaluationInputs,
  EvaluationMeans,
  EvaluationOptions,
  EvaluationResult,
  EvaluationRow,
  FaceBox,
  IdentityCrop,
  SourceAdapted,
} from './types.ts';

export const DEFAULT_EVALUATION_OPTIONS: EvaluationOptions = {
  latents: 32,
  seed: 0,
  yaws: [-0.4, -0.2, 0, 0.2, 0.4],
  pitch: 0,
  psi: 0.7,
  thumbnailSize: 64,
  swProjections: 64,
  swQuantiles: 128,
  swSeed: 0,
  visibilityTolerance: 0.05,
  fixedFaceBox: { ...FACE_BOX },
  paletteReference: 'face-box',
};

/** Stream id of the evaluation latents in `iterationSeed` (the trainer's iterations use streams 0…2). */
const EVALUATION_STREAM = 0x4556414c; // 'EVAL'

/** Seed of held-out latent k: disjoint in practice from the trainer's per-iteration seeds. */
export function evaluationLatentSeed(seed: number, k: number): number {
  return iterationSeed(seed, k, EVALUATION_STREAM);
}

export function resolveEvaluationOptions(o: Partial<EvaluationOptions> = {}): EvaluationOptions {
  const r = { ...DEFAULT_EVALUATION_OPTIONS, ...o };
  if (!Number.isInteger(r.latents) || r.latents < 1) throw new SettingsError(`latents must be a positive integer (got ${r.latents})`);
  if (!r.yaws.length || r.yaws.some((y) => !Number.isFinite(y))) throw new SettingsError('yaws must be a non-empty list of numbers');
  if (!(r.psi >= 0 && r.psi <= 2)) throw new SettingsError(`psi must be within 0…2 (got ${r.psi})`);
  if (!Number.isInteger(r.thumbnailSize) || r.thumbnailSize < 8) throw new SettingsError(`thumbnailSize must be an integer ≥ 8 (got ${r.thumbnailSize})`);
  if (r.paletteReference !== 'face-box' && r.paletteReference !== 'image') throw new SettingsError(`paletteReference must be 'face-box' or 'image' (got ${String(r.paletteReference)})`);
  if (!Number.isInteger(r.swProjections) || r.swProjections < 1 || !Number.isInteger(r.swQuantiles) || r.swQuantiles < 2) throw new SettingsError('swProjections ≥ 1 and swQuantiles ≥ 2 must be integers');
  return r;
}

export const MEASURE_DESCRIPTIONS: Record<string, string> = {
  identity:
    'cosine similarity of 128-d face-recognition descriptors (@vladmandic/face-api, MIT) of source vs adapted renders, mean over views — a stand-in for the ArcFace network of the 3D-Adapter paper. ' +
    'Where the detector (SSD-MobileNetV1, 68-point alignment) finds a face in both renders, each uses its own aligned crop; otherwise both use the same fixed face-centred crop (identityCrop per latent). ' +
    'Detection is tried on the frontal view first; a latent whose frontal source render has no detectable face uses the fixed crop in every view.',
  depth:
    "mean |depth_adapted − depth_source| over the source's foreground pixels (depth ≤ Otsu threshold of the view's depth histogram), in world units; as % of head depth = 98th − 2nd percentile of the source's foreground depth.",
  palette:
    "sliced 2-Wasserstein distance (seeded unit directions, quantile matching) between CIE L*a*b* (D65) pixels of the face region (source foreground ∩ fixed face box, all views of a latent) and the reference's pixels in the same face box of its face-aligned crop (paletteReference 'face-box'; 'image' = the whole crop, backdrop included); units ≈ ΔE*ab. Lower = closer to the reference's colours.",
  texture:
    'mean over layers of ‖G(render) − G(reference)‖_F / ‖G(reference)‖_F, Gram matrices of early layers of a network the training losses do not use; mean over views. Lower = closer to the reference texture.',
  clip: "with a user CLIP: mean cosine of the renders' embeddings with the reference's, and mean cosine of (E(adapted) − E(source)) with (E(reference) − μ_s), μ_s = mean source embedding; for zero-shot weights also the same against the prompt: cosine with the target text's embedding and alignment with T(target) − T(source).",
  consistency:
    'each view lifted to the world with its rendered depth and projected into its neighbouring views (both directions); mean |ΔRGB| (RGB in [0, 1]) over pixels that are foreground in both and visible (|distance − sampled depth| ≤ tolerance), at neural rendering resolution.',
};

const tick = () => new Promise<void>((r) => setTimeout(r, 0));

/** Official 8-bit conversion (clamp(x·127.5 + 128)) of NHWC [−1,1] renders → RGBA8 images. */
async function toImages(t: tf.Tensor4D): Promise<EvalImage[]> {
  const [n, h, w] = t.shape;
  const q = tf.tidy(() => tf.floor(tf.clipByValue(tf.add(tf.mul(t, 127.5), 128), 0, 255)));
  const v = await q.data();
  q.dispose();
  const out: EvalImage[] = [];
  for (let k = 0; k < n; k++) {
    const data = new Uint8ClampedArray(h * w * 4);
    for (let i = 0; i < h * w; i++) {
      const s = (k * h * w + i) * 3;
      data[i * 4] = v[s];
      data[i * 4 + 1] = v[s + 1];
      data[i * 4 + 2] = v[s + 2];
      data[i * 4 + 3] = 255;
    }
    out.push({ width: w, height: h, data });
  }
  return out;
}

/** Area-averaging resize of an RGBA8 image to `size`² (each output pixel averages the input pixels whose centres fall in it; nearest when upscaling). */
export function resizeArea(image: EvalImage, size: number): EvalImage {
  const out = new Uint8ClampedArray(size * size * 4);
  const sx = image.width / size;
  const sy = image.height / size;
  for (let y = 0; y < size; y++) {
    const y0 = Math.floor(y * sy);
    const y1 = Math.max(y0 + 1, Math.floor((y + 1) * sy));
    for (let x = 0; x < size; x++) {
      const x0 = Math.floor(x * sx);
      const x1 = Math.max(x0 + 1, Math.floor((x + 1) * sx));
      const acc = [0, 0, 0, 0];
      for (let yy = y0; yy < Math.min(y1, image.height); yy++) {
        for (let xx = x0; xx < Math.min(x1, image.width); xx++) {
          const i = (yy * image.width + xx) * 4;
          for (let c = 0; c < 4; c++) acc[c] += image.data[i + c];
        }
      }
      const n = (Math.min(y1, image.height) - y0) * (Math.min(x1, image.width) - x0);
      for (let c = 0; c < 4; c++) out[(y * size + x) * 4 + c] = Math.round(acc[c] / n);
    }
  }
  return { width: size, height: size, data: out };
}

/** Centre square crop. */
export function centreSquare(image: EvalImage): EvalImage {
  const s = Math.min(image.width, image.height);
  if (s === image.width && s === image.height) return image;
  const x0 = Math.floor((image.width - s) / 2);
  const y0 = Math.floor((image.height - s) / 2);
  const data = new Uint8ClampedArray(s * s * 4);
  for (let y = 0; y < s; y++) data.set(image.data.subarray(((y0 + y) * image.width + x0) * 4, ((y0 + y) * image.width + x0 + s) * 4), y * s * 4);
  return { width: s, height: s, data };
}

/** Nearest-neighbour upsampling of a mask from r×r to s×s. */
function upsampleMask(mask: Uint8Array, r: number, s: number): Uint8Array {
  const out = new Uint8Array(s * s);
  for (let y = 0; y < s; y++) {
    const my = Math.min(r - 1, Math.floor(((y + 0.5) * r) / s));
    for (let x = 0; x < s; x++) out[y * s + x] = mask[my * r + Math.min(r - 1, Math.floor(((x + 0.5) * r) / s))];
  }
  return out;
}

function pixelBox(rel: FaceBox, w: number, h: number): FaceBox {
  return { x: rel.x * w, y: rel.y * h, width: rel.width * w, height: rel.height * h };
}

function boxMask(box: FaceBox, w: number, h: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = Math.max(0, Math.floor(box.y)); y < Math.min(h, Math.ceil(box.y + box.height)); y++) {
    for (let x = Math.max(0, Math.floor(box.x)); x < Math.min(w, Math.ceil(box.x + box.width)); x++) m[y * w + x] = 1;
  }
  return m;
}

/**
 * The reference's Lab pixels the palette compares with (`paletteReference`): its square crop area-resized to
 * at most 128², all of it ('image') or inside the face box ('face-box').
 */
export function referenceLab(reference: EvalImage, o: Pick<EvaluationOptions, 'paletteReference' | 'fixedFaceBox'>): Float32Array {
  const small = resizeArea(centreSquare(reference), Math.min(128, reference.width, reference.height));
  if (o.paletteReference === 'image') return labPixels(small.data, 4);
  return labPixels(small.data, 4, boxMask(pixelBox(o.fixedFaceBox, small.width, small.height), small.width, small.height));
}

/** The face region of a render (width × height): the foreground mask (resolution², upsampled) ∩ the face box (fractions of the image side). */
export function faceRegionMask(mask: Uint8Array, resolution: number, width: number, height: number, box: FaceBox): Uint8Array {
  const fg = upsampleMask(mask, resolution, width);
  const fbox = boxMask(pixelBox(box, width, height), width, height);
  return fg.map((m, i) => m & fbox[i]);
}

interface RenderedViews {
  images: EvalImage[];
  geometry: ViewGeometry[];
}

/** True when every tensor outside Tri-D and G2 is the same object in both generators (mapping and backbone shared). */
export function sharesBackbone(a: EvalGenerator, b: EvalGenerator): boolean {
  if (a.weights.size !== b.weights.size) return false;
  for (const [k, t] of a.weights) {
    if (k.startsWith('decoder.') || k.startsWith('superresolution.')) continue;
    if (b.weights.get(k) !== t) return false;
  }
  return true;
}

/** Mapping + tri-planes of one latent (batch 1), frontal conditioning camera. */
function latentPlanes(gen: EvalGenerator, z: Float32Array, psi: number, radius: number, pivot: readonly [number, number, number]): { ws: tf.Tensor3D; planes: tf.Tensor } {
  const [ws, planes] = tf.tidy(() => {
    const cCond = camerasTensor([frontalCamera({ radius, pivot })]);
    const w = gen.mapping(tf.tensor2d(z, [1, gen.config.zDim]), cCond, psi, null);
    return [w, gen.planes(w)];
  });
  return { ws: ws as tf.Tensor3D, planes };
}

/** Renders the views of one latent from its (batch-1) ws and tri-planes with this generator's Tri-D and G2. */
async function renderLatent(gen: EvalGenerator, latent: { ws: tf.Tensor3D; planes: tf.Tensor }, cameras: Float32Array[]): Promise<RenderedViews> {
  const out = tf.tidy(() => {
    const v = cameras.length;
    const planes = tf.tile(latent.planes, [v, ...latent.planes.shape.slice(1).map(() => 1)]);
    const { features, depth } = gen.render(planes, camerasTensor(cameras), { kind: 'deterministic' });
    const [n, h, w] = features.shape;
    const imageRaw = tf.slice(features, [0, 0, 0, 0], [n, h, w, 3]) as tf.Tensor4D;
    const image = gen.superresolve(imageRaw, features, tf.tile(latent.ws, [v, 1, 1]) as tf.Tensor3D);
    const raw = tf.clipByValue(tf.div(tf.add(imageRaw, 1), 2), 0, 1);
    return [image, raw, depth] as tf.Tensor4D[];
  });
  const [image, raw, depth] = out;
  const images = await toImages(image);
  const rawData = (await raw.data()) as Float32Array;
  const depthData = (await depth.data()) as Float32Array;
  tf.dispose(out);
  const [n, res] = raw.shape;
  const geometry: ViewGeometry[] = [];
  for (let k = 0; k < n; k++) {
    const d = depthData.slice(k * res * res, (k + 1) * res * res);
    geometry.push({ resolution: res, rgb: rawData.slice(k * res * res * 3, (k + 1) * res * res * 3), depth: d, mask: foregroundMask(d), camera: cameras[k] });
  }
  return { images, geometry };
}

/** Mean reprojection L1 over neighbouring view pairs (both directions), weighted by compared pixels. */
function consistencyOf(views: ViewGeometry[], tol: number): number {
  let sum = 0;
  let count = 0;
  for (let k = 0; k + 1 < views.length; k++) {
    for (const [a, b] of [[views[k], views[k + 1]], [views[k + 1], views[k]]]) {
      const r = reprojectionL1(a, b, { visibilityTolerance: tol });
      sum += r.l1 * r.pixels;
      count += r.pixels;
    }
  }
  return count ? sum / count : 0;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}

function meanSA(xs: SourceAdapted[]): SourceAdapted {
  return { source: mean(xs.map((x) => x.source)), adapted: mean(xs.map((x) => x.adapted)) };
}

function changePct(x: SourceAdapted | null): number | null {
  if (!x || !(x.source > 0)) return null;
  return ((x.adapted - x.source) / x.source) * 100;
}

interface ClipAccumulator {
  name: string;
  encoder: ClipEvalInput['encoder'];
  ref: Float32Array;
  /** The domain direction (text lines: T(target) − T(source)); absent = E(reference) − μ_s. */
  domain?: Float32Array;
  /** Per latent: source and adapted embeddings [V·D]. */
  perLatent: { source: Float32Array; adapted: Float32Array }[];
  given: Float32Array | undefined;
}

async function embedRenders(encoder: ClipEvalInput['encoder'], images: EvalImage[]): Promise<Float32Array> {
  const t = tf.tidy(() => {
    const batch = tf.stack(
      images.map((im) => {
        const rgba = tf.tensor3d(Float32Array.from(im.data), [im.height, im.width, 4]);
        return tf.sub(tf.div(tf.slice(rgba, [0, 0, 0], [im.height, im.width, 3]), 127.5), 1);
      }),
    ) as tf.Tensor4D;
    const f = encoder.encodeImages(batch, encoder.defaultTokenBlock);
    f.tokens.dispose();
    return f.embedding;
  });
  const v = (await t.data()) as Float32Array;
  t.dispose();
  return v;
}

/** Runs the evaluation. Tensors are freed as it goes; the result is plain data. */
export async function evaluateAdaptation(inputs: EvaluationInputs): Promise<EvaluationResult> {
  const t0 = performance.now();
  const o = resolveEvaluationOptions(inputs.options);
  const { source, adapted } = inputs;
  if (source.config.zDim !== adapted.config.zDim) throw new SettingsError('source and adapted generators differ in z dimension');
  const radius = source.config.rendering.avgCameraRadius;
  const pivot = source.config.rendering.avgCameraPivot as [number, number, number];
  const cameras = o.yaws.map((y) => cameraFromYawPitch(y, o.pitch, { radius, pivot }));
  const frontal = o.yaws.reduce((best, y, i) => (Math.abs(y) < Math.abs(o.yaws[best]) ? i : best), 0);
  const reference = inputs.reference ? centreSquare(inputs.reference) : null;
  const face = inputs.face ?? null;
  const shared = sharesBackbone(source, adapted);
  const texture = reference ? (inputs.texture ?? null) : null;

  // Reference statistics, computed once.
  const refLab = reference ? referenceLab(reference, o) : null;
  const refGrams = texture && reference ? (await texture.grams([reference]))[0] : null;
  const clips: ClipAccumulator[] = [];
  for (const c of inputs.clip ?? []) {
    if (reference) {
      const f = c.encoder.encodeReference(reference, c.encoder.defaultTokenBlock);
      const ref = (await f.embedding.data()) as Float32Array;
      f.embedding.dispose();
      f.tokens.dispose();
      clips.push({ name: c.encoder.name, encoder: c.encoder, ref, perLatent: [], given: c.meanEmbedding });
    }
    // Zero-shot: the same measures against the target text (its embedding and the text direction).
    if (c.prompt) {
      const domain = c.prompt.target.map((x, i) => x - c.prompt!.source[i]);
      clips.push({ name: `${c.encoder.name} · “${c.prompt.text}”`, encoder: c.encoder, ref: c.prompt.target, domain, perLatent: [], given: undefined });
    }
  }
  const sw = (lab: Float32Array) => slicedWasserstein(lab, refLab!, 3, { projections: o.swProjections, quantiles: o.swQuantiles, seed: o.swSeed });

  const rows: EvaluationRow[] = [];
  let stopped = false;
  for (let k = 0; k < o.latents; k++) {
    if (inputs.shouldStop?.()) {
      stopped = true;
      break;
    }
    const latentSeed = evaluationLatentSeed(o.seed, k);
    const z = new Random(latentSeed).normalArray(source.config.zDim);
    const srcLatent = latentPlanes(source, z, o.psi, radius, pivot);
    const adpLatent = shared ? srcLatent : latentPlanes(adapted, z, o.psi, radius, pivot);
    let src: RenderedViews;
    let adp: RenderedViews;
    try {
      src = await renderLatent(source, srcLatent, cameras);
      adp = await renderLatent(adapted, adpLatent, cameras);
    } finally {
      tf.dispose([srcLatent.ws, srcLatent.planes, adpLatent.ws, adpLatent.planes]);
    }
    const V = cameras.length;

    // Depth on the source's foreground.
    const depthDiffs: number[] = [];
    const heads: number[] = [];
    for (let v = 0; v < V; v++) {
      const g = src.geometry[v];
      depthDiffs.push(maskedMeanAbsDiff(adp.geometry[v].depth, g.depth, g.mask));
      heads.push(headDepth(g.depth, g.mask));
    }
    const depthDiff = mean(depthDiffs);
    const head = mean(heads);

    // Identity.
    let identity: number | null = null;
    let identityCrop: IdentityCrop | null = null;
    let detectedViews = 0;
    if (face) {
      const sims: number[] = [];
      // The frontal view first: where the detector finds no face there, it is not tried on the
      // (harder) side views and every view of the latent uses the fixed crop.
      const order = [frontal, ...o.yaws.map((_, v) => v).filter((v) => v !== frontal)];
      let tryDetector = true;
      for (const v of order) {
        const a = src.images[v];
        const b = adp.images[v];
        const da = tryDetector ? await face.detect(a) : null;
        if (v === frontal && !da) tryDetector = false;
        const db = da ? await face.detect(b) : null;
        if (da && db) {
          detectedViews++;
          sims.push(cosine(da.descriptor, db.descriptor));
        } else {
          const box = pixelBox(o.fixedFaceBox, a.width, a.height);
          sims.push(cosine(await face.describeCrop(a, box), await face.describeCrop(b, box)));
        }
      }
      identity = mean(sims);
      identityCrop = detectedViews === V ? 'detected' : detectedViews === 0 ? 'fixed' : 'mixed';
    }

    // Style to the reference.
    let palette: SourceAdapted | null = null;
    let tex: SourceAdapted | null = null;
    if (refLab) {
      const srcLab: Float32Array[] = [];
      const adpLab: Float32Array[] = [];
      for (let v = 0; v < V; v++) {
        const a = src.images[v];
        const g = src.geometry[v];
        const region = faceRegionMask(g.mask, g.resolution, a.width, a.height, o.fixedFaceBox);
        srcLab.push(labPixels(a.data, 4, region));
        adpLab.push(labPixels(adp.images[v].data, 4, region));
      }
      const sl = concatFloat32(srcLab);
      const al = concatFloat32(adpLab);
      if (sl.length && al.length) palette = { source: sw(sl), adapted: sw(al) };
    }
    if (texture && refGrams) {
      const g = await texture.grams([...src.images, ...adp.images]);
      tex = { source: mean(g.slice(0, V).map((x) => texture.distance(x, refGrams))), adapted: mean(g.slice(V).map((x) => texture.distance(x, refGrams))) };
    }
    const embedded = new Map<ClipEvalInput['encoder'], { source: Float32Array; adapted: Float32Array }>();
    for (const acc of clips) {
      if (!embedded.has(acc.encoder)) embedded.set(acc.encoder, { source: await embedRenders(acc.encoder, src.images), adapted: await embedRenders(acc.encoder, adp.images) });
      acc.perLatent.push(embedded.get(acc.encoder)!);
    }

    rows.push({
      latent: k,
      latentSeed,
      identity,
      identityCrop,
      detectedViews,
      depthDiff,
      depthDiffPct: head > 0 ? (depthDiff / head) * 100 : 0,
      headDepth: head,
      palette,
      texture: tex,
      clip: [],
      consistency: { source: consistencyOf(src.geometry, o.visibilityTolerance), adapted: consistencyOf(adp.geometry, o.visibilityTolerance) },
      thumbnails: { source: src.images.map((im) => resizeArea(im, o.thumbnailSize)), adapted: adp.images.map((im) => resizeArea(im, o.thumbnailSize)) },
    });
    inputs.onProgress?.(k + 1, o.latents);
    await tick();
  }

  // CLIP measures need μ_s: the given one or the mean over all source renders of this evaluation.
  for (const acc of clips) {
    const d = acc.ref.length;
    let mu = acc.given;
    if (!mu) {
      mu = new Float32Array(d);
      let n = 0;
      for (const l of acc.perLatent) {
        for (let i = 0; i < l.source.length; i++) mu[i % d] += l.source[i];
        n += l.source.length / d;
      }
      for (let i = 0; i < d; i++) mu[i] /= Math.max(1, n);
    }
    const domain = acc.domain ?? acc.ref.map((x, i) => x - mu![i]);
    acc.perLatent.forEach((l, r) => {
      const views = l.source.length / d;
      const ss: number[] = [];
      const as: number[] = [];
      const al: number[] = [];
      for (let v = 0; v < views; v++) {
        const es = l.source.subarray(v * d, (v + 1) * d);
        const ea = l.adapted.subarray(v * d, (v + 1) * d);
        ss.push(cosine(es, acc.ref));
        as.push(cosine(ea, acc.ref));
        al.push(cosine(ea.map((x, i) => x - es[i]), domain));
      }
      rows[r].clip.push({ encoder: acc.name, similarity: { source: mean(ss), adapted: mean(as) }, directionAlignment: mean(al), ...(acc.domain ? { target: 'prompt' as const } : {}) });
    });
  }

  const identities = rows.filter((r) => r.identity !== null).map((r) => r.identity!);
  const palettes = rows.filter((r) => r.palette).map((r) => r.palette!);
  const textures = rows.filter((r) => r.texture).map((r) => r.texture!);
  const paletteMean = palettes.length ? meanSA(palettes) : null;
  const textureMean = textures.length ? meanSA(textures) : null;
  const means: EvaluationMeans = {
    identity: identities.length ? mean(identities) : null,
    depthDiff: mean(rows.map((r) => r.depthDiff)),
    depthDiffPct: mean(rows.map((r) => r.depthDiffPct)),
    headDepth: mean(rows.map((r) => r.headDepth)),
    palette: paletteMean,
    paletteChangePct: changePct(paletteMean),
    texture: textureMean,
    textureChangePct: changePct(textureMean),
    clip: clips.map((acc, c) => ({
      encoder: acc.name,
      similarity: meanSA(rows.map((r) => r.clip[c].similarity)),
      directionAlignment: mean(rows.map((r) => r.clip[c].directionAlignment)),
      ...(acc.domain ? { target: 'prompt' as const } : {}),
    })),
    consistency: meanSA(rows.map((r) => r.consistency)),
    detectedLatents: rows.filter((r) => r.identityCrop === 'detected').length,
    fixedCropLatents: rows.filter((r) => r.identityCrop === 'fixed').length,
  };
  const measures: Record<string, string> = { ...MEASURE_DESCRIPTIONS };
  if (face) measures.faceModel = face.name;
  if (texture) measures.textureModel = texture.name;
  return { version: 1, options: o, frontalView: frontal, measures, rows, means, stopped, seconds: (performance.now() - t0) / 1000 };
}

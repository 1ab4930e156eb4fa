/**
 * The engine's evaluation report (src/evaluate/ does the measuring): the base generator vs the current
 * adapted weights over held-out latents, with progress events and cancellation; its networks — the
 * face model (face-api, a stand-in for ArcFace) and the texture network (InceptionV3) — are loaded on
 * first use through loaders the platform passes in (`LocalEngineOptions.evaluationModels`), so they
 * never slow the studio's start. Also the live estimate a run sends with each preview
 * (`PreviewEstimator`): palette distance to the reference and depth change, on the preview renders.
 */
import { DEFAULT_EVALUATION_OPTIONS, evaluateAdaptation, faceRegionMask, referenceLab } from '../evaluate/evaluate.ts';
import { cosine, FaceApiEmbedder, type FaceApiModelFiles, type FaceApiModule } from '../evaluate/face-identity.ts';
import { InceptionGramNetwork, loadNsfwInceptionV3 } from '../evaluate/texture.ts';
import { concatFloat32, labPixels, slicedWasserstein } from '../evaluate/color.ts';
import { foregroundMask, headDepth, maskedMeanAbsDiff } from '../evaluate/geometry.ts';
import type { FaceEmbedder, TextureNetwork } from '../evaluate/types.ts';
import { FormatError, InternalError } from '../core/errors.ts';
import type { AdaptedState } from './adapted.ts';
import type { ClipTokenizer } from '../clip/tokenizer.ts';
import { hasTextTower, textDirection } from '../clip/text-direction.ts';
import { parseMethodOptions } from '../adapter/options.ts';
import type { ClipEvalInput } from '../evaluate/types.ts';
import type { LoadedEncoder, LoadedGenerator } from './models.ts';
import { EngineError, type EngineEvaluation, type EngineEvent, type EvaluationRequest, type PreviewEstimate, type RgbaImage } from './types.ts';

/** The InceptionV3 Keras model (JSON + weights) InceptionGramNetwork is built from. */
export type TextureModelSource = Parameters<typeof InceptionGramNetwork.create>[0];

/** A face-api network's weight files as the platform read them: the manifest JSON (parsed) and the weights. */
export interface FaceApiFiles {
  manifest: unknown;
  bin: Uint8Array;
}

/** How this platform provides the evaluation's networks (src/platform/browser-evaluation.ts, node-evaluation.ts). */
export interface EvaluationLoaders {
  /**
   * The face-api module — a build that runs on this engine's tfjs; checked here for the parts the
   * evaluation uses — and its detector, landmark and recognition weight files; without it there is
   * no identity measure.
   */
  loadFaceApi?: () => Promise<{ api: unknown; files: Record<keyof FaceApiModelFiles, FaceApiFiles> }>;
  /** InceptionV3 for the texture measure (default: the nsfwjs package's bundled model, a module import). */
  loadTextureModel?: () => Promise<TextureModelSource>;
}

function checkFaceApi(api: unknown): FaceApiModule {
  const m = api as Partial<FaceApiModule> | null;
  const nets = m?.nets;
  if (!nets?.ssdMobilenetv1 || !nets.faceLandmark68Net || !nets.faceRecognitionNet || typeof m?.detectSingleFace !== 'function' || typeof m.SsdMobilenetv1Options !== 'function') {
    throw new InternalError('the face-api module the platform loaded lacks the networks the evaluation uses');
  }
  return m as FaceApiModule;
}

function checkFaceFiles(f: FaceApiFiles | undefined, what: string): FaceApiModelFiles['detector'] {
  if (!f || !Array.isArray(f.manifest) || !(f.bin instanceof Uint8Array)) throw new FormatError(`face-api ${what} weight files: the manifest is not a list of weight groups`);
  return f as FaceApiModelFiles['detector'];
}

/** The evaluation's networks, each loaded once, on first use, and kept for the engine's lifetime. */
export class EvaluationModels {
  private facePromise: Promise<FaceEmbedder> | null = null;
  private faceLoaded: FaceEmbedder | null = null;
  private texturePromise: Promise<TextureNetwork> | null = null;
  private disposed = false;

  constructor(private readonly loaders: EvaluationLoaders) {}

  get hasFaceModel(): boolean {
    return !!this.loaders.loadFaceApi;
  }

  /** The face embedder if it has been loaded already (the live estimate uses it only then). */
  get loadedFace(): FaceEmbedder | null {
    return this.faceLoaded;
  }

  face(): Promise<FaceEmbedder> {
    const load = this.loaders.loadFaceApi;
    if (!load) return Promise.reject(new EngineError('not-ready', 'this engine was set up without a face model'));
    this.facePromise ??= (async () => {
      const { api, files } = await load();
      const face = FaceApiEmbedder.create(checkFaceApi(api), {
        detector: checkFaceFiles(files.detector, 'detector'),
        landmarks: checkFaceFiles(files.landmarks, 'landmark'),
        recognition: checkFaceFiles(files.recognition, 'recognition'),
      });
      if (this.disposed) {
        face.dispose();
        throw new EngineError('cancelled', 'the engine was disposed');
      }
      this.faceLoaded = face;
      return face;
    })();
    // A failed load is tried again next time.
    this.facePromise.catch(() => (this.facePromise = null));
    return this.facePromise;
  }

  texture(): Promise<TextureNetwork> {
    this.texturePromise ??= (async () => {
      const net = await InceptionGramNetwork.create(await (this.loaders.loadTextureModel ?? loadNsfwInceptionV3)());
      if (this.disposed) {
        net.dispose();
        throw new EngineError('cancelled', 'the engine was disposed');
      }
      return net;
    })();
    this.texturePromise.catch(() => (this.texturePromise = null));
    return this.texturePromise;
  }

  dispose(): void {
    this.disposed = true;
    this.faceLoaded?.dispose();
    this.faceLoaded = null;
    void this.texturePromise?.then((t) => t.dispose(), () => undefined);
    this.facePromise = null;
    this.texturePromise = null;
  }
}

export interface EvaluationSpec {
  gen: LoadedGenerator;
  adapted: AdaptedState;
  reference: RgbaImage | null;
  /** Loaded encoders; the CLIP lines use those the request names (default: every file encoder). */
  encoders: LoadedEncoder[];
  request: EvaluationRequest;
  /** CLIP's BPE vocabulary: with it, a zero-shot run's prompt is measured by the CLIPs with a text tower. */
  tokenizer?: ClipTokenizer | null;
}

export interface EvaluationHost {
  models: EvaluationModels;
  emit(e: EngineEvent): void;
  shouldStop(): boolean;
}

function checkRequest(r: EvaluationRequest): void {
  if (!Number.isInteger(r.latents) || r.latents < 1 || r.latents > 1024) throw new EngineError('bad-settings', `evaluation latents must be an integer in 1…1024 (got ${r.latents})`);
  if (r.seed !== undefined && (!Number.isInteger(r.seed) || r.seed < 0)) throw new EngineError('bad-settings', `evaluation seed must be a non-negative integer (got ${r.seed})`);
  if (r.psi !== undefined && !(r.psi >= 0 && r.psi <= 2)) throw new EngineError('bad-settings', `evaluation ψ must be within 0…2 (got ${r.psi})`);
}

/** Runs the report on the engine's models; resolves with the rows done when stopped, rejects 'cancelled' when none was. */
export async function runEvaluation(spec: EvaluationSpec, host: EvaluationHost): Promise<EngineEvaluation> {
  const { gen, adapted, reference, request } = spec;
  checkRequest(request);
  const notes: string[] = [];
  const stopped = () => {
    if (host.shouldStop()) throw new EngineError('cancelled', 'the evaluation was cancelled');
  };
  const loading = (what: string, done: number, total: number) => host.emit({ type: 'evaluation-progress', stage: 'loading', what, done, total });

  // The networks, on first use.
  const wantFace = request.identity !== false;
  const wantTexture = request.texture !== false && reference !== null;
  const steps = (wantFace ? 1 : 0) + (wantTexture ? 1 : 0);
  let step = 0;
  let face: FaceEmbedder | null = null;
  if (wantFace) {
    if (!host.models.hasFaceModel) notes.push('identity: no face model on this platform');
    else {
      loading('face model (face-api)', step, steps);
      face = await host.models.face();
    }
    step++;
    stopped();
  }
  let texture: TextureNetwork | null = null;
  if (wantTexture) {
    loading('texture network (InceptionV3)', step, steps);
    texture = await host.models.texture();
    step++;
    stopped();
  }
  if (!reference) notes.push(`style: no reference image, so no palette, texture or CLIP${adapted.meta.prompt !== undefined ? '-to-reference' : ''} measures`);
  if (request.identity === false) notes.push('identity: off');
  if (request.texture === false) notes.push('texture: off');

  const clipIds = request.clipEncoders ?? spec.encoders.filter((e) => e.info.origin === 'file').map((e) => e.info.id);
  const clips = clipIds.map((id) => {
    const e = spec.encoders.find((x) => x.info.id === id);
    if (!e) throw new EngineError('bad-settings', `unknown encoder '${id}' for the evaluation`);
    return e;
  });

  // Zero-shot weights: the CLIPs with a text tower also measure against the prompt (with the run's templates).
  const prompt = adapted.meta.prompt;
  const promptOf = async (e: LoadedEncoder): Promise<ClipEvalInput['prompt']> => {
    if (prompt === undefined || !spec.tokenizer || !hasTextTower(e.encoder)) return undefined;
    const settings = adapted.meta.settings as { options?: Record<string, string | number | boolean> } | null;
    let templates = parseMethodOptions({}).textTemplates;
    try {
      templates = parseMethodOptions(settings?.options ?? {}).textTemplates;
    } catch {
      // Options of another version of the studio: the default templates.
    }
    const t = await textDirection(e.encoder, spec.tokenizer, prompt, adapted.meta.sourcePrompt ?? 'photo', templates);
    return { text: prompt, target: t.target, source: t.source };
  };
  const clipInputs: ClipEvalInput[] = [];
  // One entry per CLIP line of the result, in its order: the reference line, then the prompt line.
  const clipLines: { id: string; name: string }[] = [];
  for (const e of clips) {
    const p = await promptOf(e);
    if (!reference && !p) continue;
    clipInputs.push({ encoder: e.encoder, ...(p ? { prompt: p } : {}) });
    if (reference) clipLines.push({ id: e.info.id, name: e.info.name });
    if (p) clipLines.push({ id: e.info.id, name: `${e.info.name} · “${p.text}”` });
  }
  if (prompt !== undefined && !clipInputs.some((c) => c.prompt)) {
    notes.push(`prompt: no CLIP with a text tower${spec.tokenizer ? '' : " and CLIP's BPE vocabulary"} loaded, so no similarity to “${prompt}”`);
  }

  // A cancel sent together with the call (a message behind it, in the worker) is seen before the first latent.
  await new Promise<void>((r) => setTimeout(r, 0));
  stopped();
  const source = gen.view;
  const adaptedView = gen.view.withWeights(adapted.weights);
  const total = request.latents;
  host.emit({ type: 'evaluation-progress', stage: 'evaluating', what: 'held-out latents', done: 0, total });
  const result = await evaluateAdaptation({
    source,
    adapted: adaptedView,
    reference,
    face,
    texture,
    clip: clipInputs,
    options: {
      latents: total,
      ...(request.seed !== undefined ? { seed: request.seed } : {}),
      ...(request.psi !== undefined ? { psi: request.psi } : {}),
      ...(request.thumbnailSize !== undefined ? { thumbnailSize: request.thumbnailSize } : {}),
      ...(request.paletteReference !== undefined ? { paletteReference: request.paletteReference } : {}),
    },
    onProgress: (done) => host.emit({ type: 'evaluation-progress', stage: 'evaluating', what: 'held-out latents', done, total }),
    shouldStop: () => host.shouldStop(),
  });
  if (result.rows.length === 0) throw new EngineError('cancelled', 'the evaluation was cancelled before its first latent');
  return {
    result,
    generatorId: gen.info.id,
    adaptedIterations: { ...adapted.meta.iterations },
    // Replaced, never mutated, by the run: a copy of the object is a snapshot.
    adaptedMetadata: { ...adapted.meta },
    reference: reference !== null,
    identityModel: face?.name ?? null,
    textureModel: texture?.name ?? null,
    notes,
    clipEncoders: clipLines,
  };
}

// ---------------------------------------------------------------- the live estimate

/** A preview grid with depth (rendering.ts previewRenders). */
export interface PreviewRendersWithDepth {
  images: RgbaImage[];
  depth: Float32Array[];
  resolution: number;
}

/** Points per set the live estimate's sliced Wasserstein sorts: plenty for its 128 quantile levels, and ~5× cheaper than every pixel. */
const ESTIMATE_MAX_POINTS = 4096;

/** Every k-th point (3 values each) so that at most `max` remain; deterministic. */
function thin(points: Float32Array, max: number): Float32Array {
  const n = points.length / 3;
  if (n <= max) return points;
  const step = n / max;
  const out = new Float32Array(max * 3);
  for (let i = 0; i < max; i++) out.set(points.subarray(Math.floor(i * step) * 3, Math.floor(i * step) * 3 + 3), i * 3);
  return out;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);


/**
 * The line a run shows while training, from its preview renders: the palette distance of the face
 * region to the reference (source → adapted, the report's measure on fewer, fixed latents and at most
 * ESTIMATE_MAX_POINTS pixels per set), the depth
 * change on the source's foreground, and identity only when the face model is loaded already.
 */
export class PreviewEstimator {
  private readonly refLab: Float32Array;
  private readonly masks: Uint8Array[];
  private readonly regions: Uint8Array[];
  private readonly heads: number[];
  private readonly paletteSource: number | null;
  private sourceDescriptors: Float32Array[] | null = null;

  constructor(
    reference: RgbaImage,
    private readonly source: PreviewRendersWithDepth,
  ) {
    const o = DEFAULT_EVALUATION_OPTIONS;
    this.refLab = thin(referenceLab(reference, o), ESTIMATE_MAX_POINTS);
    this.masks = source.depth.map((d) => foregroundMask(d));
    this.heads = source.depth.map((d, v) => headDepth(d, this.masks[v]));
    this.regions = source.images.map((im, v) => faceRegionMask(this.masks[v], source.resolution, im.width, im.height, o.fixedFaceBox));
    this.paletteSource = this.palette(source.images);
  }

  private palette(images: RgbaImage[]): number | null {
    const o = DEFAULT_EVALUATION_OPTIONS;
    const lab = thin(concatFloat32(images.map((im, v) => labPixels(im.data, 4, this.regions[v]))), ESTIMATE_MAX_POINTS);
    if (!lab.length || !this.refLab.length) return null;
    return slicedWasserstein(lab, this.refLab, 3, { projections: o.swProjections, quantiles: o.swQuantiles, seed: o.swSeed });
  }

  private box(im: RgbaImage) {
    const b = DEFAULT_EVALUATION_OPTIONS.fixedFaceBox;
    return { x: b.x * im.width, y: b.y * im.height, width: b.width * im.width, height: b.height * im.height };
  }

  async estimate(adapted: PreviewRendersWithDepth, face: FaceEmbedder | null): Promise<PreviewEstimate> {
    const t0 = performance.now();
    const n = Math.min(adapted.images.length, this.source.images.length);
    const diffs: number[] = [];
    const pcts: number[] = [];
    for (let v = 0; v < n; v++) {
      const d = maskedMeanAbsDiff(adapted.depth[v], this.source.depth[v], this.masks[v]);
      diffs.push(d);
      if (this.heads[v] > 0) pcts.push((d / this.heads[v]) * 100);
    }
    const pa = this.palette(adapted.images.slice(0, n));
    const ps = this.paletteSource;
    let identity: number | null = null;
    if (face) {
      this.sourceDescriptors ??= await Promise.all(this.source.images.map((im) => face.describeCrop(im, this.box(im))));
      const sims: number[] = [];
      for (let v = 0; v < n; v++) sims.push(cosine(this.sourceDescriptors[v], await face.describeCrop(adapted.images[v], this.box(adapted.images[v]))));
      identity = mean(sims);
    }
    return {
      palette: ps !== null && pa !== null ? { source: ps, adapted: pa, changePct: ps > 0 ? ((pa - ps) / ps) * 100 : 0 } : null,
      depthDiff: mean(diffs),
      depthDiffPct: mean(pcts),
      identity,
      views: n,
      milliseconds: performance.now() - t0,
    };
  }
}

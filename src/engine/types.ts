/**
 * The one interface the UI (and the CLI) talk to. Implemented in-process by the engine
 * (src/engine/local-engine.ts, pure TS: Node or inside the worker) and, over postMessage, by the
 * worker client (src/worker/client.ts). Everything crossing it is structured-cloneable.
 */
import { AppError, ERROR_KINDS, type ErrorKind } from '../core/errors.ts';

// Shared value types live in the core (every layer may use them); the engine interface re-exports them.
export { BACKEND_PREFERENCES, type BackendKind, type BackendPreference, type Capabilities } from '../core/backend.ts';
export type { RgbaImage } from '../core/image.ts';
export type { MeanEmbeddingRecord, MeanEmbeddingStore, MeanEmbeddingStoreKey } from '../core/mean-embedding-store.ts';
import type { BackendPreference, Capabilities } from '../core/backend.ts';
import type { RgbaImage } from '../core/image.ts';

export type GeneratorSource =
  | { kind: 'embedded' }
  | { kind: 'file'; file: Blob; name: string }
  | { kind: 'cached'; id: string };

export type EncoderSource =
  | { kind: 'embedded' }
  | {
      kind: 'file';
      file: Blob;
      name: string;
      /** The model's config file beside the weights (open_clip model config or HF config.json): it says the attention head count the weights cannot tell. */
      config?: ModelConfigFile;
    }
  | { kind: 'cached'; id: string };

/** A model's config file (JSON) supplied together with its weights. */
export interface ModelConfigFile {
  file: Blob;
  name: string;
}

/**
 * The stable marker (the last sentence) of the 'incompatible-file' error the engine gives when a CLIP
 * file's head count cannot be known from its weights: supplying the model's config file would load it.
 */
export const CLIP_CONFIG_NEEDED = "The head count needs the model's config file, loaded together with the weights.";

/** A load failure that the model's config file, supplied with its weights, would fix. */
export function needsClipConfig(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const { code, kind, message } = e as { code?: unknown; kind?: unknown; message?: unknown };
  return (code ?? kind) === 'incompatible-file' && typeof message === 'string' && message.includes(CLIP_CONFIG_NEEDED);
}

export interface ModelInfo {
  id: string;
  kind: 'generator' | 'encoder';
  name: string;
  origin: 'embedded' | 'file';
  /** SHA-256 (hex) of the original file, or of the embedded weights. */
  sha256: string;
  /** Architecture summary, e.g. "EG3D 512², SuperresolutionHybrid8XDC, neural 128²". */
  summary: string;
  parameters: number;
  /** Encoders: the file has a text tower (loaded; zero-shot runs and prompt measures use it). */
  textTower?: boolean;
}

export interface LossWeights {
  dir: number; // L_dir, domain direction regularisation (DDR)
  dis: number; // L_dis, target distribution learning (TDL, relaxed EMD)
  imageStructure: number; // L_I-str (ISSM)
  featureStructure: number; // L_F-str (FSSM)
}

export interface AdaptSettings {
  /** Iterations of step 1 (Tri-D) and step 2 (G2). */
  iterations: [number, number];
  batchSize: number;
  learningRate: number;
  betas: [number, number];
  lossWeights: LossWeights;
  /** Encoder ids to use (from loaded encoders); empty = all loaded. */
  encoders: string[];
  seed: number;
  /** Truncation ψ for training latents (1 = none). */
  truncationPsi: number;
  /** Number of source renders for the mean source embedding μ_s. */
  meanEmbeddingSamples: number;
  /** Preview renders every N iterations. */
  previewEvery: number;
  /** Reconstructed-method options (see docs/method.md); engine-specific keys. */
  options: Record<string, string | number | boolean>;
  /** Zero-shot: a text target (src/adapter/zero-shot.ts); with no reference image the run is text-only. */
  text?: TextTarget;
}

export type { TextTarget } from '../adapter/zero-shot.ts';
import type { TextTarget } from '../adapter/zero-shot.ts';

/** A face found by AdapterEngine.detectFace: its box, detector score, 68 landmarks and the FFHQ-aligned square (centre, side, angle in radians). */
export interface FaceDetection {
  box: { x: number; y: number; width: number; height: number };
  score: number;
  landmarks: { x: number; y: number }[];
  aligned: { cx: number; cy: number; size: number; angle: number };
}

/** CLIP's BPE vocabulary as the engine read it (AdapterEngine.loadVocabulary). */
export interface VocabularyInfo {
  name: string;
  sha256: string;
  /** Tokens of the vocabulary (49408 for CLIP's). */
  tokens: number;
}

export type AdaptPhase = 'mean-embedding' | 'tri-d' | 'g2';
export type RunState = 'idle' | 'preparing' | 'running' | 'paused' | 'done' | 'cancelled' | 'error';

export interface LossValues {
  total: number;
  dir: number;
  dis: number;
  imageStructure: number;
  featureStructure: number;
}

export type RenderMode = 'rgb' | 'depth' | 'raw';

export interface RenderRequest {
  /** Latent seed (z ~ N(0, I) from this seed). */
  seed: number;
  yaw: number; // radians, offset from frontal
  pitch: number; // radians, offset from frontal
  psi: number;
  mode: RenderMode;
  /** 0 = source generator, 1 = adapted; in between interpolates Tri-D and G2 weights. */
  strength: number;
}

export type EngineEvent =
  | { type: 'load-progress'; what: string; loaded: number; total: number }
  | { type: 'state'; state: RunState; message?: string }
  | {
      type: 'progress';
      phase: AdaptPhase;
      iteration: number; // within the phase, 1-based
      phaseIterations: number;
      globalIteration: number;
      totalIterations: number;
      losses?: LossValues;
      itPerSec: number;
      etaSeconds: number;
    }
  | { type: 'preview'; globalIteration: number; source: RgbaImage[]; adapted: RgbaImage[]; yaws: number[]; seeds: number[]; estimate?: PreviewEstimate }
  | MeshProgressEvent
  | { type: 'checkpoint'; globalIteration: number; bytes: Uint8Array }
  | MeanEmbeddingEvent
  | EvaluationProgressEvent
  | VideoProgressEvent
  | { type: 'error'; error: EngineErrorInfo };

// ---- the evaluation report (src/engine/evaluation.ts over src/evaluate/) ----

export type {
  EvaluationResult,
  EvaluationRow,
  EvaluationMeans,
  EvaluationOptions,
  SourceAdapted,
  ClipRowMeasures,
  IdentityCrop,
} from '../evaluate/types.ts';
import type { EvaluationResult } from '../evaluate/types.ts';
import type { AdaptedMetadata } from '../adapter/export.ts';

/** What an evaluation compares and with which measures (source vs the engine's current adapted weights). */
export interface EvaluationRequest {
  /** Held-out latents (the studio's default is 8; each is rendered from 5 yaws). */
  latents: number;
  /** Seed of the held-out latents (default 0). */
  seed?: number;
  /** Truncation ψ (default 0.7). */
  psi?: number;
  /** Face-identity similarity; loads the face model on first use (default true). */
  identity?: boolean;
  /** Texture-statistics distance to the reference; loads InceptionV3 on first use (default true). */
  texture?: boolean;
  /** Ids of loaded CLIP encoders for the CLIP lines (default: every loaded encoder that is not the embedded one). */
  clipEncoders?: string[];
  /** Side of the per-view thumbnails (default 64). */
  thumbnailSize?: number;
  /** The reference pixels of the palette measure: the face box of the crop (default) or all of it. */
  paletteReference?: 'face-box' | 'image';
}

/** One part of a domain mix (AdapterEngine.mixAdapted). */
export interface MixPartRequest {
  /** The caller's id of the part (stable while it stays in the mix). */
  id: string;
  weight: number;
  /** The adapted-weights file, when the part is new (or replaced). */
  file?: Blob;
  name?: string;
}

/** The parts of the current mix as the engine read them. */
export interface MixInfo {
  parts: { id: string; name: string; weight: number; iterations: { triD: number; g2: number }; createdAt: string; prompt?: string }[];
}

/** An evaluation of the engine's adapted weights, with what it was made from. */
export interface EngineEvaluation {
  result: EvaluationResult;
  /** The base generator (ModelInfo.id) and the adapted weights' iterations when it ran. */
  generatorId: string;
  adaptedIterations: { triD: number; g2: number };
  /** The adapted weights' metadata (base generator, encoders, settings, seed, loss summary) when it ran. */
  adaptedMetadata: AdaptedMetadata;
  /** Whether a reference image was set (style measures need it). */
  reference: boolean;
  /** The networks behind identity and texture, or why a measure is missing. */
  identityModel: string | null;
  textureModel: string | null;
  notes: string[];
  clipEncoders: { id: string; name: string }[];
}

/** Progress of `evaluate()`: loading its networks (first use), then one step per latent. */
export interface EvaluationProgressEvent {
  type: 'evaluation-progress';
  stage: 'loading' | 'evaluating';
  what: string;
  done: number;
  total: number;
}

/**
 * The live estimate sent with each preview during a run: measured on the preview renders the run
 * makes anyway (a few latents × views, not the held-out set), so it is a cheap hint, not the report.
 */
export interface PreviewEstimate {
  /** Sliced Wasserstein (CIE Lab, ≈ ΔE) of the previews' face region to the reference: source → adapted (changePct < 0 = closer); null when the face region is empty. */
  palette: { source: number; adapted: number; changePct: number } | null;
  /** Mean |Δdepth| on the source's foreground (world units) and as % of head depth. */
  depthDiff: number;
  depthDiffPct: number;
  /** Mean cosine of face descriptors (fixed face crop), only when the face model is already loaded; else null. */
  identity: number | null;
  /** Preview images it was measured on. */
  views: number;
  /** Time it added to the preview, ms. */
  milliseconds: number;
}

/**
 * μ_s of one encoder is ready (once per encoder and run, before training): how many source renders
 * it averages, its stability — the cosine between the normalised means of the even- and the
 * odd-indexed samples, NaN below 2 samples — and whether it came from the cache.
 */
export interface MeanEmbeddingEvent {
  type: 'mean-embedding';
  /** Encoder id (ModelInfo.id) and name. */
  encoder: string;
  encoderName: string;
  samples: number;
  stability: number;
  cached: boolean;
}

// ---- orbit videos (src/engine/video.ts; the camera path of EG3D's gen_videos.py, src/eg3d/orbit.ts) ----

/** What each frame shows per latent: the base generator, the adapted weights, or both (source left, adapted right). */
export type VideoContent = 'source' | 'adapted' | 'side-by-side';
export const VIDEO_CONTENTS: readonly VideoContent[] = ['source', 'adapted', 'side-by-side'];
/** Bounds of a VideoRequest (the engine refuses requests outside them). */
export const VIDEO_LIMITS = { seeds: 8, frames: 600, fps: 60 } as const;

/**
 * Video seeds from text: integers separated by commas or spaces, "3-6" ranges allowed (as gen_videos.py's
 * --seeds); null when a part is not a non-negative integer, or there are none or more than VIDEO_LIMITS.seeds.
 */
export function parseVideoSeeds(text: string): number[] | null {
  const out: number[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a || b - a >= VIDEO_LIMITS.seeds) return null;
      for (let s = a; s <= b; s++) out.push(s);
    } else if (/^\d+$/.test(part)) out.push(Number(part));
    else return null;
  }
  return out.length >= 1 && out.length <= VIDEO_LIMITS.seeds && out.every(Number.isSafeInteger) ? out : null;
}

/** An orbit video: one row per latent (seed), one column per shown generator. */
export interface VideoRequest {
  /** Latent seeds (z ~ N(0, I) from each), 1…8, one row each. */
  seeds: number[];
  content: VideoContent;
  /** Frames of one orbit, 2…600 (frame i at phase i / frames). */
  frames: number;
  /** Length of the clip in seconds (fps = frames / seconds, 1…60). */
  seconds: number;
  /** Truncation ψ (default 0.7, as the viewer). */
  psi?: number;
}

/** The encoded clip and what it took. */
export interface VideoResult {
  bytes: Uint8Array;
  /** 'video/webm', 'video/mp4' or 'image/apng'. */
  mimeType: string;
  /** File extension without the dot: 'webm', 'mp4' or 'png'. */
  extension: string;
  /** The codec as its encoder names it (e.g. 'vp09.00.10.08', 'apng'). */
  codec: string;
  width: number;
  height: number;
  frames: number;
  fps: number;
  seconds: number;
  /** Time spent rendering frames (the generator), and waiting for the writer (adding frames, finishing the file; a writer that encodes in the background while the next frame renders adds little). */
  renderSeconds: number;
  encodeSeconds: number;
}

/** Progress of `renderVideo()`: frames rendered and handed to the encoder. */
export interface VideoProgressEvent {
  type: 'video-progress';
  done: number;
  total: number;
}

/** Below this stability the direction still depends on which renders were drawn: more μ_s samples are worth it. */
export const MEAN_EMBEDDING_STABLE = 0.99;

export function isMeanEmbeddingStable(e: Pick<MeanEmbeddingEvent, 'stability'>): boolean {
  return e.stability >= MEAN_EMBEDDING_STABLE;
}

/** "μ_s · 512 samples · stability 0.998 (cached)", as the studio and the CLI show it. */
export function describeMeanEmbedding(e: Pick<MeanEmbeddingEvent, 'samples' | 'stability' | 'cached'>): string {
  // Rounded down, so a value under the threshold never prints as the threshold (0.9899 → 0.989) and only 1 prints as 1.000.
  const stability = Number.isFinite(e.stability) ? (Math.floor(e.stability * 1000 + 1e-9) / 1000).toFixed(3) : 'n/a (fewer than 2 samples)';
  return `μ_s · ${e.samples} sample${e.samples === 1 ? '' : 's'} · stability ${stability}${e.cached ? ' (cached)' : ''}`;
}

// ---- meshes (src/engine/mesh.ts: EG3D's gen_samples.py --shapes, marching cubes, GLB / PLY) ----

export type MeshFormat = 'glb' | 'ply';
export const MESH_FORMATS: readonly MeshFormat[] = ['glb', 'ply'];
/** The studio's default grid (points per axis); the official script samples 512³. */
export const DEFAULT_MESH_RESOLUTION = 256;

/** One latent's shape: the generator's raw σ on an N³ grid over its box, surface at the official level 10. */
export interface MeshRequest {
  /** Latent seed (z ~ N(0, I) from this seed, as render()). */
  seed: number;
  psi: number;
  /** The base generator or the engine's adapted weights. */
  weights: 'source' | 'adapted';
  /** Grid points per axis, 8…512 (memory: N³ floats; time grows as N³). */
  resolution: number;
  /** Taubin smoothing iterations (default 0: the surface as extracted). */
  smoothing?: number;
  /** σ level of the surface (default 10, the official one; generators with another density scale may need another). */
  level?: number;
  /** Vertex-clustering decimation with cells of this many grid steps (≥ 1; default none): faces fall roughly with its square. */
  decimate?: number;
  /** Files to write as well. */
  formats?: MeshFormat[];
  /** Compare with the rendered depth map (default true); camera yaw / pitch offsets from frontal (radians, default 0). */
  consistency?: boolean;
  yaw?: number;
  pitch?: number;
}

/** The mesh's depth from the render camera vs the volume-rendered depth map (world units, distance along each ray). */
export interface MeshConsistency {
  /** Mean |mesh − rendered| over the render's foreground pixels that the mesh covers. */
  meanError: number;
  /** The same as % of the head's depth (98th − 2nd percentile of the rendered foreground depth). */
  meanErrorPct: number;
  headDepth: number;
  /** Median signed difference (mesh − rendered; negative = the mesh lies in front of the expected ray termination) and the mean |difference − median|. */
  bias: number;
  residual: number;
  /** Pixels compared, and their share of the render's foreground. */
  pixels: number;
  coverage: number;
  /** Side of both depth maps (the neural rendering resolution). */
  resolution: number;
  /** Row-major depth maps (NaN where the mesh does not cover). */
  meshDepth: Float32Array;
  renderedDepth: Float32Array;
}

export interface ExtractedMesh {
  request: MeshRequest;
  weights: 'source' | 'adapted';
  /** [V·3] world positions (y up, the face toward +z), [F·3] counter-clockwise triangles, [V·3] unit normals, [V·3] RGB8. */
  positions: Float32Array;
  indices: Uint32Array;
  normals: Float32Array;
  colors: Uint8Array;
  vertices: number;
  faces: number;
  bounds: { min: [number, number, number]; max: [number, number, number] };
  /** The σ level of the surface, and the range of σ inside the trimmed grid (no surface when the level is outside it). */
  level: number;
  densityRange: [number, number];
  seconds: { density: number; surface: number; colours: number; consistency: number; total: number };
  consistency: MeshConsistency | null;
  files: Partial<Record<MeshFormat, Uint8Array>>;
}

/** Progress of `extractMesh()`: grid points sampled, the surface, vertex colours, the consistency render. */
export interface MeshProgressEvent {
  type: 'mesh-progress';
  stage: 'density' | 'surface' | 'colours' | 'consistency';
  done: number;
  total: number;
}

/** The code that crosses the worker boundary: the AppError kind (src/core/errors.ts). */
export type EngineErrorCode = ErrorKind;
const ENGINE_ERROR_CODES: readonly EngineErrorCode[] = ERROR_KINDS;

export function isEngineErrorCode(x: unknown): x is EngineErrorCode {
  return typeof x === 'string' && (ENGINE_ERROR_CODES as readonly string[]).includes(x);
}

export interface EngineErrorInfo {
  code: EngineErrorCode;
  message: string;
  /** The engine can no longer be used (its worker stopped): the UI starts a fresh one. */
  fatal?: boolean;
}

export interface AdapterEngine {
  /** Chooses and starts the compute backend (call once, before loading models). */
  probe(preference?: BackendPreference): Promise<Capabilities>;
  loadGenerator(source: GeneratorSource): Promise<ModelInfo>;
  loadEncoder(source: EncoderSource): Promise<ModelInfo>;
  unloadEncoder(id: string): Promise<void>;
  /** The reference image, already square-cropped by the UI (any size; the engine resizes). */
  setReference(image: RgbaImage): Promise<void>;
  /**
   * Runs the adaptation (μ_s, step 1 Tri-D, step 2 G2). Resolves when the run ends — finished or
   * cancelled (see the 'state' events) — and rejects with an EngineError when it fails; progress,
   * previews and checkpoints arrive as events meanwhile. `resumeFrom` = bytes of a 'checkpoint'
   * event: the run continues from that iteration with the same settings.
   */
  start(settings: AdaptSettings, resumeFrom?: Uint8Array): Promise<void>;
  /** Pauses after the current iteration (state 'paused'); resume() continues. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops after the current iteration; the adapted weights so far are kept (exportable). */
  cancel(): Promise<void>;
  /** Emits a 'checkpoint' event with the current weights and optimiser state (during or after a run). */
  checkpoint(): Promise<void>;
  /** Adapted Tri-D + G2 weights as .safetensors (official key names, PyTorch layouts, metadata). */
  exportSafetensors(): Promise<Uint8Array>;
  /** Full EG3D pickle with G_ema's Tri-D and G2 replaced (only when the base came from a .pkl). */
  exportPickle(): Promise<Uint8Array>;
  /** Loads a previously exported .safetensors onto the current base generator. */
  importAdapted(file: Blob): Promise<void>;
  /**
   * Mixes adapted domains: the listed parts (files exported on the current base generator; `file` the
   * first time a part is listed, then only its id) blended with one weight each become the adapted
   * weights (src/adapter/mix.ts). Parts not listed are dropped; an empty list drops the mix.
   */
  mixAdapted(parts: MixPartRequest[]): Promise<MixInfo>;
  /** Reads CLIP's BPE vocabulary (bpe_simple_vocab_16e6.txt(.gz) or a model's merges.txt) for the text tower; replaces the previous one. */
  loadVocabulary(file: Blob, name: string): Promise<VocabularyInfo>;
  /**
   * The most confident face of an image with its 68 landmarks and the FFHQ-aligned square crop they
   * give (src/evaluate/face-align.ts), in the image's pixels; null when no face is found. Loads the
   * evaluation's face model on first use.
   */
  detectFace(image: RgbaImage): Promise<FaceDetection | null>;
  render(request: RenderRequest): Promise<RgbaImage>;
  /**
   * The evaluation report: the source vs the current adapted weights over held-out latents × 5 views
   * ('evaluation-progress' events meanwhile). `cancelEvaluation()` stops it after the current latent:
   * it then resolves with the rows done (`result.stopped`), or rejects 'cancelled' when none was.
   */
  evaluate(request: EvaluationRequest): Promise<EngineEvaluation>;
  cancelEvaluation(): Promise<void>;
  /**
   * An orbit video (the camera path of EG3D's gen_videos.py) of the source, the adapted weights or
   * both, encoded by the platform's video writer ('video-progress' events meanwhile). `cancelVideo()`
   * stops it after the current frame: it then rejects 'cancelled' and no file is made.
   */
  renderVideo(request: VideoRequest): Promise<VideoResult>;
  cancelVideo(): Promise<void>;
  /**
   * One latent's mesh (density grid → marching cubes at level 10 → colours, files, consistency;
   * 'mesh-progress' events meanwhile). `cancelMesh()` stops it between grid chunks: it then rejects 'cancelled'.
   */
  extractMesh(request: MeshRequest): Promise<ExtractedMesh>;
  cancelMesh(): Promise<void>;
  subscribe(listener: (e: EngineEvent) => void): () => void;
  dispose(): Promise<void>;
}

/**
 * What every AdapterEngine method rejects with, in process and (re-created from its info) on the
 * worker client. Anything thrown inside the engine is mapped to one by `classifyError` (errors.ts).
 */
export class EngineError extends AppError {
  /** The kind, under the name the worker protocol and the UI store use. */
  readonly code: EngineErrorCode;

  /** The engine can no longer be used (a dead worker): see EngineErrorInfo.fatal. */
  readonly fatal: boolean;

  constructor(code: EngineErrorCode, message: string, options?: { cause?: unknown; fatal?: boolean }) {
    super(code, message);
    this.code = code;
    this.fatal = options?.fatal ?? false;
    if (options && 'cause' in options) this.cause = options.cause;
  }

  toInfo(): EngineErrorInfo {
    return this.fatal ? { code: this.code, message: this.message, fatal: true } : { code: this.code, message: this.message };
  }
}

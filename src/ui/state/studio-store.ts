/**
 * The studio's state (zustand vanilla store, so the logic is testable in Node without React).
 * Only plain data lives here; the StudioController (controller.ts) and its slices own the engine and
 * perform actions.
 */
import { createStore } from 'zustand/vanilla';
import type {
  AdaptPhase,
  AdaptSettings,
  BackendPreference,
  Capabilities,
  EngineErrorInfo,
  EngineEvent,
  MeanEmbeddingEvent,
  ModelInfo,
  RenderMode,
  RunState,
} from '../../engine/types.ts';
import { defaultSettings } from './settings.ts';
import { emptyHistory, type LossHistory } from './loss-history.ts';
import type { CropRect } from '../reference/crop.ts';
import type { DecodedImage } from '../reference/image-toolkit.ts';
import { initialEvaluation, type EvaluationState } from './evaluate-slice.ts';
import { initialVideo, type VideoState } from './video-slice.ts';
import { initialMix, type MixState } from './mix-slice.ts';
import { initialZeroShot, zeroShotReady, type ZeroShotState } from './zero-shot-slice.ts';
import { initialMesh, type MeshState } from './mesh-slice.ts';

export interface LoadingState {
  target: 'generator' | 'encoder';
  fileName: string;
  what: string;
  loaded: number;
  total: number;
}

export interface RunProgress {
  state: RunState;
  message?: string;
  phase: AdaptPhase | null;
  iteration: number;
  phaseIterations: number;
  globalIteration: number;
  totalIterations: number;
  itPerSec: number;
  etaSeconds: number;
}

export interface CheckpointInfo {
  globalIteration: number;
  totalIterations: number;
  savedAt: number;
  /** The generator the checkpoint belongs to. */
  generatorId: string | null;
  /** True when it was read back from storage after a reload (not produced in this session). */
  restored: boolean;
  /** True once it is in the browser's storage (a reload brings it back); false while it is being written. */
  stored: boolean;
}

export type PreviewEvent = Extract<EngineEvent, { type: 'preview' }>;

/** μ_s of one encoder of the current run: sample count, half-sample stability, from the cache or not. */
export type MeanEmbeddingReport = Omit<MeanEmbeddingEvent, 'type'>;

export type ViewChoice = 'source' | 'adapted' | 'split';

export interface ViewerState {
  yaw: number;
  pitch: number;
  /** Display magnification of the render, 1 = fit. */
  zoom: number;
  mode: RenderMode;
  view: ViewChoice;
  /** Before/after split position, 0..1 from the left (left = source). */
  split: number;
  strength: number;
  /** Latent seed shown in the orbit view. */
  seed: number;
  psi: number;
  /** Latent seeds of the multi-view strip. */
  stripSeeds: number[];
}

export interface ReferenceState {
  image: DecodedImage;
  crop: CropRect;
  origin: 'file' | 'example' | 'restored';
  /** True once the engine accepted the cropped image. */
  applied: boolean;
  /** The face-aware crop of a dropped image (reference-slice.ts): detection status, landmarks in the image's pixels. */
  face?: ReferenceFace;
}

export interface ReferenceFace {
  status: 'detecting' | 'found' | 'none' | 'unavailable';
  landmarks?: { x: number; y: number }[];
  score?: number;
  /** The proposed FFHQ-aligned crop ("Use the face crop" restores it after the user moved it). */
  proposal?: CropRect;
  message?: string;
}

export interface StudioState {
  /** The compute backend asked for at start-up ('auto' unless the user chose one). */
  backendPreference: BackendPreference;
  capabilities: Capabilities | null;
  probeError: string | null;
  persistent: boolean;

  generator: ModelInfo | null;
  encoders: ModelInfo[];
  cachedModels: ModelInfo[];
  loading: LoadingState | null;
  modelError: string | null;
  /** What would fix the last model load failure (e.g. dropping the model's config JSON with its weights). */
  modelHint: string | null;

  reference: ReferenceState | null;
  referenceError: string | null;
  referenceBusy: boolean;

  settings: AdaptSettings;
  settingsError: string | null;

  run: RunProgress;
  /** μ_s per encoder of the current (or last) run, in the order the engine reported them. */
  meanEmbeddings: MeanEmbeddingReport[];
  losses: LossHistory;
  preview: PreviewEvent | null;
  checkpoint: CheckpointInfo | null;
  /** Whether the engine holds adapted weights worth showing (a run made progress, or weights were imported). */
  adaptedAvailable: boolean;
  /** Increments whenever the adapted weights may have changed, so views re-render. */
  weightsVersion: number;
  engineError: EngineErrorInfo | null;
  engineLost: boolean;
  notice: string | null;

  viewer: ViewerState;
  /** The evaluation report (evaluate-slice.ts). */
  evaluation: EvaluationState;
  /** The domain mix of adapted-weights files (mix-slice.ts). */
  mix: MixState;
  /** CLIP's BPE vocabulary for zero-shot runs (zero-shot-slice.ts); the text target is `settings.text`. */
  zeroShot: ZeroShotState;
  /** The orbit video (video-slice.ts). */
  video: VideoState;
  /** Mesh mode and the mesh exports (mesh-slice.ts). */
  mesh: MeshState;
}

export const STRIP_YAWS = [-0.5, -0.25, 0, 0.25, 0.5];
export const YAW_LIMIT = 0.6;
export const PITCH_LIMIT = 0.35;

export function initialRun(): RunProgress {
  return {
    state: 'idle',
    phase: null,
    iteration: 0,
    phaseIterations: 0,
    globalIteration: 0,
    totalIterations: 0,
    itPerSec: 0,
    etaSeconds: NaN,
  };
}

export function initialViewer(): ViewerState {
  return {
    yaw: 0,
    pitch: 0,
    zoom: 1,
    mode: 'rgb',
    view: 'adapted',
    split: 0.5,
    strength: 1,
    seed: 7,
    psi: 0.7,
    stripSeeds: [11, 23, 42],
  };
}

export function initialState(): StudioState {
  return {
    backendPreference: 'auto',
    capabilities: null,
    probeError: null,
    persistent: false,
    generator: null,
    encoders: [],
    cachedModels: [],
    loading: null,
    modelError: null,
    modelHint: null,
    reference: null,
    referenceError: null,
    referenceBusy: false,
    settings: defaultSettings(),
    settingsError: null,
    run: initialRun(),
    meanEmbeddings: [],
    losses: emptyHistory(),
    preview: null,
    checkpoint: null,
    adaptedAvailable: false,
    weightsVersion: 0,
    engineError: null,
    engineLost: false,
    notice: null,
    viewer: initialViewer(),
    evaluation: initialEvaluation(),
    mix: initialMix(),
    zeroShot: initialZeroShot(),
    video: initialVideo(),
    mesh: initialMesh(),
  };
}

export function createStudioStore() {
  return createStore<StudioState>()(() => initialState());
}

export type StudioStore = ReturnType<typeof createStudioStore>;

/** Run states in which a new run may be started. */
export function canStart(s: StudioState): boolean {
  const st = s.run.state;
  return (
    s.generator !== null &&
    // A reference image, or a zero-shot text target that can run (then the reference is optional).
    (s.settings.text ? zeroShotReady(s) : s.reference !== null && s.reference.applied) &&
    s.loading === null &&
    s.evaluation.status !== 'running' &&
    s.video.status !== 'running' &&
    (st === 'idle' || st === 'done' || st === 'cancelled' || st === 'error')
  );
}

export function isActive(state: RunState): boolean {
  return state === 'preparing' || state === 'running' || state === 'paused';
}

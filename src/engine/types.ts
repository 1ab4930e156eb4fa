/**
 * The one interface the UI (and the CLI) talk to. Implemented in-process by the engine
 * (src/engine/local-engine.ts, pure TS: Node or inside the worker) and, over postMessage, by the
 * worker client (src/worker/client.ts). Everything crossing it is structured-cloneable.
 */

export type BackendKind = 'webgpu' | 'wasm' | 'cpu';
/**
 * Which backend to start. 'auto' takes WebGPU on a hardware adapter; with only a software adapter
 * (SwiftShader, i.e. the CPU) it takes WebAssembly, which trains ~10–20× faster there.
 */
export type BackendPreference = 'auto' | BackendKind;
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'webgpu', 'wasm', 'cpu'];

export interface Capabilities {
  backend: BackendKind;
  /** What was asked for (the start-up preference). */
  preference?: BackendPreference;
  /** WebGPU adapter details when a WebGPU adapter was found. */
  adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean; maxBufferSize: number };
  /** Plain-language explanation of what was found and what it means for speed. */
  summary: string;
}

/** RGBA8 image, row-major, width × height × 4. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

export type GeneratorSource =
  | { kind: 'embedded' }
  | { kind: 'file'; file: Blob; name: string }
  | { kind: 'cached'; id: string };

export type EncoderSource =
  | { kind: 'embedded' }
  | { kind: 'file'; file: Blob; name: string }
  | { kind: 'cached'; id: string };

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
  | { type: 'preview'; globalIteration: number; source: RgbaImage[]; adapted: RgbaImage[]; yaws: number[]; seeds: number[] }
  | { type: 'checkpoint'; globalIteration: number; bytes: Uint8Array }
  | { type: 'error'; error: EngineErrorInfo };

export type EngineErrorCode =
  | 'no-webgpu'
  | 'device-lost'
  | 'out-of-memory'
  | 'bad-reference'
  | 'incompatible-file'
  | 'corrupt-file'
  | 'not-ready'
  | 'cancelled'
  | 'internal';

export interface EngineErrorInfo {
  code: EngineErrorCode;
  message: string;
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
  checkpoint?(): Promise<void>;
  /** Adapted Tri-D + G2 weights as .safetensors (official key names, PyTorch layouts, metadata). */
  exportSafetensors(): Promise<Uint8Array>;
  /** Full EG3D pickle with G_ema's Tri-D and G2 replaced (only when the base came from a .pkl). */
  exportPickle(): Promise<Uint8Array>;
  /** Loads a previously exported .safetensors onto the current base generator. */
  importAdapted(file: Blob): Promise<void>;
  render(request: RenderRequest): Promise<RgbaImage>;
  subscribe(listener: (e: EngineEvent) => void): () => void;
  dispose(): Promise<void>;
}

export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
  toInfo(): EngineErrorInfo {
    return { code: this.code, message: this.message };
  }
}

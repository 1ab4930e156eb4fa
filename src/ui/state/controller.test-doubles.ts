/**
 * Test doubles shared by the controller's slice tests: an in-memory engine that records calls and lets a
 * test emit events, an image toolkit whose "images" are blobs reading `WxH`, and a booted controller.
 */
import {
  EngineError,
  type AdaptSettings,
  type AdapterEngine,
  type BackendPreference,
  type EncoderSource,
  type EngineEvaluation,
  type EngineEvent,
  type EvaluationRequest,
  type ExtractedMesh,
  type FaceDetection,
  type GeneratorSource,
  type MeshRequest,
  type MixInfo,
  type MixPartRequest,
  type ModelInfo,
  type RgbaImage,
  type VocabularyInfo,
  type VideoRequest,
  type VideoResult,
} from '../../engine/types.ts';
import { MemoryStore } from '../persist/kv-store.ts';
import { ReferenceImageError, type DecodedImage, type ImageToolkit } from '../reference/image-toolkit.ts';
import { StudioController } from './controller.ts';
import { createStudioStore } from './studio-store.ts';

export const model = (id: string, kind: 'generator' | 'encoder', origin: 'embedded' | 'file' = 'embedded'): ModelInfo => ({
  id,
  kind,
  name: id,
  origin,
  sha256: id.padEnd(64, '0'),
  summary: `${kind} ${id}`,
  parameters: 1000,
});

/** An in-memory engine that records calls and lets the test emit events. */
export class FakeEngine implements AdapterEngine {
  calls: Array<[string, unknown[]]> = [];
  listeners = new Set<(e: EngineEvent) => void>();
  references: RgbaImage[] = [];
  imported: Blob[] = [];
  failNextGenerator: EngineError | null = null;
  rejectImport = false;

  emit(e: EngineEvent) {
    for (const l of this.listeners) l(e);
  }
  private log(name: string, ...args: unknown[]) {
    this.calls.push([name, args]);
  }
  callsOf(name: string) {
    return this.calls.filter((c) => c[0] === name).map((c) => c[1]);
  }
  async probe(preference?: BackendPreference) {
    this.log('probe', preference);
    return { backend: 'wasm' as const, summary: 'No WebGPU adapter: training runs on the CPU (slow).' };
  }
  async loadGenerator(source: GeneratorSource) {
    this.log('loadGenerator', source);
    if (this.failNextGenerator) {
      const e = this.failNextGenerator;
      this.failNextGenerator = null;
      throw e;
    }
    if (source.kind === 'embedded') return model('demo-gen', 'generator');
    if (source.kind === 'file') return model(source.name, 'generator', 'file');
    return model(source.id, 'generator', 'file');
  }
  failNextEncoder: EngineError | null = null;
  async loadEncoder(source?: EncoderSource) {
    this.log('loadEncoder', source);
    if (this.failNextEncoder) {
      const e = this.failNextEncoder;
      this.failNextEncoder = null;
      throw e;
    }
    if (source?.kind === 'file') return model(source.name, 'encoder', 'file');
    return model('mobilenet', 'encoder');
  }
  async unloadEncoder(id: string) {
    this.log('unloadEncoder', id);
  }
  async setReference(image: RgbaImage) {
    this.log('setReference', image);
    this.references.push(image);
  }
  async start(settings: AdaptSettings, resumeFrom?: Uint8Array) {
    this.log('start', settings, resumeFrom);
  }
  async pause() {
    this.log('pause');
  }
  async resume() {
    this.log('resume');
  }
  async cancel() {
    this.log('cancel');
  }
  checkpointBytes: Uint8Array | null = null;
  async checkpoint() {
    this.log('checkpoint');
    if (!this.checkpointBytes) throw new EngineError('not-ready', 'there are no adapted weights to checkpoint yet');
    this.emit({ type: 'checkpoint', globalIteration: 1, bytes: this.checkpointBytes });
  }
  async exportSafetensors() {
    return new Uint8Array([1, 2, 3]);
  }
  async exportPickle(): Promise<Uint8Array> {
    throw new EngineError('not-ready', 'the base generator did not come from a pickle');
  }
  async importAdapted(file: Blob) {
    this.log('importAdapted', file);
    if (this.rejectImport) throw new EngineError('incompatible-file', 'made for another base generator');
    this.imported.push(file);
  }
  // The slices' own tests (mix-, zero-shot-, mesh-slice, crop-face) subclass these; by default the test
  // engine refuses them the way an engine without the model or file would.
  async mixAdapted(parts: MixPartRequest[]): Promise<MixInfo> {
    this.log('mixAdapted', parts);
    throw new EngineError('not-ready', 'the test engine mixes nothing');
  }
  async loadVocabulary(_file: Blob, name: string): Promise<VocabularyInfo> {
    this.log('loadVocabulary', name);
    throw new EngineError('incompatible-file', `${name}: the test engine reads no vocabulary`);
  }
  async detectFace(image: RgbaImage): Promise<FaceDetection | null> {
    this.log('detectFace', image);
    throw new EngineError('not-ready', 'the test engine has no face model');
  }
  async extractMesh(request: MeshRequest): Promise<ExtractedMesh> {
    this.log('extractMesh', request);
    throw new EngineError('not-ready', 'the test engine extracts no meshes');
  }
  async cancelMesh() {
    this.log('cancelMesh');
  }
  async render(): Promise<RgbaImage> {
    return { width: 1, height: 1, data: new Uint8ClampedArray(4) };
  }
  /** What evaluate() resolves with (default: fakeEvaluation(request.latents)); `evaluationGate` holds it until released. */
  evaluation: ((r: EvaluationRequest) => EngineEvaluation) | EngineError = (r) => fakeEvaluation(r.latents);
  evaluationGate: Promise<void> | null = null;
  evaluationCancelled = false;
  async evaluate(request: EvaluationRequest): Promise<EngineEvaluation> {
    this.log('evaluate', request);
    this.evaluationCancelled = false;
    this.emit({ type: 'evaluation-progress', stage: 'evaluating', what: 'held-out latents', done: 0, total: request.latents });
    if (this.evaluationGate) await this.evaluationGate;
    if (this.evaluation instanceof EngineError) throw this.evaluation;
    const out = this.evaluation(request);
    if (this.evaluationCancelled) {
      if (out.result.rows.length <= 1) throw new EngineError('cancelled', 'the evaluation was cancelled before its first latent');
      return { ...out, result: { ...out.result, rows: out.result.rows.slice(0, 1), stopped: true } };
    }
    return out;
  }
  async cancelEvaluation() {
    this.log('cancelEvaluation');
    this.evaluationCancelled = true;
  }
  /** renderVideo() emits progress for every frame, waits for `videoGate` after the first, then resolves (or rejects 'cancelled' after cancelVideo()). */
  videoGate: Promise<void> | null = null;
  videoCancelled = false;
  async renderVideo(request: VideoRequest): Promise<VideoResult> {
    this.log('renderVideo', request);
    this.videoCancelled = false;
    for (let i = 0; i <= request.frames; i++) {
      this.emit({ type: 'video-progress', done: i, total: request.frames });
      if (i === 1 && this.videoGate) await this.videoGate;
      if (this.videoCancelled) throw new EngineError('cancelled', 'the video was cancelled');
    }
    const columns = request.content === 'side-by-side' ? 2 : 1;
    return {
      bytes: Uint8Array.of(0x1a, 0x45, 0xdf, 0xa3),
      mimeType: 'video/webm',
      extension: 'webm',
      codec: 'vp09.00.10.08',
      width: 64 * columns,
      height: 64 * request.seeds.length,
      frames: request.frames,
      fps: request.frames / request.seconds,
      seconds: request.seconds,
      renderSeconds: 1,
      encodeSeconds: 0.1,
    };
  }
  async cancelVideo() {
    this.log('cancelVideo');
    this.videoCancelled = true;
  }
  subscribe(l: (e: EngineEvent) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  async dispose() {}
}

/** A plausible evaluation of `latents` latents × 5 views (thumbnails 2², palette closer to the reference by 40 %). */
export function fakeEvaluation(latents: number): EngineEvaluation {
  const img = (v: number): RgbaImage => ({ width: 2, height: 2, data: new Uint8ClampedArray(16).fill(v) });
  const yaws = [-0.4, -0.2, 0, 0.2, 0.4];
  const rows = Array.from({ length: latents }, (_, k) => ({
    latent: k,
    latentSeed: 1000 + k,
    identity: 0.9,
    identityCrop: 'fixed' as const,
    detectedViews: 0,
    depthDiff: 0.01,
    depthDiffPct: 2,
    headDepth: 0.5,
    palette: { source: 20, adapted: 12 },
    texture: { source: 1, adapted: 0.8 },
    clip: [],
    consistency: { source: 0.05, adapted: 0.06 },
    thumbnails: { source: yaws.map(() => img(10)), adapted: yaws.map(() => img(200)) },
  }));
  return {
    result: {
      version: 1,
      options: {
        latents,
        seed: 0,
        yaws,
        pitch: 0,
        psi: 0.7,
        thumbnailSize: 2,
        swProjections: 64,
        swQuantiles: 128,
        swSeed: 0,
        visibilityTolerance: 0.05,
        fixedFaceBox: { x: 0.25, y: 0.25, width: 0.5, height: 0.55 },
        paletteReference: 'face-box',
      },
      frontalView: 2,
      measures: { identity: 'face descriptors (stand-in for ArcFace)' },
      rows,
      means: {
        identity: 0.9,
        depthDiff: 0.01,
        depthDiffPct: 2,
        headDepth: 0.5,
        palette: { source: 20, adapted: 12 },
        paletteChangePct: -40,
        texture: { source: 1, adapted: 0.8 },
        textureChangePct: -20,
        clip: [],
        consistency: { source: 0.05, adapted: 0.06 },
        detectedLatents: 0,
        fixedCropLatents: latents,
      },
      stopped: false,
      seconds: 1,
    },
    generatorId: 'demo-gen',
    adaptedIterations: { triD: 2, g2: 1 },
    adaptedMetadata: {
      baseGeneratorSha256: 'demo-gen'.padEnd(64, '0'),
      baseGeneratorName: 'demo-gen',
      encoders: [],
      settings: {},
      seed: 0,
      iterations: { triD: 2, g2: 1 },
      lossHistory: [],
      createdAt: new Date(0).toISOString(),
    },
    reference: true,
    identityModel: 'face-api face recognition (128-d, stand-in for ArcFace)',
    textureModel: 'InceptionV3 (nsfwjs) Gram matrices',
    notes: [],
    clipEncoders: [],
  };
}

/** Images are "decoded" from blobs whose text is `WxH`; anything else is not an image. */
export class FakeImages implements ImageToolkit {
  released: DecodedImage[] = [];
  /** When set, decoding waits for this promise (a slow, huge image). */
  decodeGate: Promise<void> | null = null;
  async decode(file: Blob, name: string): Promise<DecodedImage> {
    if (this.decodeGate) await this.decodeGate;
    const m = /^(\d+)x(\d+)$/.exec(await file.text());
    if (!m) throw new ReferenceImageError('not-image', `${name} is not an image`);
    const w = Number(m[1]), h = Number(m[2]);
    return { name, width: w, height: h, originalWidth: w, originalHeight: h, scaled: false, bitmap: null };
  }
  crop(_img: DecodedImage, crop: { x: number; y: number; size: number }, outSize: number): RgbaImage {
    const size = Math.min(outSize, crop.size);
    const data = new Uint8ClampedArray(size * size * 4).fill(crop.x % 256);
    return { width: size, height: size, data };
  }
  async encode(img: DecodedImage): Promise<Blob> {
    return new Blob([`${img.width}x${img.height}`]);
  }
  async example(id: string): Promise<DecodedImage> {
    return { name: id, width: 512, height: 512, originalWidth: 512, originalHeight: 512, scaled: false, bitmap: null };
  }
  release(img: DecodedImage) {
    this.released.push(img);
  }
}

export async function boot(kv = new MemoryStore(), engine = new FakeEngine()) {
  const store = createStudioStore();
  const c = new StudioController(engine, store, kv, new FakeImages(), { now: () => 1234 });
  await c.init();
  return { c, store, engine, kv };
}

export const progress = (globalIteration: number, phase: 'tri-d' | 'g2' = 'tri-d'): EngineEvent => ({
  type: 'progress',
  phase,
  iteration: globalIteration,
  phaseIterations: 3,
  globalIteration,
  totalIterations: 5,
  losses: { total: 10 - globalIteration, dir: 1, dis: 2, imageStructure: 3, featureStructure: 4 },
  itPerSec: 0.5,
  etaSeconds: 8,
});

export const tick = () => new Promise((r) => setTimeout(r, 0));

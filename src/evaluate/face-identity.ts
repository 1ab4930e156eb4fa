/**
 * Identity similarity of the evaluation report: 128-d face descriptors from `@vladmandic/face-api`
 * (MIT; SSD-MobileNetV1 face detector, 68-point landmarks, a ResNet-34-like recognition network
 * trained for face verification) — a stand-in for the ArcFace network the 3D-Adapter paper uses.
 *
 * The face-api module and its weight files are injected: the caller imports the build that shares its
 * tfjs instance (Node: `@vladmandic/face-api/dist/face-api.node-wasm.js`, which requires the same
 * `@tensorflow/tfjs`; bundlers: the `esm-nobundle` build) and reads the weights from
 * `node_modules/@vladmandic/face-api/model/` (files in Node, asset URLs in the browser). No file I/O here.
 */
import * as tf from '@tensorflow/tfjs';
import { FormatError, InternalError } from '../core/errors.ts';
import type { EvalImage, FaceBox, FaceEmbedder } from './types.ts';

/** A face-api network (the subset this module uses). */
export interface FaceApiNet {
  loadFromWeightMap(weightMap: tf.NamedTensorMap): void;
  readonly isLoaded: boolean;
  dispose(throwOnRedispose?: boolean): void;
}

interface FaceApiDetection {
  descriptor: Float32Array;
  detection: { box: { x: number; y: number; width: number; height: number }; score: number };
}

interface FaceApiLandmarkDetection {
  detection: { box: { x: number; y: number; width: number; height: number }; score: number };
  landmarks: { positions: { x: number; y: number }[] };
}

/** The structural subset of the `@vladmandic/face-api` module this evaluator uses. */
export interface FaceApiModule {
  nets: {
    ssdMobilenetv1: FaceApiNet;
    faceLandmark68Net: FaceApiNet;
    faceRecognitionNet: FaceApiNet & { computeFaceDescriptor(input: unknown): Promise<Float32Array | Float32Array[]> };
  };
  SsdMobilenetv1Options: new (o: { minConfidence?: number; maxResults?: number }) => unknown;
  detectSingleFace(input: unknown, options: unknown): {
    withFaceLandmarks(): PromiseLike<FaceApiLandmarkDetection | undefined> & { withFaceDescriptor(): Promise<FaceApiDetection | undefined> };
  };
}

/** One face-api weight file pair: `<name>-weights_manifest.json` (parsed) and `<name>.bin`. */
export interface FaceApiWeights {
  manifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  bin: Uint8Array;
}

export interface FaceApiModelFiles {
  /** `ssd_mobilenetv1_model` */
  detector: FaceApiWeights;
  /** `face_landmark_68_model` */
  landmarks: FaceApiWeights;
  /** `face_recognition_model` */
  recognition: FaceApiWeights;
}

/** The file names (without suffix) of the three networks inside `@vladmandic/face-api/model/`. */
export const FACE_API_MODEL_NAMES = { detector: 'ssd_mobilenetv1_model', landmarks: 'face_landmark_68_model', recognition: 'face_recognition_model' } as const;

function weightMap(w: FaceApiWeights, what: string): tf.NamedTensorMap {
  const specs = w.manifest.flatMap((g) => g.weights);
  const bytes = w.bin.byteOffset === 0 && w.bin.byteLength === w.bin.buffer.byteLength ? w.bin : w.bin.slice();
  try {
    return tf.io.decodeWeights(bytes.buffer as ArrayBuffer, specs);
  } catch (e) {
    throw new FormatError(`face-api ${what} weights do not match their manifest: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface FaceApiEmbedderOptions {
  /** Detector confidence threshold (default 0.5). */
  minConfidence?: number;
}

/** Image (RGBA8) → float tensor [H, W, 3] in 0..255, face-api's input convention. */
function imageTensor(image: EvalImage): tf.Tensor3D {
  return tf.tidy(() => {
    const rgba = tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, 4]);
    return tf.slice(rgba, [0, 0, 0], [image.height, image.width, 3]) as tf.Tensor3D;
  });
}

export class FaceApiEmbedder implements FaceEmbedder {
  readonly name = 'face-api face recognition (128-d, stand-in for ArcFace)';
  private disposed = false;

  private constructor(
    private readonly api: FaceApiModule,
    private readonly options: Required<FaceApiEmbedderOptions>,
  ) {}

  /** Loads the three networks' weights into the injected face-api module. */
  static create(api: FaceApiModule, files: FaceApiModelFiles, opts: FaceApiEmbedderOptions = {}): FaceApiEmbedder {
    api.nets.ssdMobilenetv1.loadFromWeightMap(weightMap(files.detector, 'detector'));
    api.nets.faceLandmark68Net.loadFromWeightMap(weightMap(files.landmarks, 'landmark'));
    api.nets.faceRecognitionNet.loadFromWeightMap(weightMap(files.recognition, 'recognition'));
    return new FaceApiEmbedder(api, { minConfidence: opts.minConfidence ?? 0.5 });
  }

  private check(): void {
    if (this.disposed) throw new InternalError('face embedder has been disposed');
  }

  async detect(image: EvalImage): Promise<{ box: FaceBox; score: number; descriptor: Float32Array } | null> {
    this.check();
    const t = imageTensor(image);
    try {
      const r = await this.api
        .detectSingleFace(t, new this.api.SsdMobilenetv1Options({ minConfidence: this.options.minConfidence, maxResults: 1 }))
        .withFaceLandmarks()
        .withFaceDescriptor();
      if (!r) return null;
      const b = r.detection.box;
      return { box: { x: b.x, y: b.y, width: b.width, height: b.height }, score: r.detection.score, descriptor: Float32Array.from(r.descriptor) };
    } finally {
      t.dispose();
    }
  }

  async landmarks(image: EvalImage): Promise<{ box: FaceBox; score: number; points: { x: number; y: number }[] } | null> {
    this.check();
    const t = imageTensor(image);
    try {
      const r = await this.api.detectSingleFace(t, new this.api.SsdMobilenetv1Options({ minConfidence: this.options.minConfidence, maxResults: 1 })).withFaceLandmarks();
      if (!r) return null;
      const b = r.detection.box;
      return { box: { x: b.x, y: b.y, width: b.width, height: b.height }, score: r.detection.score, points: r.landmarks.positions.map((p) => ({ x: p.x, y: p.y })) };
    } finally {
      t.dispose();
    }
  }

  async describeCrop(image: EvalImage, box: FaceBox): Promise<Float32Array> {
    this.check();
    const x0 = Math.max(0, Math.round(box.x));
    const y0 = Math.max(0, Math.round(box.y));
    const w = Math.min(image.width - x0, Math.round(box.width));
    const h = Math.min(image.height - y0, Math.round(box.height));
    if (w < 1 || h < 1) throw new InternalError(`face crop [${box.x}, ${box.y}, ${box.width}, ${box.height}] lies outside the ${image.width}×${image.height} image`);
    const crop = tf.tidy(() => {
      const t = imageTensor(image);
      return tf.slice(t, [y0, x0, 0], [h, w, 3]) as tf.Tensor3D;
    });
    try {
      const d = await this.api.nets.faceRecognitionNet.computeFaceDescriptor(crop);
      return Float32Array.from(Array.isArray(d) ? d[0] : d);
    } finally {
      crop.dispose();
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.api.nets.ssdMobilenetv1.dispose(false);
    this.api.nets.faceLandmark68Net.dispose(false);
    this.api.nets.faceRecognitionNet.dispose(false);
  }
}

/** Cosine similarity of two vectors (0 when either is zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new InternalError(`cosine of vectors of different lengths (${a.length}, ${b.length})`);
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa > 0 && bb > 0 ? ab / Math.sqrt(aa * bb) : 0;
}

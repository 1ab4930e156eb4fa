/**
 * The browser's (worker's) loaders for the evaluation report's networks (src/engine/evaluation.ts
 * EvaluationLoaders). face-api comes from its `esm-nobundle` build, which imports `@tensorflow/tfjs`
 * itself — in the bundle that is the app's one tfjs instance, so its networks run on the engine's
 * backend — and is imported only when the first evaluation asks for it. Its weight files are Vite
 * assets (`?url`), fetched from the page's own origin: no network beyond the local server.
 */
import { InternalError } from '../core/errors.ts';
import detectorManifestUrl from '@vladmandic/face-api/model/ssd_mobilenetv1_model-weights_manifest.json?url';
import detectorBinUrl from '@vladmandic/face-api/model/ssd_mobilenetv1_model.bin?url';
import landmarksManifestUrl from '@vladmandic/face-api/model/face_landmark_68_model-weights_manifest.json?url';
import landmarksBinUrl from '@vladmandic/face-api/model/face_landmark_68_model.bin?url';
import recognitionManifestUrl from '@vladmandic/face-api/model/face_recognition_model-weights_manifest.json?url';
import recognitionBinUrl from '@vladmandic/face-api/model/face_recognition_model.bin?url';

/** One network's weight files: the parsed manifest and the weights. */
export interface FaceApiFilePair {
  manifest: unknown;
  bin: Uint8Array;
}

async function fetchAsset(url: string): Promise<Response> {
  const href = new URL(url, globalThis.location.href).href;
  const res = await fetch(href);
  if (!res.ok) throw new InternalError(`could not fetch the face model file ${href} (HTTP ${res.status})`);
  return res;
}

async function pair(manifestUrl: string, binUrl: string): Promise<FaceApiFilePair> {
  const [manifest, bin] = await Promise.all([fetchAsset(manifestUrl).then((r) => r.json() as Promise<unknown>), fetchAsset(binUrl).then(async (r) => new Uint8Array(await r.arrayBuffer()))]);
  return { manifest, bin };
}

/** The part of face-api's `env` used here: a worker has no DOM, so face-api finds no environment of its own. */
interface FaceApiEnv {
  isBrowser(): boolean;
  isNodejs(): boolean;
  setEnv(env: unknown): void;
}

/** Never an instance of anything: the evaluation passes tensors, not media elements. */
class NoMediaElement {}

/**
 * Inside a worker face-api's own check finds neither a browser nor Node and leaves its environment
 * unset, which its input check reads; give it one built on what a worker has (OffscreenCanvas).
 */
function installWorkerEnvironment(env: FaceApiEnv): void {
  if (env.isBrowser() || env.isNodejs()) return;
  const g = globalThis as unknown as Record<string, unknown>;
  const unsupported = () => {
    throw new InternalError('face-api: media elements are not available in the engine worker');
  };
  env.setEnv({
    Canvas: g.OffscreenCanvas ?? NoMediaElement,
    CanvasRenderingContext2D: g.OffscreenCanvasRenderingContext2D ?? NoMediaElement,
    Image: NoMediaElement,
    ImageData: g.ImageData ?? NoMediaElement,
    Video: NoMediaElement,
    createCanvasElement: () => (typeof OffscreenCanvas === 'function' ? new OffscreenCanvas(1, 1) : unsupported()),
    createImageElement: unsupported,
    createVideoElement: unsupported,
    fetch: (input: RequestInfo | URL, init?: RequestInit) => fetch(input, init),
    readFile: unsupported,
  });
}

/** face-api (sharing the app's tfjs) and the weight files of its detector, landmark and recognition networks. */
export async function loadBrowserFaceApi(): Promise<{ api: unknown; files: { detector: FaceApiFilePair; landmarks: FaceApiFilePair; recognition: FaceApiFilePair } }> {
  const [api, detector, landmarks, recognition] = await Promise.all([
    import('@vladmandic/face-api/dist/face-api.esm-nobundle.js') as Promise<unknown>,
    pair(detectorManifestUrl, detectorBinUrl),
    pair(landmarksManifestUrl, landmarksBinUrl),
    pair(recognitionManifestUrl, recognitionBinUrl),
  ]);
  const env = (api as { env?: FaceApiEnv }).env;
  if (!env || typeof env.setEnv !== 'function') throw new InternalError('face-api: the module has no env');
  installWorkerEnvironment(env);
  return { api, files: { detector, landmarks, recognition } };
}

/**
 * Node's loaders for the evaluation report's networks (src/engine/evaluation.ts EvaluationLoaders):
 * face-api's `node-wasm` build, which requires this project's `@tensorflow/tfjs` (one tfjs instance),
 * and its weight files read from the package's `model/` folder.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

const require = createRequire(import.meta.url);

/** One network's weight files: the parsed manifest and the weights. */
export interface FaceApiFilePair {
  manifest: unknown;
  bin: Uint8Array;
}

/** face-api sharing this process's tfjs (the backend in use is kept) and the weight files of its detector, landmark and recognition networks. */
export function loadFaceApiNode(): { api: unknown; files: { detector: FaceApiFilePair; landmarks: FaceApiFilePair; recognition: FaceApiFilePair } } {
  const before = tf.getBackend();
  const api = require('@vladmandic/face-api/dist/face-api.node-wasm.js') as unknown;
  if (before && tf.getBackend() !== before) void tf.setBackend(before);
  const dir = join(dirname(require.resolve('@vladmandic/face-api/package.json')), 'model');
  const read = (name: string): FaceApiFilePair => ({
    manifest: JSON.parse(readFileSync(join(dir, `${name}-weights_manifest.json`), 'utf8')) as unknown,
    bin: new Uint8Array(readFileSync(join(dir, `${name}.bin`))),
  });
  return { api, files: { detector: read('ssd_mobilenetv1_model'), landmarks: read('face_landmark_68_model'), recognition: read('face_recognition_model') } };
}

/** The same, as the engine's asynchronous loader. */
export async function loadNodeFaceApi(): Promise<ReturnType<typeof loadFaceApiNode>> {
  return loadFaceApiNode();
}

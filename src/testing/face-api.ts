/**
 * The evaluation's face network in Node, typed for src/evaluate: face-api's node-wasm build and its weight
 * files as src/platform/node-evaluation.ts loads them (the platform layer cannot name src/evaluate's
 * types), made into a `FaceApiEmbedder`. For tests and offline tools (the engine gets the platform
 * loader itself through `EvaluationLoaders`).
 */
import { loadFaceApiNode } from '../platform/node-evaluation.ts';
import { FaceApiEmbedder, type FaceApiEmbedderOptions, type FaceApiModelFiles, type FaceApiModule } from '../evaluate/face-identity.ts';

export function createNodeFaceEmbedder(opts: FaceApiEmbedderOptions = {}): FaceApiEmbedder {
  const { api, files } = loadFaceApiNode();
  return FaceApiEmbedder.create(api as FaceApiModule, files as FaceApiModelFiles, opts);
}

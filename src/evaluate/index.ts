/** The evaluation report (source vs adapted): see evaluate.ts. */
export * from './types.ts';
export { evaluateAdaptation, evaluationLatentSeed, resolveEvaluationOptions, DEFAULT_EVALUATION_OPTIONS, MEASURE_DESCRIPTIONS, resizeArea, centreSquare, faceRegionMask } from './evaluate.ts';
export { FaceApiEmbedder, FACE_API_MODEL_NAMES, cosine, type FaceApiModule, type FaceApiModelFiles, type FaceApiWeights } from './face-identity.ts';
export { InceptionGramNetwork, loadNsfwInceptionV3, gramDistance, DEFAULT_TEXTURE_LAYERS, DEFAULT_TEXTURE_INPUT } from './texture.ts';
export { srgbToLab, labPixels, slicedWasserstein } from './color.ts';

/**
 * Engine worker entry: hosts a LocalEngine and serves it over the worker's message port. The tfjs
 * backend is chosen here, inside the worker (WebGPU → wasm → cpu), on the first probe() or load; μ_s
 * is kept in IndexedDB between sessions.
 */
/// <reference lib="webworker" />
import { LocalEngine } from '../engine/local-engine.ts';
import { EngineError } from '../engine/types.ts';
import { initBrowserBackend } from '../platform/browser-backend.ts';
import { fetchEmbeddedFile } from '../platform/browser-embedded.ts';
import { BrowserMeanEmbeddingStore } from '../platform/browser-mean-store.ts';
import { loadBrowserFaceApi } from '../platform/browser-evaluation.ts';
import { openWebCodecsWriter } from '../platform/browser-video.ts';
import { serveEngine } from './handler.ts';
import type { MessageEndpoint } from './protocol.ts';

const engine: LocalEngine = new LocalEngine({
  openEmbeddedFile: fetchEmbeddedFile,
  meanEmbeddingStore: new BrowserMeanEmbeddingStore(),
  // The evaluation's face model is fetched on the first evaluation; the texture network (InceptionV3) is the nsfwjs module's, imported then too.
  evaluationModels: { loadFaceApi: loadBrowserFaceApi },
  // Orbit videos are encoded here, in the worker, with WebCodecs (VP9 / VP8 in WebM, else H.264 in MP4).
  openVideoWriter: openWebCodecsWriter,
  probe: (preference) => initBrowserBackend({ prefer: preference, onDeviceLost: (message) => engine.reportFatal(new EngineError('device-lost', message)) }),
});

serveEngine(engine, self as unknown as MessageEndpoint);

/** Wires the studio together: engine, persistence, image pipeline, store, controller, React root. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BACKEND_PREFERENCES, type AdapterEngine, type BackendPreference } from '../engine/types.ts';
import { App } from './App.tsx';
import { StudioContext } from './context.ts';
import { StudioController, errorMessage } from './state/controller.ts';
import { createStudioStore } from './state/studio-store.ts';
import { openBrowserStore } from './persist/kv-store.ts';
import { createBrowserImageToolkit } from './reference/browser-images.ts';
import { followGenerator, RenderQueue } from './viewer/render-queue.ts';
import './styles.css';

/** `?backend=auto|webgpu|wasm|cpu` forces the compute backend for this page load. */
function backendFromUrl(): BackendPreference | null {
  const v = new URLSearchParams(globalThis.location?.search ?? '').get('backend');
  return v && (BACKEND_PREFERENCES as readonly string[]).includes(v) ? (v as BackendPreference) : null;
}

/** `createEngine` makes the engine, again after a lost GPU device (a fresh worker gets a fresh device). */
export async function startStudio(root: HTMLElement, createEngine: () => AdapterEngine): Promise<StudioController> {
  const { store: kv, persistent } = await openBrowserStore();
  const store = createStudioStore();
  store.setState({ persistent });
  const controller = new StudioController(createEngine(), store, kv, createBrowserImageToolkit(), { createEngine, backendPreference: backendFromUrl() });
  const renders = new RenderQueue(
    (r) => controller.engine.render(r),
    48,
    // A render failing after a lost device is a consequence, not news: keep the device-lost report.
    (e) => {
      if (!store.getState().engineLost) store.setState({ engineError: { code: 'internal', message: `Rendering failed: ${errorMessage(e)}` } });
    },
  );
  // Renders belong to the generator the store shows: a switch drops the previous generator's renders.
  followGenerator(renders, store);
  createRoot(root).render(
    <StrictMode>
      <StudioContext.Provider value={{ controller, renders }}>
        <App />
      </StudioContext.Provider>
    </StrictMode>,
  );
  await controller.init();
  return controller;
}

/** Wires the studio together: engine, persistence, image pipeline, store, controller, React root. */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { AdapterEngine } from '../engine/types.ts';
import { App } from './App.tsx';
import { StudioContext } from './context.ts';
import { StudioController, errorMessage } from './state/controller.ts';
import { createStudioStore } from './state/studio-store.ts';
import { openBrowserStore } from './persist/kv-store.ts';
import { createBrowserImageToolkit } from './reference/browser-images.ts';
import { RenderQueue } from './viewer/render-queue.ts';
import './styles.css';

/** `createEngine` makes the engine, again after a lost GPU device (a fresh worker gets a fresh device). */
export async function startStudio(root: HTMLElement, createEngine: () => AdapterEngine): Promise<StudioController> {
  const { store: kv, persistent } = await openBrowserStore();
  const store = createStudioStore();
  store.setState({ persistent });
  const controller = new StudioController(createEngine(), store, kv, createBrowserImageToolkit(), { createEngine });
  const renders = new RenderQueue(
    (r) => controller.engine.render(r),
    48,
    // A render failing after a lost device is a consequence, not news: keep the device-lost report.
    (e) => {
      if (!store.getState().deviceLost) store.setState({ engineError: { code: 'internal', message: `Rendering failed: ${errorMessage(e)}` } });
    },
  );
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

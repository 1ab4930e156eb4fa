/** React access to the StudioController, its store and the viewer's render queue. */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { StudioController } from './state/controller.ts';
import type { StudioState } from './state/studio-store.ts';
import type { RenderQueue } from './viewer/render-queue.ts';

export interface StudioContextValue {
  controller: StudioController;
  renders: RenderQueue;
}

export const StudioContext = createContext<StudioContextValue | null>(null);

export function useStudioContext(): StudioContextValue {
  const v = useContext(StudioContext);
  if (!v) throw new Error('useStudioContext outside <StudioContext.Provider>');
  return v;
}

export function useController(): StudioController {
  return useStudioContext().controller;
}

export function useStudio<T>(selector: (s: StudioState) => T): T {
  return useStore(useStudioContext().controller.store, selector);
}

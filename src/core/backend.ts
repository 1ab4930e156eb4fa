/**
 * What the compute-backend set-up reports (src/platform/*-backend.ts produce it, the engine forwards it,
 * the UI shows it). Shared values only: no DOM, no Node.
 */

export type BackendKind = 'webgpu' | 'wasm' | 'cpu';
/**
 * Which backend to start. 'auto' takes WebGPU on a hardware adapter; with only a software adapter
 * (SwiftShader, i.e. the CPU) it takes WebAssembly, which trains ~10–20× faster there.
 */
export type BackendPreference = 'auto' | BackendKind;
export const BACKEND_PREFERENCES: readonly BackendPreference[] = ['auto', 'webgpu', 'wasm', 'cpu'];

export interface Capabilities {
  backend: BackendKind;
  /** What was asked for (the start-up preference). */
  preference?: BackendPreference;
  /** WebGPU adapter details when a WebGPU adapter was found. */
  adapter?: { vendor: string; architecture: string; description: string; isFallbackAdapter: boolean; maxBufferSize: number };
  /** Plain-language explanation of what was found and what it means for speed. */
  summary: string;
}

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
  /**
   * CPU threads the backend computes with, as the platform's probe found them: the wasm backend's
   * XNNPACK thread pool (1 = single-threaded build), 1 for the plain-JS cpu backend; absent for WebGPU
   * (the GPU does the work) and for producers that do not report it.
   */
  threads?: number;
  /** Logical CPU cores the platform reports (navigator.hardwareConcurrency / os.cpus()). */
  cores?: number;
  /**
   * Whether the context running the backend is cross-origin isolated (COOP + COEP headers), which
   * SharedArrayBuffer and so wasm threads need. Absent outside a browser.
   */
  crossOriginIsolated?: boolean;
}

/** The thread facts the capability summary and badge are written from. */
export type CpuThreadFacts = Pick<Capabilities, 'threads' | 'cores' | 'crossOriginIsolated'>;

/** "2 threads", "1 thread": the badge's count. Empty when the probe reported no thread count. */
export function threadCountLabel(c: Pick<Capabilities, 'threads'>): string {
  if (c.threads === undefined) return '';
  return `${c.threads} thread${c.threads === 1 ? '' : 's'}`;
}

/**
 * One sentence on how many CPU threads run and, when it is fewer than the cores, why — for the wasm
 * backend's capability summary. A page served without cross-origin isolation (a static host missing
 * the COOP/COEP headers, see README) cannot use SharedArrayBuffer, so tfjs-wasm runs single-threaded.
 */
export function describeCpuThreads(c: CpuThreadFacts): string {
  const threads = c.threads ?? 1;
  const cores = c.cores && c.cores > 0 ? c.cores : undefined;
  const on = `${threads} thread${threads === 1 ? '' : 's'}`;
  if (threads > 1) {
    return cores && threads < cores ? `It computes on ${on} (of ${cores} cores).` : `It computes on ${on}, one per CPU core.`;
  }
  if (c.crossOriginIsolated === false) {
    return `It computes on 1 thread${cores && cores > 1 ? ` although this device has ${cores} cores` : ''}: the page is not cross-origin isolated (the server sends no Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp headers), so WebAssembly threads are unavailable.`;
  }
  if (cores && cores > 1) return `It computes on 1 thread of ${cores} cores.`;
  return 'It computes on 1 thread (this device reports one CPU core).';
}

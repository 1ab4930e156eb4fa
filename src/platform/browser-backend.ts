/**
 * Browser (page or worker) tfjs backend set-up: WebGPU when an adapter exists — software/fallback
 * adapters included (SwiftShader on GPU-less machines: correct, slow) — else WebAssembly (wasm file
 * URLs resolved by Vite, so no CDN is needed), else the pure-JS cpu backend. Reports what it found in
 * plain language and forwards a lost WebGPU device to the caller.
 *
 * WebAssembly uses tfjs' threaded SIMD build with one XNNPACK thread per logical core when the context
 * is cross-origin isolated (SharedArrayBuffer available: the COOP/COEP headers from vite.config.ts or
 * the static host, see README); otherwise tfjs loads the single-threaded SIMD build and the summary
 * says why.
 */
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import wasmPlainUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { describeCpuThreads, type BackendPreference, type Capabilities } from '../core/backend.ts';

export interface BrowserBackendOptions {
  /** 'auto' (default): WebGPU on a hardware adapter, else WebAssembly, else a software WebGPU adapter, else cpu. A named backend is tried first, then the slower ones. */
  prefer?: BackendPreference;
  /** Called once if the WebGPU device is lost after start-up (driver reset, GPU process crash). */
  onDeviceLost?: (message: string) => void;
  /** WebAssembly threads to start (default: one per logical core, navigator.hardwareConcurrency). */
  threads?: number;
}

/** Logical cores of this device as the browser reports them (1 when it does not). */
function logicalCores(): number {
  const n = (globalThis.navigator as Navigator | undefined)?.hardwareConcurrency;
  return Number.isInteger(n) && (n as number) > 0 ? (n as number) : 1;
}

type AdapterDetails = NonNullable<Capabilities['adapter']>;

let deviceLostHandler: ((message: string) => void) | undefined;

async function requestAdapter(): Promise<GPUAdapter | null> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) return null;
  // A real GPU first; failing that, whatever the browser offers (software adapters included).
  return (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ?? (await gpu.requestAdapter({ forceFallbackAdapter: true }));
}

function describeAdapter(adapter: GPUAdapter): AdapterDetails {
  const info = adapter.info;
  const legacyFallback = (adapter as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter;
  return {
    vendor: info.vendor || 'unknown vendor',
    architecture: info.architecture || '',
    description: info.description || '',
    isFallbackAdapter: Boolean(info.isFallbackAdapter ?? legacyFallback),
    maxBufferSize: adapter.limits.maxBufferSize,
  };
}

/**
 * Registers a 'webgpu' backend factory that uses the adapter we already found (tfjs's own factory
 * asks for a high-performance adapter and gives up without one) and watches `device.lost`.
 */
function registerWebGPU(adapter: GPUAdapter): void {
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
  tf.registerBackend(
    'webgpu',
    async () => {
      const l = adapter.limits;
      const requiredFeatures: GPUFeatureName[] = [];
      if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
      if (adapter.features.has('bgra8unorm-storage')) requiredFeatures.push('bgra8unorm-storage');
      // Ask for the adapter's maxima: tri-plane tensors and conv workspaces exceed the defaults.
      const device = await adapter.requestDevice({
        requiredFeatures,
        requiredLimits: {
          maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
          maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
          maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
          maxBufferSize: l.maxBufferSize,
          maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
          maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
        },
      });
      void device.lost.then((info) => {
        if (info.reason === 'destroyed') return;
        deviceLostHandler?.(`The GPU device was lost (${info.message || 'no details'}). Reload the page to start again; exported or checkpointed weights are kept.`);
      });
      return new WebGPUBackend(device, adapter.info);
    },
    3,
  );
}

/**
 * tfjs-wasm 4.22 caps its XNNPACK thread pool at `navigator.hardwareConcurrency / 2` (its backend.cc
 * assumes two hyper-threads per core) and at 8, whatever setThreadsCount asks: on a 2-core machine that
 * is one thread. The cap is read once, when the wasm module starts, through Emscripten's
 * `emscripten_num_logical_cores()` (navigator.hardwareConcurrency). For that moment only, this context's
 * navigator reports twice the requested threads, so the cap becomes the request; the real value is
 * restored as soon as the backend has started (or failed to).
 */
async function withTfjsCoreCapLifted<T>(threads: number, start: () => Promise<T>): Promise<T> {
  const nav = globalThis.navigator as Navigator | undefined;
  if (!nav || Object.prototype.hasOwnProperty.call(nav, 'hardwareConcurrency')) return start();
  try {
    Object.defineProperty(nav, 'hardwareConcurrency', { configurable: true, get: () => 2 * threads });
  } catch {
    return start(); // a navigator that refuses own properties: tfjs' own cap applies
  }
  try {
    return await start();
  } finally {
    delete (nav as unknown as Record<string, unknown>).hardwareConcurrency;
  }
}

async function wasmSimdSupported(): Promise<boolean> {
  // The smallest module using a v128 instruction; validate() is synchronous and cheap.
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
  try {
    return WebAssembly.validate(bytes);
  } catch {
    return false;
  }
}

/** Chooses and initialises the backend; returns what was found, in words for the UI. */
export async function initBrowserBackend(options: BrowserBackendOptions = {}): Promise<Capabilities> {
  deviceLostHandler = options.onDeviceLost;
  const preference: BackendPreference = options.prefer ?? 'auto';
  const notes: string[] = [];
  const cores = logicalCores();
  const isolated = globalThis.crossOriginIsolated === true;
  const done = (c: Capabilities): Capabilities => ({ cores, crossOriginIsolated: isolated, ...c, preference });

  let adapter: GPUAdapter | null = null;
  let details: AdapterDetails | undefined;
  if (preference === 'auto' || preference === 'webgpu') {
    adapter = await requestAdapter().catch(() => null);
    if (adapter) details = describeAdapter(adapter);
    else notes.push('this browser exposes no WebGPU adapter');
  }
  const adapterName = details ? [details.vendor, details.architecture, details.description].filter(Boolean).join(' ') : '';

  const tryWebGPU = async (): Promise<Capabilities | null> => {
    if (!adapter || !details) return null;
    registerWebGPU(adapter);
    try {
      if (await tf.setBackend('webgpu')) {
        await tf.ready();
        const summary = details.isFallbackAdapter
          ? `WebGPU is running on a software adapter (${adapterName}), i.e. on the CPU. Results are correct but slow (WebAssembly is usually faster here): use the embedded demo model or the quick preset.`
          : `WebGPU is running on ${adapterName}. Training runs on the GPU.`;
        return { backend: 'webgpu', adapter: details, summary };
      }
      notes.push(`WebGPU adapter ${details.vendor} could not be initialised`);
    } catch (e) {
      notes.push(`WebGPU failed to start (${e instanceof Error ? e.message : String(e)})`);
    }
    return null;
  };

  const tryWasm = async (): Promise<Capabilities | null> => {
    try {
      setWasmPaths({
        'tfjs-backend-wasm.wasm': wasmPlainUrl,
        'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
        'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
      });
      // Read by the backend's constructor: must be set before setBackend('wasm') initialises it.
      const requested = Math.max(1, Math.floor(options.threads ?? cores));
      setThreadsCount(requested);
      const started = await withTfjsCoreCapLifted(requested, async () => {
        const ok = await tf.setBackend('wasm');
        if (ok) await tf.ready();
        return ok;
      });
      if (started) {
        const simd = await wasmSimdSupported();
        // The single-threaded builds have no thread pool (tfjs reports -1 then): one thread.
        const pool = getThreadsCount();
        const threads = pool > 0 ? pool : 1;
        const why = notes.length ? `${notes.join('; ')}, so ` : '';
        const facts = { threads, cores, crossOriginIsolated: isolated };
        return {
          backend: 'wasm',
          adapter: details,
          ...facts,
          summary: `${why}training runs on the CPU with WebAssembly${simd ? ' (SIMD)' : ' (no SIMD: slower)'}. ${describeCpuThreads(facts)} Expect seconds per iteration on the demo model and much longer on full-size EG3D.`,
        };
      }
      notes.push('WebAssembly could not be initialised');
    } catch (e) {
      notes.push(`WebAssembly failed to start (${e instanceof Error ? e.message : String(e)})`);
    }
    return null;
  };

  // A hardware adapter (or an explicit request) gets WebGPU first.
  if (preference === 'webgpu' || (preference === 'auto' && details && !details.isFallbackAdapter)) {
    const c = await tryWebGPU();
    if (c) return done(c);
  }
  if (preference === 'auto' && details?.isFallbackAdapter) {
    // A software adapter computes on the CPU through a GPU emulation: measured ~18× slower than wasm
    // for a conv-net training step (docs/benchmarks.md), so it is only the last resort here.
    notes.push(`WebGPU offers only a software adapter (${adapterName}), which is much slower than WebAssembly on this CPU`);
  }
  if (preference !== 'cpu') {
    const c = await tryWasm();
    if (c) return done(c);
  }
  if (preference === 'auto' && details?.isFallbackAdapter) {
    const c = await tryWebGPU();
    if (c) return done(c);
  }

  await tf.setBackend('cpu');
  await tf.ready();
  return done({
    backend: 'cpu',
    adapter: details,
    threads: 1,
    summary: `${notes.join('; ') || 'the faster backends were skipped'}; falling back to plain JavaScript, which is very slow — only the embedded demo model is practical.`,
  });
}


/**
 * Node-only tfjs backend selection. `wasm` is the fast CPU-side backend (the default for training
 * and tests), `cpu` the pure-JS oracle, `webgpu` runs through Dawn (the `webgpu` npm package); on
 * GPU-less machines Dawn uses SwiftShader's Vulkan ICD shipped with Debian's chromium.
 *
 * wasm runs single-threaded in Node (tfjs-backend-wasm 4.22 cannot start its threaded build here):
 * its WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to false under IS_NODE (tensorflow/tfjs#3830),
 * and forcing it on fails at start-up — tfjs hands Emscripten the pthread worker script as a `blob:`
 * URL, which Node's worker_threads refuses (ERR_WORKER_PATH), and the wasm module is then unusable in
 * that process. The browser worker does run it threaded (browser-backend.ts; docs/benchmarks.md).
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { describeCpuThreads, type Capabilities } from '../core/backend.ts';

export type NodeBackendName = 'wasm' | 'cpu' | 'webgpu';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
let webgpuRegistered = false;

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Whether the Vulkan loader can find a GPU without help: a driver other than the CPU ones (SwiftShader,
 * lavapipe) is installed AND a GPU device node exists (`/dev/dri/renderD*` for Mesa's drivers,
 * `/dev/nvidia0…` for NVIDIA's, `/dev/dxg` under WSL). Debian's mesa-vulkan-drivers installs the Intel and
 * Radeon ICD files on machines without those GPUs (it comes with many packages, python3-torch among
 * them); the loader then offers lavapipe, which Dawn rejects, and no adapter at all. Directories are
 * parameters for the test.
 */
export function hasHardwareVulkanDriver(icdDirs: readonly string[] = ICD_DIRS, devDir = '/dev'): boolean {
  const driver = icdDirs.some((dir) => listDir(dir).some((f) => f.endsWith('.json') && !/swiftshader|lvp|lavapipe/i.test(f)));
  if (!driver) return false;
  const dev = listDir(devDir);
  return dev.includes('dxg') || dev.some((f) => /^nvidia\d+$/.test(f)) || listDir(`${devDir}/dri`).some((f) => f.startsWith('renderD'));
}

async function registerNodeWebGPU(): Promise<void> {
  if (webgpuRegistered) return;
  if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD) && !hasHardwareVulkanDriver()) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD; // read by the Vulkan loader when Dawn starts
  }
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  if (!g.navigator) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else g.navigator.gpu = gpu;
  await import('@tensorflow/tfjs-backend-webgpu');
  webgpuRegistered = true;
}

/** Sets the tfjs backend; throws if it cannot be initialised (never silently falls back). */
export async function initNodeBackend(name: NodeBackendName = 'wasm'): Promise<string> {
  tf.env().set('IS_NODE', true);
  if (name === 'webgpu') await registerNodeWebGPU();
  const ok = await tf.setBackend(name);
  await tf.ready();
  if (!ok || tf.getBackend() !== name) throw new Error(`tfjs backend '${name}' could not be initialised (got '${tf.getBackend()}')`);
  return name;
}

/**
 * What initNodeBackend started, as the engine's Capabilities: the CPU backends compute on one thread
 * (see the note at the top), WebGPU on whatever adapter Dawn found.
 */
export function nodeCapabilities(name: NodeBackendName): Capabilities {
  const cores = os.cpus().length;
  if (name === 'webgpu') return { backend: 'webgpu', cores, summary: 'Node, tfjs webgpu backend (Dawn)' };
  const facts = { threads: 1, cores };
  return { backend: name, ...facts, summary: `Node, tfjs ${name} backend. ${describeCpuThreads(facts)}${name === 'wasm' ? ' (tfjs-wasm has no threaded build for Node.)' : ''}` };
}

/** Backend named by the TFJS_BACKEND environment variable (default wasm). */
export function backendFromEnv(): NodeBackendName {
  const b = (process.env.TFJS_BACKEND ?? 'wasm') as NodeBackendName;
  if (!['wasm', 'cpu', 'webgpu'].includes(b)) throw new Error(`TFJS_BACKEND must be wasm, cpu or webgpu (got ${b})`);
  return b;
}

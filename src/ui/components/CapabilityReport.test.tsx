import { describe, expect, it } from 'vitest';
import { capabilityLabel } from './CapabilityReport.tsx';

const gpu = { vendor: 'google', architecture: 'swiftshader', description: '', isFallbackAdapter: true, maxBufferSize: 2 ** 30 };

describe('capability badge', () => {
  it('says how many threads the CPU backends run', () => {
    expect(capabilityLabel({ backend: 'wasm', summary: '', threads: 2, cores: 2, crossOriginIsolated: true })).toBe('CPU (WebAssembly) · 2 threads');
    expect(capabilityLabel({ backend: 'wasm', summary: '', threads: 1, cores: 2, crossOriginIsolated: false })).toBe('CPU (WebAssembly) · 1 thread');
    expect(capabilityLabel({ backend: 'cpu', summary: '', threads: 1 })).toBe('CPU (JavaScript) · 1 thread');
  });

  it('names only the backend when no thread count was reported or the GPU computes', () => {
    expect(capabilityLabel({ backend: 'wasm', summary: '' })).toBe('CPU (WebAssembly)');
    expect(capabilityLabel({ backend: 'webgpu', summary: '', adapter: { ...gpu, isFallbackAdapter: false }, cores: 8 })).toBe('WebGPU');
    expect(capabilityLabel({ backend: 'webgpu', summary: '', adapter: gpu, threads: 4 })).toBe('WebGPU (software fallback adapter)');
  });
});

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasHardwareVulkanDriver } from './node-backend.ts';

function tree(files: string[]): string {
  const root = mkdtempSync(join(tmpdir(), 'vk-'));
  for (const f of files) {
    mkdirSync(join(root, f, '..'), { recursive: true });
    writeFileSync(join(root, f), '{}');
  }
  return root;
}

describe('choosing SwiftShader for Dawn in Node', () => {
  it('a GPU driver counts only with a GPU device node; CPU drivers never count', () => {
    // Mesa's ICD files on a machine without a GPU (mesa-vulkan-drivers installed as a dependency): SwiftShader.
    const mesaNoGpu = tree(['icd/intel_icd.x86_64.json', 'icd/radeon_icd.x86_64.json', 'icd/lvp_icd.x86_64.json', 'dev/null']);
    expect(hasHardwareVulkanDriver([join(mesaNoGpu, 'icd')], join(mesaNoGpu, 'dev'))).toBe(false);
    // The same files with a render node, NVIDIA's driver with its device, WSL's: the loader finds the GPU.
    const mesaGpu = tree(['icd/intel_icd.x86_64.json', 'dev/dri/renderD128']);
    expect(hasHardwareVulkanDriver([join(mesaGpu, 'icd')], join(mesaGpu, 'dev'))).toBe(true);
    const nvidia = tree(['icd/nvidia_icd.json', 'dev/nvidia0', 'dev/nvidiactl']);
    expect(hasHardwareVulkanDriver([join(nvidia, 'icd')], join(nvidia, 'dev'))).toBe(true);
    const wsl = tree(['icd/dzn_icd.x86_64.json', 'dev/dxg']);
    expect(hasHardwareVulkanDriver([join(wsl, 'icd')], join(wsl, 'dev'))).toBe(true);
    // Only CPU drivers, or no ICD directory at all: SwiftShader.
    const cpuOnly = tree(['icd/lvp_icd.x86_64.json', 'dev/dri/renderD128']);
    expect(hasHardwareVulkanDriver([join(cpuOnly, 'icd')], join(cpuOnly, 'dev'))).toBe(false);
    expect(hasHardwareVulkanDriver([join(cpuOnly, 'missing')], join(cpuOnly, 'dev'))).toBe(false);
  });
});

import { defineConfig } from '@playwright/test';

/**
 * End-to-end tests drive the built studio (vite preview) in Debian's Chromium with WebGPU enabled. In CI
 * and on machines without a GPU, WebGPU runs on SwiftShader (seconds per kernel compile), hence the long
 * timeouts and tiny iteration counts in the specs.
 */
const PORT = 4173;

export default defineConfig({
  testDir: 'e2e',
  timeout: 20 * 60_000,
  expect: { timeout: 120_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
    actionTimeout: 60_000,
    navigationTimeout: 120_000,
    browserName: 'chromium',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--enable-unsafe-webgpu',
        '--no-sandbox',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // SwiftShader runs long WebGPU compute passes on the CPU; the GPU watchdog would otherwise kill
        // the GPU process mid-training on a busy machine (seen as a lost device and lost WebGL context).
        '--disable-gpu-watchdog',
      ],
    },
  },
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 120_000,
  },
});

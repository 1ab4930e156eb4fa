import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

/**
 * Cross-origin isolation: with these two headers on every response the page and its workers get
 * `crossOriginIsolated === true`, hence SharedArrayBuffer, hence tfjs-wasm's threaded SIMD build (one
 * thread per core; src/platform/browser-backend.ts). `require-corp` blocks cross-origin subresources
 * without a Cross-Origin-Resource-Policy header; the studio loads nothing cross-origin (wasm files,
 * models, the worker and its tfjs thread workers — blob: URLs — all come from its own origin), so it
 * costs nothing here and, unlike `credentialless`, works in every browser with SharedArrayBuffer.
 * Static hosts must send the same headers: README "Hosting" and public/_headers.
 */
export const CROSS_ORIGIN_ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
} as const;

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 8000 },
  server: { host: '127.0.0.1', headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
  preview: { headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
});

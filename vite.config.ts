import { defineConfig, type Plugin } from 'vite';
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

/**
 * tfjs-wasm starts its threads (Emscripten pthreads) by evaluating `factory.toString()` in each thread
 * worker, so the factory function must not refer to anything outside itself. Its only outside name is
 * the wrapper's `_scriptDir`, used behind a `typeof` guard; a minifier that sees the wrapper's
 * declaration drops the guard (`typeof e<"u"&&e` → `e`), and every thread then dies with
 * "e is not defined" (the production build only: the dev server does not minify). In a browser
 * `_scriptDir` is always undefined (no `document.currentScript` in a worker or a module script, no
 * `__filename`), so the two inner uses are replaced by that value. Fails the build if tfjs' text
 * changes, rather than shipping threads that cannot start.
 */
export function tfjsWasmThreadsPlugin(): Plugin {
  const uses: ReadonlyArray<[string, string]> = [
    ['if(typeof _scriptDir !== "undefined" && _scriptDir){scriptDirectory=_scriptDir}', ''],
    ['"urlOrBlob":Module["mainScriptUrlOrBlob"]||_scriptDir', '"urlOrBlob":Module["mainScriptUrlOrBlob"]'],
  ];
  return {
    name: 'tfjs-wasm-threads-self-contained-factory',
    enforce: 'pre',
    transform(code, id) {
      if (!/tfjs-backend-wasm[\\/]wasm-out[\\/]tfjs-backend-wasm-threaded-simd\.js$/.test(id.split('?')[0])) return null;
      let out = code;
      for (const [from, to] of uses) {
        if (out.split(from).length !== 2) this.error(`tfjs-backend-wasm-threaded-simd.js changed: expected exactly one '${from}' (see tfjsWasmThreadsPlugin in vite.config.ts)`);
        out = out.replace(from, to);
      }
      return { code: out, map: null };
    },
  };
}

export default defineConfig({
  plugins: [react(), tfjsWasmThreadsPlugin()],
  worker: { format: 'es', plugins: () => [tfjsWasmThreadsPlugin()] },
  build: { target: 'es2022', chunkSizeWarningLimit: 8000 },
  server: { host: '127.0.0.1', headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
  preview: { headers: { ...CROSS_ORIGIN_ISOLATION_HEADERS } },
});

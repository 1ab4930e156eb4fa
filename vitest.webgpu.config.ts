import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

/**
 * The webgpu leg (`npm run test:webgpu`): the numeric suites, each wrapped in describeBackends
 * (src/testing/backends.ts), computing on tfjs-webgpu through Dawn (Node, the `webgpu` package;
 * SwiftShader's Vulkan ICD on GPU-less machines) with the cpu backend or the fixtures as oracle.
 * The default `vitest run` (vitest.config.ts) is the wasm leg of the same suites.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: [
      'src/nn/*.test.ts',
      'src/eg3d/{decoder,triplane,triplane-webgpu,fused-decoder-webgpu,renderer,ray-marcher,ray-sampler,ray-kernels-webgpu,rays,superresolution}.test.ts',
      'src/clip/{preprocess,vit-kernels-webgpu}.test.ts',
      'src/adapter/{losses,trainer-gradients}.test.ts',
      'src/conformance/{eg3d.webgpu,clip}.test.ts',
    ],
    env: { TEST_BACKEND: 'webgpu' },
  },
});

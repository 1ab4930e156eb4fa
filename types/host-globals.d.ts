/**
 * The host APIs the platform-neutral layers may use (tsconfig.core.json: core, io, nn, eg3d, clip,
 * adapter, evaluate, engine — compiled with `lib: ["ES2022"]`, no DOM, no Node types). This is the
 * small subset of the web platform that Node ≥ 20, browsers and workers all provide, declared only as
 * far as that code uses it; anything else (the DOM, `fetch`, Node modules) is a type error there and
 * belongs to the platform layer (src/platform/), which the engine's callers pass in.
 *
 * Only tsconfig.core.json includes this file; the other projects get the full DOM / Node typings.
 */

interface TextDecoder {
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
declare var TextDecoder: {
  prototype: TextDecoder;
  new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }): TextDecoder;
};

interface TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array<ArrayBuffer>;
}
declare var TextEncoder: {
  prototype: TextEncoder;
  new (): TextEncoder;
};

type BlobPart = ArrayBufferView<ArrayBuffer> | ArrayBuffer | Blob | string;
interface Blob {
  readonly size: number;
  readonly type: string;
  arrayBuffer(): Promise<ArrayBuffer>;
  slice(start?: number, end?: number, contentType?: string): Blob;
  text(): Promise<string>;
}
declare var Blob: {
  prototype: Blob;
  new (blobParts?: BlobPart[], options?: { type?: string }): Blob;
};
/** A Blob with a name (what a file input or drop gives the page); only read, never constructed, here. */
interface File extends Blob {
  readonly name: string;
  readonly lastModified: number;
}

/** Base64 → binary string (Node ≥ 16, browsers, workers). */
declare function atob(data: string): string;

/** Yields to the event loop; the handle differs between hosts, so it is opaque here. */
declare function setTimeout(handler: (...args: never[]) => void, timeout?: number): unknown;
/** Cancels a setTimeout (its opaque handle). */
declare function clearTimeout(handle: unknown): void;

interface Performance {
  now(): number;
}
declare var performance: Performance;

/** Only what the engine's error classifier tests for: a trapped wasm module (heap exhausted, abort). */
declare namespace WebAssembly {
  class RuntimeError extends Error {}
}

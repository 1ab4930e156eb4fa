/**
 * The one error hierarchy. Every error this project throws on purpose is an `AppError` whose `kind`
 * says what went wrong in terms a user can act on; the engine and the worker pass the kind through
 * unchanged and the UI maps each kind to a message (no regexes on `error.name`). Anything else that
 * escapes (a TypeError, a tfjs failure) is classified once, by `classifyError` in the engine.
 *
 * No DOM, no Node: this module sits below every layer.
 */

export type ErrorKind =
  /** No usable WebGPU adapter where one was required. */
  | 'no-webgpu'
  /** The GPU device was lost (driver reset, tab backgrounded too long, …). */
  | 'device-lost'
  /** An allocation failed (wasm heap, GPU buffers, a typed array). */
  | 'out-of-memory'
  /** The reference image cannot be used (too small, flat, not an image). */
  | 'bad-reference'
  /** A readable file of the wrong kind or architecture (a ResNet CLIP, an unsupported EG3D variant). */
  | 'incompatible-file'
  /** A file that is damaged, truncated or not in the format it claims. */
  | 'corrupt-file'
  /** Settings or arguments out of range (a method option, an iteration count). */
  | 'bad-settings'
  /** An operation needs something that is not loaded or not running yet. */
  | 'not-ready'
  /** The operation was cancelled by the user. */
  | 'cancelled'
  /** A bug or an inconsistency inside the app: shapes that do not match, a broken shipped file. */
  | 'internal';

export const ERROR_KINDS: readonly ErrorKind[] = [
  'no-webgpu',
  'device-lost',
  'out-of-memory',
  'bad-reference',
  'incompatible-file',
  'corrupt-file',
  'bad-settings',
  'not-ready',
  'cancelled',
  'internal',
];

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A damaged, truncated or mislabelled file (the readers' error for bad bytes). */
export class FormatError extends AppError {
  constructor(message: string) {
    super('corrupt-file', message);
  }
}

/** A well-formed file this app does not support (wrong model family, unsupported architecture). */
export class IncompatibleFileError extends AppError {
  constructor(message: string) {
    super('incompatible-file', message);
  }
}

/** An internal inconsistency (mismatched shapes inside the numeric core): a bug, not the user's file. */
export class InternalError extends AppError {
  constructor(message: string) {
    super('internal', message);
  }
}

/** Settings or arguments out of range. */
export class SettingsError extends AppError {
  constructor(message: string) {
    super('bad-settings', message);
  }
}

/**
 * Stub fuzz targets for the harness's own tests: readers with known bugs, to show that the harness
 * flags each kind of failure (and counts typed errors as passes). Not used by `npm run fuzz`.
 */
import { FormatError, IncompatibleFileError, InternalError } from '../../src/core/errors.ts';
import type { FuzzTarget } from './targets.ts';

const PRISTINE = new TextEncoder().encode('{"stub": "a pristine file of forty-odd bytes"}');

function stub(name: string, onMutated: (bytes: Uint8Array) => void | Promise<void>): FuzzTarget {
  return {
    name,
    files: [],
    async prepare() {
      return {
        bytes: PRISTINE,
        fields: { fields: [{ at: 0, width: 1, kind: 'stub:first' }], regions: [] },
        safetensors: false,
        async run(bytes) {
          const same = bytes.length === PRISTINE.length && bytes.every((b, i) => b === PRISTINE[i]);
          if (!same) await onMutated(bytes);
        },
      };
    },
  };
}

export const TARGETS: FuzzTarget[] = [
  stub('stub-typed', (b) => {
    throw b.length % 2 ? new FormatError('stub: damaged') : new IncompatibleFileError('stub: not this kind of file');
  }),
  stub('stub-typeerror', (b) => {
    // a reader that dereferences what a header promised
    const header = (null as unknown as { entries: number[] } | null)!;
    if (b.length >= 0) void header.entries.length;
  }),
  stub('stub-internal', () => {
    throw new InternalError('stub: an AppError of another kind is a failure too');
  }),
  stub('stub-hang', () => {
    for (;;) {
      // a parser that never advances
    }
  }),
  stub('stub-crash', () => {
    // a reader that takes the process down (as an out-of-memory abort does)
    process.kill(process.pid, 'SIGKILL');
  }),
  stub('stub-huge-alloc', (b) => {
    // a reader that trusts a length field and swallows the allocation failure
    try {
      void new Float32Array(1e9 + b.length);
    } catch {
      throw new FormatError('stub: relabelled');
    }
  }),
];

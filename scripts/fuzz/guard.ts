/**
 * Allocation guard for the fuzz child process: every `new ArrayBuffer(n)` / `new Float32Array(n)` / ...
 * (and `TypedArray.from`) larger than the current budget is recorded as a violation — a reader that
 * trusted a lying header — and refused with a RangeError instead of being made. The constructors stay the originals for `instanceof` (a Proxy with only a
 * `construct` trap), so tfjs and the readers behave as usual.
 */

export interface AllocationViolation {
  bytes: number;
  what: string;
  stack: string;
}

let budget = Infinity;
let violation: AllocationViolation | null = null;
let installed = false;

const TYPED = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array',
] as const;

function requestedBytes(args: unknown[], bytesPerElement: number): number {
  const a = args[0];
  if (typeof a === 'number') return a * bytesPerElement;
  return 0;
}

export function installAllocationGuard(): void {
  if (installed) return;
  installed = true;
  const g = globalThis as unknown as Record<string, unknown>;
  const wrap = (name: string, bytesPerElement: number) => {
    const original = g[name] as new (...args: unknown[]) => unknown;
    g[name] = new Proxy(original, {
      construct(target, args, newTarget) {
        const bytes = requestedBytes(args, bytesPerElement);
        if (bytes > budget) {
          const what = `new ${name}(${String(args[0])})`;
          violation ??= { bytes, what, stack: new Error().stack ?? '' };
          // Refuse instead of allocating (the violation is recorded even if a reader swallows this error).
          throw new RangeError(`allocation guard: ${what} asks for ${bytes} bytes, over the ${budget}-byte budget`);
        }
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    });
  };
  wrap('ArrayBuffer', 1);
  for (const name of TYPED) wrap(name, (g[name] as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT);
}

/** Sets the largest single allocation allowed until the next call (Infinity = unlimited). */
export function setAllocationBudget(bytes: number): void {
  budget = bytes;
  violation = null;
}

export function takeViolation(): AllocationViolation | null {
  const v = violation;
  violation = null;
  return v;
}

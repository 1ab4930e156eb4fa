/**
 * Array comparison against reference values, for the fixture conformance checks (src/conformance/) and
 * the tests that compare against fixtures. Error figures: max |a − b| and that value relative to
 * max |reference|.
 */
export interface ConformanceRow {
  /** Fixture name, e.g. `eg3d-tiny`. */
  fixture: string;
  /** Tensor name, e.g. `case0.image` or `grad.decoder.net.0.weight`. */
  tensor: string;
  maxAbs: number;
  rel: number;
  tol: number;
  pass: boolean;
  note?: string;
}

/** Tolerances from the fixtures README / issues: modules and points 1e-4, images and gradients 1e-3. */
export const TOL_MODULE = 1e-4;
export const TOL_IMAGE = 1e-3;

export function compareArrays(
  fixture: string,
  tensor: string,
  actual: ArrayLike<number>,
  reference: ArrayLike<number>,
  tol: number,
  note?: string,
): ConformanceRow {
  if (actual.length !== reference.length) {
    return { fixture, tensor, maxAbs: Infinity, rel: Infinity, tol, pass: false, note: `size ${actual.length} ≠ reference ${reference.length}` };
  }
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i];
    const d = Math.abs(actual[i] - r);
    if (!(d <= maxAbs)) maxAbs = d; // NaN-propagating
    const ar = Math.abs(r);
    if (ar > maxRef) maxRef = ar;
  }
  const rel = maxRef > 0 ? maxAbs / maxRef : maxAbs;
  return { fixture, tensor, maxAbs, rel, tol, pass: rel <= tol, note };
}

/**
 * Shared comparison and reporting for the fixture conformance checks (EG3D and CLIP).
 * Error figures: max |a − b| and that value relative to max |reference|.
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

export interface SkippedCheck {
  fixture: string;
  what: string;
  why: string;
}

export interface ConformanceResult {
  rows: ConformanceRow[];
  skipped: SkippedCheck[];
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

export function formatTable(result: ConformanceResult): string {
  const lines: string[] = [];
  const head = ['fixture', 'tensor', 'max abs err', 'rel err', 'tol', 'ok'];
  const rows = result.rows.map((r) => [
    r.fixture,
    r.tensor,
    r.maxAbs.toExponential(2),
    r.rel.toExponential(2),
    r.tol.toExponential(0),
    (r.pass ? 'PASS' : 'FAIL') + (r.note ? ` (${r.note})` : ''),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ');
  lines.push(fmt(head));
  lines.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) lines.push(fmt(r));
  for (const s of result.skipped) lines.push(`skipped ${s.fixture} ${s.what}: ${s.why}`);
  const failed = result.rows.filter((r) => !r.pass).length;
  lines.push(`${result.rows.length - failed} passed, ${failed} failed`);
  return lines.join('\n');
}

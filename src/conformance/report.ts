/**
 * Reporting for the fixture conformance checks (EG3D and CLIP); the comparison itself is
 * src/testing/compare.ts.
 */
import type { ConformanceRow } from '../testing/compare.ts';

export interface SkippedCheck {
  fixture: string;
  what: string;
  why: string;
}

export interface ConformanceResult {
  rows: ConformanceRow[];
  skipped: SkippedCheck[];
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

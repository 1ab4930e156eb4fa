/** The CLI's shared flag readers (scripts/cli-engine.ts): messages and what counts as a value. */
import { describe, expect, it } from 'vitest';
import { argReader } from './cli-engine.ts';

describe('argReader', () => {
  const argv = ['--yaw', '-0.3', '--seed', '4', '--psi', 'x', '--out', '--frames', '2.5', '--w', '1,2,3'];
  const r = argReader(argv, 'usage: test');
  it('reads values, and takes a negative number as a value, not a flag', () => {
    expect(r.num(1, '--yaw')).toBe(-0.3);
    expect(r.int(3, '--seed', 0)).toBe(4);
    expect(r.list(10, '--w', 3)).toEqual([1, 2, 3]);
  });
  it('names the flag and the bad value, and ends "needs a value" with the usage', () => {
    expect(() => r.num(5, '--psi')).toThrow('--psi needs a number (got x)');
    expect(() => r.value(7, '--out')).toThrow(/--out needs a value\nusage: test/);
    expect(() => r.value(99, '--end')).toThrow('--end needs a value');
    expect(() => r.int(8, '--frames', 2)).toThrow('--frames needs an integer ≥ 2 (got 2.5)');
    expect(() => r.int(3, '--seed', 5)).toThrow('needs an integer ≥ 5');
    expect(() => r.list(10, '--w', 2)).toThrow('--w needs 2 comma-separated numbers (got 1,2,3)');
  });
});

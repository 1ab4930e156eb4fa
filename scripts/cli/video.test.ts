import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeApng } from 'fast-png';
import { FIXTURES } from '../../src/testing/fixtures.ts';
import { parseVideoArgs, run } from './video.ts';

const dir = mkdtempSync(join(tmpdir(), 'video-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The acTL chunk's frame count, read from the bytes (not through a decoder). */
function actlFrames(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 8; at + 12 <= bytes.length; at += 12 + view.getUint32(at)) {
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'acTL') return view.getUint32(at + 8);
  }
  return -1;
}

describe('video CLI', () => {
  it('parses arguments: defaults, content from --adapted, refusals', () => {
    const a = parseVideoArgs(['--seeds', '1,2', '--out', 'o.png']);
    expect([a.generator, a.content, a.frames, a.seconds, a.psi]).toEqual(['embedded', 'source', 60, 4, 0.7]);
    expect(a.seeds).toEqual([1, 2]);
    expect(parseVideoArgs(['--seeds', '3-5', '--adapted', 'd.safetensors', '--out', 'o.apng']).content).toBe('side-by-side');
    expect(parseVideoArgs(['--seeds', '3-5', '--adapted', 'd.safetensors', '--content', 'adapted', '--out', 'o.png']).seeds).toEqual([3, 4, 5]);
    expect(() => parseVideoArgs(['--seeds', '1', '--out', 'o.webm'])).toThrow(/no WebCodecs/);
    expect(() => parseVideoArgs(['--seeds', '1', '--out', 'o.gif'])).toThrow(/\.png or \.apng/);
    expect(() => parseVideoArgs(['--out', 'o.png'])).toThrow(/--seeds is required/);
    expect(() => parseVideoArgs(['--seeds', 'x', '--out', 'o.png'])).toThrow(/--seeds needs/);
    expect(() => parseVideoArgs(['--seeds', '1', '--content', 'adapted', '--out', 'o.png'])).toThrow(/needs --adapted/);
    expect(() => parseVideoArgs(['--seeds', '1', '--frames', '1', '--out', 'o.png'])).toThrow(/integer ≥ 2/);
    expect(() => parseVideoArgs(['--help'])).toThrow(/APNG is lossless/);
  });

  it('writes an animated PNG of the orbit on the tiny fixture: frame count, size and delay read back', async () => {
    const out = join(dir, 'orbit.png');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    let printed = '';
    try {
      await run(['--generator', `${FIXTURES}eg3d-tiny.pkl`, '--seeds', '4,9', '--frames', '3', '--seconds', '0.5', '--render-resolution', '32', '--samples', '6,6', '--out', out]);
      printed = log.mock.calls.map((c) => String(c[0])).join('\n');
    } finally {
      log.mockRestore();
      err.mockRestore();
    }
    const bytes = new Uint8Array(readFileSync(out));
    expect(Array.from(bytes.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
    expect(actlFrames(bytes)).toBe(3);
    const apng = decodeApng(bytes);
    expect(apng.numberOfFrames).toBe(3);
    expect(apng.frames).toHaveLength(3);
    // one row per seed
    expect(apng.height).toBe(2 * apng.width);
    expect(apng.frames[0].delayNumber / apng.frames[0].delayDenominator).toBeCloseTo(0.5 / 3, 6);
    expect(Array.from(apng.frames[1].data as Uint8Array)).not.toEqual(Array.from(apng.frames[0].data as Uint8Array));
    expect(printed).toMatch(/animated PNG, \d+×\d+, 3 frames at 6\.00 fps/);
  }, 300_000);
});

import { describe, expect, it } from 'vitest';
import { orbitDrag, wheelZoom } from './orbit.ts';
import { PITCH_LIMIT, YAW_LIMIT } from '../state/studio-store.ts';

describe('orbit interaction', () => {
  it('maps a full-width drag to the full yaw range', () => {
    const r = orbitDrag({ yaw: -YAW_LIMIT, pitch: 0 }, 500, 0, 500);
    expect(r.yaw).toBeCloseTo(YAW_LIMIT);
    expect(r.pitch).toBe(0);
  });

  it('clamps to EG3D-safe poses', () => {
    expect(orbitDrag({ yaw: 0, pitch: 0 }, 10_000, 10_000, 400)).toEqual({ yaw: YAW_LIMIT, pitch: PITCH_LIMIT });
    expect(orbitDrag({ yaw: 0, pitch: 0 }, -10_000, -10_000, 400)).toEqual({ yaw: -YAW_LIMIT, pitch: -PITCH_LIMIT });
  });

  it('zooms in on wheel up and stays within 1..3', () => {
    expect(wheelZoom(1, -100)).toBeGreaterThan(1);
    expect(wheelZoom(1, 100)).toBe(1);
    expect(wheelZoom(2.9, -10_000)).toBe(3);
  });
});

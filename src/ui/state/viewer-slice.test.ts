import { describe, expect, it } from 'vitest';
import { boot } from './controller.test-doubles.ts';

describe('viewer slice', () => {
  it('clamps the viewer to EG3D-safe poses', async () => {
    const { c, store } = await boot();
    c.viewer.update({ yaw: 5, pitch: -5, zoom: 10, strength: 2 });
    expect(store.getState().viewer).toMatchObject({ yaw: 0.6, pitch: -0.35, zoom: 3, strength: 1 });
    c.viewer.rerollFaces(() => 0.5);
    expect(store.getState().viewer.stripSeeds).toEqual([500000, 500000, 500000]);
  });
});

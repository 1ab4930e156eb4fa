import { describe, expect, it } from 'vitest';
import { EngineError, type FaceDetection, type RgbaImage } from '../../engine/types.ts';
import { boot, FakeEngine, FakeImages } from '../state/controller.test-doubles.ts';
import { MemoryStore } from '../persist/kv-store.ts';
import { StudioController } from '../state/controller.ts';
import { createStudioStore } from '../state/studio-store.ts';
import { alignedCrop, clampCrop, moveCrop, resizeCrop, rotateCrop } from './crop.ts';
import type { DecodedImage } from './image-toolkit.ts';

/** The corners of a turned crop square. */
function corners(c: { x: number; y: number; size: number; angle?: number }) {
  const a = c.angle ?? 0, cx = c.x + c.size / 2, cy = c.y + c.size / 2, r = c.size / 2;
  return [[-1, -1], [1, -1], [1, 1], [-1, 1]].map(([u, v]) => ({ x: cx + r * (u * Math.cos(a) - v * Math.sin(a)), y: cy + r * (u * Math.sin(a) + v * Math.cos(a)) }));
}
const inside = (c: Parameters<typeof corners>[0], w: number, h: number) => corners(c).every((p) => p.x >= -1e-6 && p.y >= -1e-6 && p.x <= w + 1e-6 && p.y <= h + 1e-6);

describe('turned crops', () => {
  it('keep their angle and their corners inside the image when moved, resized, turned or clamped', () => {
    const a = alignedCrop({ cx: 200, cy: 150, size: 180, angle: 0.3 }, 400, 300);
    expect(a.angle).toBe(0.3);
    expect(a.size).toBeCloseTo(180, 6);
    expect(a.x + a.size / 2).toBeCloseTo(200, 6);
    expect(inside(a, 400, 300)).toBe(true);
    // Too big for the image: shrunk about its centre (then moved in).
    const big = alignedCrop({ cx: 200, cy: 150, size: 400, angle: 0.3 }, 400, 300);
    expect(inside(big, 400, 300)).toBe(true);
    expect(big.size).toBeLessThan(300);
    const moved = moveCrop(a, 500, 0, 1, 400, 300);
    expect(moved.angle).toBe(0.3);
    expect(inside(moved, 400, 300)).toBe(true);
    expect(resizeCrop(a, 0.5, 400, 300).angle).toBe(0.3);
    const level = rotateCrop(a, 0, 400, 300);
    expect(level.angle ?? 0).toBe(0);
    expect(clampCrop(level, 400, 300)).toEqual(level);
    expect(inside(rotateCrop(clampCrop({ x: 0, y: 0, size: 300 }, 400, 300), 0.6, 400, 300), 400, 300)).toBe(true);
  });
});

/** An engine that finds a face (or none) in what it is shown. */
class FaceEngine extends FakeEngine {
  shown: RgbaImage[] = [];
  result: FaceDetection | null | EngineError = null;
  async detectFace(image: RgbaImage): Promise<FaceDetection | null> {
    this.shown.push(image);
    if (this.result instanceof EngineError) throw this.result;
    return this.result;
  }
}

/** FakeImages whose pixels() halves the image (a detection copy at half the size). */
class HalvingImages extends FakeImages {
  pixels(image: DecodedImage): RgbaImage {
    const w = image.width / 2, h = image.height / 2;
    return { width: w, height: h, data: new Uint8ClampedArray(w * h * 4) };
  }
}

async function bootWith(engine: FaceEngine) {
  const store = createStudioStore();
  const c = new StudioController(engine, store, new MemoryStore(), new HalvingImages(), { now: () => 1 });
  await c.init();
  return { c, store };
}

describe('face-aware reference crop (reference slice)', () => {
  it('a dropped portrait gets the aligned crop of its face, landmarks in image pixels, and the engine gets that crop', async () => {
    const engine = new FaceEngine();
    engine.result = {
      box: { x: 100, y: 80, width: 120, height: 150 },
      score: 0.97,
      landmarks: Array.from({ length: 68 }, (_, i) => ({ x: 100 + i, y: 100 })),
      aligned: { cx: 200, cy: 150, size: 160, angle: 0.1 },
    };
    const { c, store } = await bootWith(engine);
    await c.reference.setReferenceFile(new Blob(['800x600']), 'portrait.png');
    const r = store.getState().reference!;
    expect(engine.shown[0].width).toBe(400); // the detection copy
    expect(r.face?.status).toBe('found');
    expect(r.face?.landmarks?.[0]).toEqual({ x: 200, y: 200 }); // ×2 back to image pixels
    expect(r.crop.angle).toBeCloseTo(0.1, 10);
    expect(r.crop.size).toBeCloseTo(320, 6);
    expect(r.crop.x + r.crop.size / 2).toBeCloseTo(400, 6);
    expect(r.applied).toBe(true);
    expect(engine.references).toHaveLength(1);
    // Moved by hand, then back to the face crop.
    c.reference.previewCrop({ ...r.crop, x: 10, y: 10 });
    await c.reference.commitCrop();
    expect(store.getState().reference!.crop.x).toBeLessThan(r.crop.x - 50); // moved (its turned corners kept inside)
    expect(store.getState().reference!.crop.angle).toBeCloseTo(0.1, 10);
    await c.reference.useFaceCrop();
    expect(store.getState().reference!.crop).toEqual(r.face!.proposal);
  });

  it('no face: a warning, the centred crop, the reference still applied; examples are not searched', async () => {
    const engine = new FaceEngine();
    const { c, store } = await bootWith(engine);
    await c.reference.setReferenceFile(new Blob(['800x600']), 'landscape.png');
    const r = store.getState().reference!;
    expect(r.face?.status).toBe('none');
    expect(r.face?.message).toMatch(/No face found.*Artistic references often are not faces/);
    expect(r.crop).toEqual({ x: 100, y: 0, size: 600 });
    expect(r.applied).toBe(true);
    await c.reference.useExample('sketch');
    expect(store.getState().reference!.face).toBeUndefined();
    expect(engine.shown).toHaveLength(1);
  });

  it('a failing detection or an engine without one leaves the centred crop and says so', async () => {
    const engine = new FaceEngine();
    engine.result = new EngineError('not-ready', 'this engine was set up without a face model');
    const { c, store } = await bootWith(engine);
    await c.reference.setReferenceFile(new Blob(['640x480']), 'x.png');
    expect(store.getState().reference!.face?.status).toBe('unavailable');
    expect(store.getState().reference!.face?.message).toMatch(/without a face model/);
    const plain = await boot();
    await plain.c.reference.setReferenceFile(new Blob(['640x480']), 'y.png');
    expect(plain.store.getState().reference!.face?.status).toBe('unavailable');
    expect(plain.store.getState().reference!.applied).toBe(true);
  });
});

/**
 * Reference slice: decoding a dropped, pasted or example image, the square crop (moved in the store for
 * drag feedback, sent to the engine on commit), and applying it to the engine. The newest request wins
 * over slower older ones; the reference cannot change while a run uses it.
 */
import type { RgbaImage } from '../../engine/types.ts';
import { alignedCrop, centredCrop, clampCrop, FACE_INPUT_SIDE, type CropRect } from '../reference/crop.ts';
import { REFERENCE_SIZE, type DecodedImage } from '../reference/image-toolkit.ts';
import type { PersistenceSlice } from './persistence-slice.ts';
import { errorMessage, type SliceContext } from './slice-context.ts';
import { isActive, type ReferenceFace } from './studio-store.ts';

export class ReferenceSlice {
  /** Newest reference request; an older one finishing later is dropped (last drop wins). */
  private request = 0;

  constructor(
    private readonly ctx: SliceContext,
    private readonly persistence: PersistenceSlice,
  ) {}

  /** The engine keeps its reference for the whole run; changing it waits until the run ends. */
  private guardIdle(): boolean {
    if (!isActive(this.ctx.s.run.state)) return true;
    this.ctx.set({ referenceError: 'Stop the running adaptation before changing the reference.' });
    return false;
  }

  async setReferenceFile(file: Blob, name: string): Promise<void> {
    await this.load(() => this.ctx.images.decode(file, name), 'file');
  }

  async useExample(id: string): Promise<void> {
    await this.load(() => this.ctx.images.example(id), 'example');
  }

  private async load(decode: () => Promise<DecodedImage>, origin: 'file' | 'example'): Promise<void> {
    const { ctx } = this;
    if (!this.guardIdle()) return;
    const token = ++this.request;
    const current = () => token === this.request;
    ctx.set({ referenceBusy: true, referenceError: null });
    try {
      const image = await decode();
      if (!current()) {
        ctx.images.release(image);
        return;
      }
      await this.replace(image, origin);
    } catch (e) {
      // The previous reference (if any) stays selected.
      if (current()) ctx.set({ referenceError: errorMessage(e) });
    } finally {
      if (current()) ctx.set({ referenceBusy: false });
    }
  }

  private async replace(image: DecodedImage, origin: 'file' | 'example'): Promise<void> {
    const { ctx } = this;
    const old = ctx.s.reference;
    ctx.set({ reference: { image, crop: centredCrop(image.width, image.height), origin, applied: false } });
    if (old && old.image !== image) ctx.images.release(old.image);
    // A dropped image: propose the FFHQ-aligned crop of its face (a warning, not a refusal, when there is none).
    if (origin === 'file') await this.detectFace(image);
    await this.apply();
    // Saved for the next visit in the background (the UI does not wait for it).
    void this.persistence.queueReference();
  }

  /** Finds the face of the reference image and moves the crop to its FFHQ-aligned square. */
  private async detectFace(image: DecodedImage): Promise<void> {
    const { ctx } = this;
    const setFace = (face: ReferenceFace, crop?: CropRect) => {
      const r = ctx.s.reference;
      if (r?.image === image) ctx.set({ reference: { ...r, face, ...(crop ? { crop } : {}) } });
    };
    const engine = ctx.engine;
    if (!ctx.images.pixels) {
      setFace({ status: 'unavailable', message: 'Face detection is not available here: the crop is centred.' });
      return;
    }
    setFace({ status: 'detecting' });
    try {
      const px = ctx.images.pixels(image, FACE_INPUT_SIDE);
      const found = await engine.detectFace(px);
      if (!found) {
        setFace({ status: 'none', message: 'No face found: the crop is centred. Artistic references often are not faces; move and size the crop by hand if needed.' });
        return;
      }
      const k = image.width / px.width; // detection pixels → image pixels
      const landmarks = found.landmarks.map((p) => ({ x: p.x * k, y: p.y * k }));
      const a = found.aligned;
      const proposal = alignedCrop({ cx: a.cx * k, cy: a.cy * k, size: a.size * k, angle: a.angle }, image.width, image.height);
      const clipped = proposal.size < a.size * k - 0.5;
      setFace(
        {
          status: 'found',
          landmarks,
          score: found.score,
          proposal,
          message: `Face found (score ${found.score.toFixed(2)}): FFHQ-aligned crop, eyes level${clipped ? ' (smaller than FFHQ’s: the image ends there)' : ''}. Drag, size or tilt it to adjust.`,
        },
        proposal,
      );
    } catch (e) {
      setFace({ status: 'unavailable', message: `Face detection failed (${errorMessage(e)}): the crop is centred.` });
    }
  }

  /** Puts the crop back on the proposed face crop. */
  async useFaceCrop(): Promise<void> {
    const r = this.ctx.s.reference;
    if (!r?.face?.proposal || !this.guardIdle()) return;
    this.ctx.set({ reference: { ...r, crop: r.face.proposal, applied: false } });
    await this.commitCrop();
  }

  /** Moves/resizes the crop in the store only (cheap, for drag feedback); commitCrop applies it. */
  previewCrop(crop: CropRect): void {
    const { ctx } = this;
    const r = ctx.s.reference;
    if (!r || isActive(ctx.s.run.state)) return;
    ctx.set({ reference: { ...r, crop: clampCrop(crop, r.image.width, r.image.height), applied: false } });
  }

  async commitCrop(): Promise<void> {
    if (this.ctx.s.reference?.applied || !this.guardIdle()) return;
    await this.apply();
    await this.persistence.queueReference();
  }

  /** The square crop the engine receives (at `size` pixels: smaller for an on-screen preview). */
  croppedReference(size = REFERENCE_SIZE): RgbaImage | null {
    const r = this.ctx.s.reference;
    return r ? this.ctx.images.crop(r.image, r.crop, size) : null;
  }

  /** Sends the current crop to the engine (after a restore or an engine restart: `again` re-sends it). */
  async apply(again = false): Promise<void> {
    const { ctx } = this;
    if (again && ctx.s.reference) ctx.set({ reference: { ...ctx.s.reference, applied: false } });
    const r = ctx.s.reference;
    if (!r) return;
    try {
      await ctx.engine.setReference(ctx.images.crop(r.image, r.crop, REFERENCE_SIZE));
      if (ctx.s.reference?.image === r.image) ctx.set({ reference: { ...ctx.s.reference, applied: true } });
    } catch (e) {
      ctx.set({ referenceError: `The engine rejected the reference: ${errorMessage(e)}` });
    }
  }
}

/** Composition of render grids (multi-view strip → one PNG) and RgbaImage helpers for canvases. */
import type { RgbaImage } from '../engine/types.ts';

/**
 * Lays out rows of equally sized cells with `gap` pixels between them on a solid background. Cells of a
 * different size are nearest-neighbour resampled to the first cell's size; missing cells stay background.
 */
export function composeGrid(rows: Array<Array<RgbaImage | null>>, gap = 4, background: [number, number, number] = [17, 19, 24]): RgbaImage {
  const first = rows.flat().find((c): c is RgbaImage => c !== null);
  if (!first) throw new Error('composeGrid: no images to compose');
  const cw = first.width, ch = first.height;
  const cols = Math.max(...rows.map((r) => r.length));
  const width = cols * cw + (cols + 1) * gap;
  const height = rows.length * ch + (rows.length + 1) * gap;
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = background[0];
    data[i * 4 + 1] = background[1];
    data[i * 4 + 2] = background[2];
    data[i * 4 + 3] = 255;
  }
  rows.forEach((row, r) =>
    row.forEach((cell, c) => {
      if (!cell) return;
      const ox = gap + c * (cw + gap), oy = gap + r * (ch + gap);
      for (let y = 0; y < ch; y++) {
        const sy = Math.min(cell.height - 1, Math.floor((y * cell.height) / ch));
        for (let x = 0; x < cw; x++) {
          const sx = Math.min(cell.width - 1, Math.floor((x * cell.width) / cw));
          const si = (sy * cell.width + sx) * 4, di = ((oy + y) * width + ox + x) * 4;
          data[di] = cell.data[si];
          data[di + 1] = cell.data[si + 1];
          data[di + 2] = cell.data[si + 2];
          data[di + 3] = 255;
        }
      }
    }),
  );
  return { width, height, data };
}

export interface PreviewRow<T> {
  seed: number;
  cells: Array<{ img: T; yaw: number }>;
}

/**
 * Groups a preview event's flat image list into one row per latent. The engine lists images latent-major
 * with `seeds[i]`/`yaws[i]` per image; a list with one yaw per column and one seed per row is accepted too.
 */
export function previewRows<T>(images: T[], seeds: number[], yaws: number[]): PreviewRow<T>[] {
  if (seeds.length === images.length && yaws.length === images.length) {
    const rows: PreviewRow<T>[] = [];
    images.forEach((img, i) => {
      const last = rows[rows.length - 1];
      if (last && last.seed === seeds[i]) last.cells.push({ img, yaw: yaws[i] });
      else rows.push({ seed: seeds[i], cells: [{ img, yaw: yaws[i] }] });
    });
    return rows;
  }
  return toRows(images, Math.max(1, yaws.length)).map((r, i) => ({
    seed: seeds[i] ?? i,
    cells: r.map((img, j) => ({ img, yaw: yaws[j] ?? 0 })),
  }));
}

/** Splits a flat list into rows of `perRow`. */
export function toRows<T>(items: T[], perRow: number): T[][] {
  const rows: T[][] = [];
  for (let i = 0; i < items.length; i += Math.max(1, perRow)) rows.push(items.slice(i, i + perRow));
  return rows;
}

export function drawRgba(canvas: HTMLCanvasElement, img: RgbaImage): void {
  if (canvas.width !== img.width) canvas.width = img.width;
  if (canvas.height !== img.height) canvas.height = img.height;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  ctx.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

export async function rgbaToPngBlob(img: RgbaImage): Promise<Blob> {
  const canvas = new OffscreenCanvas(img.width, img.height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot create a 2D canvas');
  ctx.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
  return canvas.convertToBlob({ type: 'image/png' });
}

/** Saves bytes through a temporary link (the browser's download flow). */
export function downloadBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.rel = 'noopener';
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Revoke later: revoking synchronously can cancel the download in some browsers.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The built-in example references (procedurally drawn at run time; no bundled art). */
import { drawCartoonFace } from './cartoon-face.ts';
import { drawSketchFace } from './sketch-face.ts';
import type { Ctx2D } from './draw-utils.ts';

export interface ExampleReference {
  id: string;
  label: string;
  description: string;
}

export const EXAMPLES: ExampleReference[] = [
  { id: 'sketch', label: 'Pencil sketch', description: 'Graphite lines and hatching on paper' },
  { id: 'cartoon', label: 'Flat cartoon', description: 'Flat colours with thick outlines' },
];

export function drawExample(id: string, ctx: Ctx2D, size: number): void {
  switch (id) {
    case 'sketch':
      drawSketchFace(ctx, size);
      return;
    case 'cartoon':
      drawCartoonFace(ctx, size);
      return;
    default:
      throw new Error(`unknown example reference "${id}"`);
  }
}

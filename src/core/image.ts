/** Image values shared by every layer (encoders, the engine interface, the UI, the CLI). No DOM, no Node. */

/** RGBA8 image, row-major, width × height × 4. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

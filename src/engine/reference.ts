/** The reference image as the engine accepts it: an RGBA image of at least 16×16 pixels with some contrast. */
import { EngineError, type RgbaImage } from './types.ts';

/** A private copy of a valid reference; 'bad-reference' otherwise. */
export function acceptReference(image: RgbaImage): RgbaImage {
  const ok =
    image &&
    Number.isInteger(image.width) &&
    Number.isInteger(image.height) &&
    image.width >= 16 &&
    image.height >= 16 &&
    image.data instanceof Uint8ClampedArray &&
    image.data.length === image.width * image.height * 4;
  if (!ok) {
    throw new EngineError('bad-reference', `the reference must be an RGBA image of at least 16×16 pixels (got ${image?.width}×${image?.height}, ${image?.data?.length} bytes)`);
  }
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < image.data.length; i += 4) {
    const v = image.data[i] + image.data[i + 1] + image.data[i + 2];
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (max - min < 6) throw new EngineError('bad-reference', 'the reference image is a single flat colour: there is no style to learn from it');
  return { width: image.width, height: image.height, data: new Uint8ClampedArray(image.data) };
}

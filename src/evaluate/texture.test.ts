import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initNodeBackend } from '../platform/node-backend.ts';
import { stripedReference } from '../testing/fixtures.ts';
import { gramDistance, InceptionGramNetwork, loadNsfwInceptionV3, truncatedLayersModel } from './texture.ts';
import type { EvalImage } from './types.ts';

type Source = Awaited<ReturnType<typeof loadNsfwInceptionV3>>;

function smooth(size: number): EvalImage {
  const data = new Uint8ClampedArray(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) data.set([100 + x, 80 + y, 120, 255], (y * size + x) * 4);
  }
  return { width: size, height: size, data };
}

describe('InceptionV3 Gram texture statistics', () => {
  let source: Source;
  let net: InceptionGramNetwork;

  beforeAll(async () => {
    await initNodeBackend('wasm');
    source = await loadNsfwInceptionV3();
    net = await InceptionGramNetwork.create(source);
  }, 120_000);

  afterAll(() => net?.dispose());

  it('the truncated model computes what the full model computes at the same layer', async () => {
    const full = await tf.loadLayersModel(
      tf.io.fromMemory({ modelTopology: source.json.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'], weightSpecs: source.json.weightsManifest.flatMap((g) => g.weights), weightData: source.weights.slice().buffer }),
    );
    const cut = await truncatedLayersModel(source.json, source.weights, ['mixed0']);
    try {
      const x = tf.randomUniform([1, 299, 299, 3], 0, 1, 'float32', 3);
      const sub = tf.model({ inputs: full.inputs, outputs: full.getLayer('mixed0').output as tf.SymbolicTensor });
      const a = sub.predict(x) as tf.Tensor;
      const b = cut.predict(x) as tf.Tensor;
      expect(b.shape).toEqual(a.shape);
      const err = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
      expect(err).toBeLessThan(1e-4);
      // Truncated: far fewer weights than the full model.
      expect(cut.countParams()).toBeLessThan(full.countParams() / 20);
      tf.dispose([x, a, b]);
    } finally {
      full.dispose();
      cut.dispose();
    }
  }, 120_000);

  it('distance is 0 to itself, larger for a different texture; no tensor leak', async () => {
    const stripes = stripedReference(96);
    const before = tf.memory().numTensors;
    const [g1, g2, g3] = await net.grams([stripes, stripes, smooth(96)]);
    expect(tf.memory().numTensors).toBe(before);
    expect(g1).toHaveLength(3);
    expect(net.distance(g2, g1)).toBeCloseTo(0, 6);
    expect(net.distance(g3, g1)).toBeGreaterThan(0.1);
    // Batch and single calls agree.
    const [single] = await net.grams([smooth(96)]);
    expect(gramDistance(single, g3)).toBeLessThan(1e-5);
  }, 120_000);
});

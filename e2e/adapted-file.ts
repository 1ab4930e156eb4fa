/**
 * Adapted weights for the embedded demo generator, made in the test process with the project's own
 * writer (what the Outputs panel's drop zone loads): its Tri-D + G2 plus seeded noise.
 */
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.ts';
import { isTrainableKey, writeAdaptedSafetensors } from '../src/adapter/export.ts';
import { loadEmbeddedGenerator } from '../src/engine/embedded.ts';
import { openEmbeddedFile } from '../src/platform/node-embedded.ts';

/** The embedded generator's Tri-D + G2 plus seeded noise (0.3 × each tensor's std), as the studio's adapted-weights file. */
export async function perturbedAdaptedFile(): Promise<Uint8Array> {
  await tf.setBackend('cpu');
  const emb = await loadEmbeddedGenerator(openEmbeddedFile);
  const rng = new Random(12);
  const adapted = new Map<string, tf.Tensor>();
  try {
    for (const [k, t] of emb.generator.weights) {
      if (!isTrainableKey(k)) continue;
      adapted.set(
        k,
        tf.tidy(() => {
          const std = tf.sqrt(tf.moments(t).variance);
          return tf.add(t, tf.mul(tf.tensor(rng.normalArray(t.size), t.shape), tf.mul(std, 0.3)));
        }),
      );
    }
    return writeAdaptedSafetensors(adapted, {
      baseGeneratorSha256: emb.sha256,
      baseGeneratorName: emb.name,
      encoders: [],
      settings: {},
      seed: 12,
      iterations: { triD: 1, g2: 1 },
      lossHistory: [],
      createdAt: new Date(0).toISOString(),
    });
  } finally {
    tf.dispose([...adapted.values()]);
    emb.generator.dispose();
  }
}

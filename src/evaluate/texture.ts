/**
 * Texture-statistics distance of the evaluation report: Gram matrices (Gatys et al.) of early layers
 * of InceptionV3 — the Keras model shipped inside the `nsfwjs` package (MIT), a network none of the
 * training losses uses (the embedded training encoder is nsfwjs' MobileNetV2; user encoders are CLIP).
 * The Keras topology is cut after the deepest requested layer and only those layers' weights are
 * decoded; inference only, through the project's tfjs (tfjs-layers).
 */
import * as tf from '@tensorflow/tfjs';
import { FormatError, InternalError } from '../core/errors.ts';
import type { EvalImage, TextureNetwork } from './types.ts';
import { base64ToBytes, moduleValue, type NsfwModelDefinition } from '../clip/nsfw-bundle.ts';

/** Stem conv blocks (after conv2d_3: 64 ch, after conv2d_5: 192 ch) and the first Inception block. */
export const DEFAULT_TEXTURE_LAYERS = ['activation_3', 'activation_5', 'mixed0'] as const;
/** Input side the images are resized to (InceptionV3 is fully convolutional up to these layers). */
export const DEFAULT_TEXTURE_INPUT = 160;

interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown;
}

interface KerasModelJson {
  modelTopology: {
    keras_version?: string;
    backend?: string;
    model_config: { class_name: string; config: { name: string; layers: KerasLayerJson[]; input_layers: unknown; output_layers: unknown } };
  };
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** The InceptionV3 model JSON and its weight shards (concatenated) from the nsfwjs package (a module import, no network). */
export async function loadNsfwInceptionV3(): Promise<{ json: KerasModelJson; weights: Uint8Array }> {
  const { InceptionV3Model } = (await import('nsfwjs/models/inception_v3')) as { InceptionV3Model: NsfwModelDefinition };
  const json = moduleValue<KerasModelJson>(await InceptionV3Model.modelJson(), 'model');
  const n = InceptionV3Model.weightBundles.length;
  const byPath = new Map<string, Uint8Array>();
  for (let i = 0; i < n; i++) {
    const path = `group1-shard${i + 1}of${n}`;
    byPath.set(path, base64ToBytes(moduleValue<string>(await InceptionV3Model.weightBundles[i](), path.replace(/-/g, '_'))));
  }
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const b = byPath.get(p);
      if (!b) throw new InternalError(`nsfwjs InceptionV3: weight shard ${p} missing from the bundle`);
      parts.push(b);
    }
  }
  const weights = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    weights.set(p, off);
    off += p.length;
  }
  return { json, weights };
}

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function specBytes(s: tf.io.WeightsManifestEntry): number {
  const n = s.shape.reduce((a, b) => a * b, 1);
  const dtype = s.quantization?.dtype ?? s.dtype;
  const b = DTYPE_BYTES[dtype];
  if (!b) throw new FormatError(`weight ${s.name}: unsupported dtype ${dtype}`);
  return n * b;
}

function inboundNames(layer: KerasLayerJson): string[] {
  const nodes = layer.inbound_nodes as [string, number, number, unknown][][];
  return nodes.flatMap((node) => node.map((inbound) => inbound[0]));
}

/**
 * A LayersModel with the given layers as outputs, built from a Keras functional model JSON: keeps
 * the layers the outputs depend on and decodes only their weights from `weightData` (the shards in
 * manifest order).
 */
export async function truncatedLayersModel(json: KerasModelJson, weightData: Uint8Array, outputs: readonly string[]): Promise<tf.LayersModel> {
  const cfg = json.modelTopology.model_config.config;
  const byName = new Map(cfg.layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [...outputs];
  while (stack.length) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    const layer = byName.get(name);
    if (!layer) throw new InternalError(`layer '${name}' is not in the model`);
    needed.add(name);
    stack.push(...inboundNames(layer));
  }
  // Any input size: the convolutional stem does not need InceptionV3's 299².
  const layers = cfg.layers
    .filter((l) => needed.has(l.name))
    .map((l) => (l.class_name === 'InputLayer' ? { ...l, config: { ...l.config, batch_input_shape: [null, null, null, 3] } } : l));
  const keep = (weightName: string) => needed.has(weightName.split('/')[0]);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const s of json.weightsManifest.flatMap((g) => g.weights)) {
    const size = specBytes(s);
    if (offset + size > weightData.length) throw new FormatError(`weights end before ${s.name}`);
    if (keep(s.name)) {
      specs.push(s);
      parts.push(weightData.subarray(offset, offset + size));
    }
    offset += size;
  }
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  const topology = {
    ...json.modelTopology,
    model_config: {
      ...json.modelTopology.model_config,
      config: { ...cfg, layers, output_layers: outputs.map((o) => [o, 0, 0]) },
    },
  };
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: topology as unknown as tf.io.ModelArtifacts['modelTopology'], weightSpecs: specs, weightData: data.buffer }),
  );
}

/** Bilinear resize (antialiased by area pre-averaging when shrinking a lot) of RGBA8 images to `size`² RGB in [0, 1] (the nsfwjs input range), `[N, S, S, 3]`. */
function inputTensor(images: EvalImage[], size: number): tf.Tensor4D {
  return tf.tidy(() =>
    tf.stack(
      images.map((image) => {
        const rgba = tf.tensor3d(Float32Array.from(image.data), [image.height, image.width, 4]);
        const rgb = tf.div(tf.slice(rgba, [0, 0, 0], [image.height, image.width, 3]), 255) as tf.Tensor3D;
        return tf.image.resizeBilinear(rgb, [size, size], true);
      }),
    ) as tf.Tensor4D,
  );
}

/** Gram matrices Fᵀ F / (h·w) of feature maps [N, h, w, c] → [N, c, c]. */
export function gramMatrix(features: tf.Tensor4D): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, h, w, c] = features.shape;
    const f = tf.reshape(features, [n, h * w, c]);
    return tf.div(tf.matMul(f, f, true, false), h * w) as tf.Tensor3D;
  });
}

/** Gram matrices of early InceptionV3 layers; `distance` is the mean over layers of ‖G(x) − G(y)‖_F / ‖G(y)‖_F. */
export class InceptionGramNetwork implements TextureNetwork {
  readonly name: string;
  private disposed = false;

  private constructor(
    private readonly model: tf.LayersModel,
    readonly layers: readonly string[],
    readonly inputSize: number,
  ) {
    this.name = `InceptionV3 (nsfwjs) Gram matrices of ${layers.join(', ')} at ${inputSize}²`;
  }

  static async create(source: { json: KerasModelJson; weights: Uint8Array }, layers: readonly string[] = DEFAULT_TEXTURE_LAYERS, inputSize = DEFAULT_TEXTURE_INPUT): Promise<InceptionGramNetwork> {
    return new InceptionGramNetwork(await truncatedLayersModel(source.json, source.weights, layers), layers, inputSize);
  }

  /** Gram matrices (flattened, one per layer) of each image. */
  async grams(images: EvalImage[]): Promise<Float32Array[][]> {
    if (this.disposed) throw new InternalError('texture network has been disposed');
    const grams = tf.tidy(() => {
      const out = this.model.predict(inputTensor(images, this.inputSize));
      const maps = (Array.isArray(out) ? out : [out]) as tf.Tensor4D[];
      return maps.map((m) => gramMatrix(m));
    });
    const data = await Promise.all(grams.map((g) => g.data() as Promise<Float32Array>));
    const sizes = grams.map((g) => g.shape[1] * g.shape[2]);
    tf.dispose(grams);
    return images.map((_, i) => data.map((d, l) => d.slice(i * sizes[l], (i + 1) * sizes[l])));
  }

  distance(a: Float32Array[], b: Float32Array[]): number {
    return gramDistance(a, b);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** Mean over layers of ‖a_l − b_l‖_F / ‖b_l‖_F (b is the reference). */
export function gramDistance(a: Float32Array[], b: Float32Array[]): number {
  if (a.length !== b.length || a.length === 0) throw new InternalError('Gram matrix lists differ in length');
  let total = 0;
  for (let l = 0; l < a.length; l++) {
    let num = 0;
    let den = 0;
    for (let i = 0; i < a[l].length; i++) {
      const d = a[l][i] - b[l][i];
      num += d * d;
      den += b[l][i] * b[l][i];
    }
    total += Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12);
  }
  return total / a.length;
}

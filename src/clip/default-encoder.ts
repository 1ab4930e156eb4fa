/**
 * The embedded default encoder: the MobileNetV2 Keras LayersModel shipped inside the `nsfwjs` package
 * (MIT), loaded with no network (its model JSON and base64 weights are JS modules that bundlers and
 * Node import like any other module), behind the same `FeatureEncoder` interface as CLIP:
 * - embedding: the 1280-d global-average-pooled features (`flatten_1`), L2-normalised;
 * - tokens: the output of one inverted-residual block, spatial positions as tokens (`[N, h·w, C]`).
 * Inputs are RGB in [0, 1] at 224² as nsfwjs feeds them. Generated images go through the same bicubic
 * resize as the CLIP path; the reference image through the CLIP-style short-side resize and centre crop
 * (no mean/std normalisation).
 */
import * as tf from '@tensorflow/tfjs';
import type { RgbaImage } from '../core/image.ts';
import { tidyFeatures, l2Normalize, type EncoderFeatures, type FeatureEncoder } from './encoder.ts';
import { frozenMatMul } from './layers.ts';
import { clipReferencePixels, resizeBicubic, ResizeMatrixCache } from './preprocess.ts';
import { ClipShapeError } from './vit.ts';
import { InternalError } from '../core/errors.ts';
import { Sha256 } from '../io/sha256.ts';
import { base64ToBytes, moduleValue, type NsfwModelDefinition } from './nsfw-bundle.ts';

export class DefaultEncoderError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const INPUT_SIZE = 224;
const EMBEDDING_LAYER = 'flatten_1';
/** MobileNetV2's 17 inverted-residual blocks: `expanded_conv`, then `block_1` .. `block_16`. */
const NUM_BLOCKS = 17;
/** Block 12 gives a 14×14 grid of 96-d tokens at 224² (the same grid as CLIP ViT-B/16). */
const DEFAULT_TOKEN_BLOCK = 12;
/**
 * Hypercolumn blocks (STROTSS-like, early → late): block 2 (56², 24 ch: colour, fine texture),
 * 5 (28², 32 ch), 9 (14², 64 ch), 12 (14², 96 ch: parts). Measured in docs/method.md.
 */
const DEFAULT_MAP_BLOCKS: readonly number[] = [2, 5, 9, 12];

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/** The Keras model's artifacts (topology + dequantised-on-load weights) from the nsfwjs package, with no network access. */
export async function loadEmbeddedMobileNetV2Artifacts(): Promise<tf.io.ModelArtifacts> {
  const { MobileNetV2Model } = (await import('nsfwjs/models/mobilenet_v2')) as { MobileNetV2Model: NsfwModelDefinition };
  const json = moduleValue<ModelJson>(await MobileNetV2Model.modelJson(), 'model');
  // Shard i of n is the module `group1-shard{i}of{n}.min.js`, whose value is the base64 string.
  const n = MobileNetV2Model.weightBundles.length;
  const byPath: Record<string, string> = {};
  for (let i = 0; i < n; i++) {
    const path = `group1-shard${i + 1}of${n}`;
    byPath[path] = moduleValue<string>(await MobileNetV2Model.weightBundles[i](), path.replace(/-/g, '_'));
  }
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const path of group.paths) {
      const b64 = byPath[path];
      if (!b64) throw new DefaultEncoderError(`embedded MobileNetV2: weight shard ${path} missing from the nsfwjs bundle`);
      parts.push(base64ToBytes(b64));
    }
    weightSpecs.push(...group.weights);
  }
  const weightData = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    weightData.set(p, off);
    off += p.length;
  }
  return { modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs, weightData: weightData.buffer };
}

// ---------------------------------------------------------------------------------------------
// A small interpreter for the Keras graph. tfjs-layers' Conv2D uses fused conv2d, whose gradient
// always computes the filter gradient (no Conv2DBackpropFilter on wasm), and wasm has no depthwise
// input-gradient kernel; so the layers are evaluated here with ops whose input gradients run on
// every backend: 1×1 convs as matmuls, tf.conv2d (input gradient only) for the stem, and a depthwise
// convolution whose input gradient is itself a depthwise convolution (custom gradient).

interface KerasLayer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: [string, number, number, unknown][][];
}

/** Explicit [top, bottom, left, right] padding of TF 'same' / 'valid'. */
function tfPadding(padding: string, h: number, w: number, k: number, s: number): [number, number, number, number] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const total = (size: number) => Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
  const th = total(h);
  const tw = total(w);
  return [Math.floor(th / 2), th - Math.floor(th / 2), Math.floor(tw / 2), tw - Math.floor(tw / 2)];
}

/** Inserts s−1 zeros between rows and columns: [N, H, W, C] → [N, (H−1)s+1, (W−1)s+1, C]. */
function dilate(x: tf.Tensor4D, s: number): tf.Tensor4D {
  if (s === 1) return x;
  const [n, h, w, c] = x.shape;
  const rows = tf.reshape(tf.pad(tf.reshape(x, [n * h, 1, w, c]), [[0, 0], [0, s - 1], [0, 0], [0, 0]]), [n, h * s, w, c]);
  const hs = (h - 1) * s + 1;
  const cut = tf.slice(rows, [0, 0, 0, 0], [n, hs, w, c]);
  const cols = tf.reshape(tf.pad(tf.reshape(cut, [n * hs, w, 1, c]), [[0, 0], [0, 0], [0, s - 1], [0, 0]]), [n, hs, w * s, c]);
  return tf.slice(cols, [0, 0, 0, 0], [n, hs, (w - 1) * s + 1, c]) as tf.Tensor4D;
}

/** 'valid' depthwise convolution (kernel [k, k, C, 1]) with a hand-written input gradient. */
export function depthwiseValid(x: tf.Tensor4D, kernel: tf.Tensor4D, stride: number): tf.Tensor4D {
  const k = kernel.shape[0];
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const xin = args[0] as tf.Tensor4D;
    const value = tf.depthwiseConv2d(xin, kernel, stride, 'valid');
    const gradFunc = (dy: tf.Tensor4D) => {
      // Full correlation of the zero-dilated dy with the 180°-rotated kernel, then zero rows/cols
      // for input positions no window reached.
      const [, h, w] = xin.shape;
      const d = dilate(dy, stride);
      const padded = tf.pad(d, [[0, 0], [k - 1, k - 1], [k - 1, k - 1], [0, 0]]);
      // (The flipped kernel is made here: tensors of the forward pass's tidy are gone by backprop time.)
      const full = tf.depthwiseConv2d(padded as tf.Tensor4D, tf.reverse(kernel, [0, 1]), 1, 'valid');
      return tf.pad(full, [[0, 0], [0, h - full.shape[1]], [0, w - full.shape[2]], [0, 0]]);
    };
    return { value, gradFunc };
  });
  return op(x) as tf.Tensor4D;
}

/** Weight-map key suffix of the `[in, out]` view of a 1×1 conv kernel (made once: the matmul's gradient closes over it). */
const POINTWISE_KERNEL = 'kernel:2d';

/** Evaluates the graph up to the requested layers; call inside `tf.tidy`. */
function runGraph(layers: KerasLayer[], weights: tf.NamedTensorMap, input: tf.Tensor4D, wanted: readonly string[]): Map<string, tf.Tensor> {
  const values = new Map<string, tf.Tensor>();
  const remaining = new Set(wanted);
  const w = (name: string) => {
    const t = weights[name];
    if (!t) throw new DefaultEncoderError(`embedded MobileNetV2: weight ${name} missing`);
    return t;
  };
  for (const layer of layers) {
    if (remaining.size === 0) break;
    const cfg = layer.config;
    const ins = (layer.inbound_nodes[0] ?? []).map(([name]) => {
      const v = values.get(name);
      if (!v) throw new DefaultEncoderError(`embedded MobileNetV2: layer ${layer.name} needs ${name}, not computed yet`);
      return v;
    });
    const x = ins[0] as tf.Tensor4D;
    let y: tf.Tensor;
    switch (layer.class_name) {
      case 'InputLayer':
        y = input;
        break;
      case 'ZeroPadding2D': {
        const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
        y = tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]);
        break;
      }
      case 'Conv2D': {
        const kernel = w(`${layer.name}/kernel`) as tf.Tensor4D;
        const [kh, kw, cin, cout] = kernel.shape;
        const [sh, sw] = cfg.strides as [number, number];
        if (kh === 1 && kw === 1 && sh === 1 && sw === 1) {
          const [n, h, wd] = x.shape;
          y = tf.reshape(frozenMatMul(tf.reshape(x, [n * h * wd, cin]) as tf.Tensor2D, w(`${layer.name}/${POINTWISE_KERNEL}`) as tf.Tensor2D), [n, h, wd, cout]);
        } else {
          y = tf.conv2d(x, kernel, [sh, sw], cfg.padding as 'same' | 'valid');
        }
        if (cfg.use_bias) y = tf.add(y, w(`${layer.name}/bias`));
        if (cfg.activation !== 'linear') throw new DefaultEncoderError(`embedded MobileNetV2: unsupported activation ${String(cfg.activation)} in ${layer.name}`);
        break;
      }
      case 'DepthwiseConv2D': {
        const kernel = w(`${layer.name}/depthwise_kernel`) as tf.Tensor4D;
        const k = kernel.shape[0];
        const [s] = cfg.strides as [number, number];
        const [t, b, l, r] = tfPadding(cfg.padding as string, x.shape[1], x.shape[2], k, s);
        y = depthwiseValid(tf.pad(x, [[0, 0], [t, b], [l, r], [0, 0]]), kernel, s);
        if (cfg.use_bias) y = tf.add(y, w(`${layer.name}/bias`));
        break;
      }
      case 'BatchNormalization': {
        const scale = tf.div(w(`${layer.name}/gamma`), tf.sqrt(tf.add(w(`${layer.name}/moving_variance`), cfg.epsilon as number)));
        y = tf.add(tf.mul(tf.sub(x, w(`${layer.name}/moving_mean`)), scale), w(`${layer.name}/beta`));
        break;
      }
      case 'ReLU':
        y = cfg.max_value === 6 ? tf.relu6(x) : tf.relu(x);
        break;
      case 'Add':
        y = ins.reduce((a, b) => tf.add(a, b));
        break;
      case 'AveragePooling2D': {
        const [ph, pw] = cfg.pool_size as [number, number];
        y = ph === x.shape[1] && pw === x.shape[2] ? tf.mean(x, [1, 2], true) : tf.avgPool(x, [ph, pw], cfg.strides as [number, number], cfg.padding as 'valid');
        break;
      }
      case 'Flatten':
        y = tf.reshape(x, [x.shape[0], -1]);
        break;
      default:
        throw new DefaultEncoderError(`embedded MobileNetV2: unsupported layer ${layer.class_name} (${layer.name})`);
    }
    values.set(layer.name, y);
    remaining.delete(layer.name);
  }
  if (remaining.size) throw new DefaultEncoderError(`embedded MobileNetV2: layers ${[...remaining].join(', ')} not found`);
  return values;
}

/** Name of the layer whose output is block `k` (0-based): the residual add where there is one. */
function blockLayerName(names: Set<string>, k: number): string {
  const candidates = k === 0 ? ['expanded_conv_project_BN'] : [`block_${k}_add`, `block_${k}_project_BN`];
  const found = candidates.find((n) => names.has(n));
  if (!found) throw new DefaultEncoderError(`embedded MobileNetV2 has no output layer for block ${k} (${candidates.join(' / ')})`);
  return found;
}

export class MobileNetV2Encoder implements FeatureEncoder {
  readonly id = 'default-mobilenetv2';
  readonly name = 'MobileNetV2 (embedded, nsfwjs)';
  readonly embedDim = 1280;
  readonly numBlocks = NUM_BLOCKS;
  readonly defaultTokenBlock = DEFAULT_TOKEN_BLOCK;
  readonly defaultMapBlocks = DEFAULT_MAP_BLOCKS;
  /** Its pooled (NSFW-classifier) embedding is not a style space: L_dir off unless asked for (docs/method.md). */
  readonly defaultDirectionWeight = 0;
  private readonly layers: KerasLayer[];
  private readonly blockNames: string[];
  private readonly resize = new ResizeMatrixCache();
  private disposed = false;

  constructor(
    artifacts: tf.io.ModelArtifacts,
    private readonly weights: tf.NamedTensorMap,
    /** SHA-256 of the embedded weight bytes (as shipped, before dequantisation). */
    readonly weightsSha256?: string,
  ) {
    const topo = artifacts.modelTopology as { model_config?: { config: { layers: KerasLayer[] } }; config?: { layers: KerasLayer[] } };
    const layers = topo.model_config?.config.layers ?? topo.config?.layers;
    if (!layers) throw new DefaultEncoderError('embedded MobileNetV2: model topology has no layer list');
    this.layers = layers;
    const names = new Set(layers.map((l) => l.name));
    if (!names.has(EMBEDDING_LAYER)) throw new DefaultEncoderError(`embedded MobileNetV2 has no ${EMBEDDING_LAYER} layer`);
    this.blockNames = [...Array(NUM_BLOCKS).keys()].map((k) => blockLayerName(names, k));
    for (const l of layers) {
      const kernel = weights[`${l.name}/kernel`];
      if (l.class_name === 'Conv2D' && kernel?.rank === 4 && kernel.shape[0] === 1 && kernel.shape[1] === 1) {
        const [, , cin, cout] = kernel.shape as [number, number, number, number];
        weights[`${l.name}/${POINTWISE_KERNEL}`] = tf.reshape(kernel, [cin, cout]);
      }
    }
  }

  private check(tokenBlock: number): void {
    if (this.disposed) throw new DefaultEncoderError('encoder has been disposed');
    if (!Number.isInteger(tokenBlock) || tokenBlock < 0 || tokenBlock >= NUM_BLOCKS) {
      throw new ClipShapeError(`${this.name}: token block ${tokenBlock} out of range 0..${NUM_BLOCKS - 1}`);
    }
  }

  /** `[N, 224, 224, 3]` RGB in [0, 1] → features. Differentiable w.r.t. `pixels`. */
  encodePixels(pixels: tf.Tensor4D, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.check(tokenBlock);
    for (const b of mapBlocks) this.check(b);
    return tidyFeatures(() => {
      const block = this.blockNames[tokenBlock];
      const mapNames = mapBlocks.map((b) => this.blockNames[b]);
      const out = runGraph(this.layers, this.weights, pixels, [EMBEDDING_LAYER, block, ...mapNames]);
      const grid = out.get(block)!;
      const [n, h, w, c] = grid.shape as [number, number, number, number];
      return {
        embedding: l2Normalize(out.get(EMBEDDING_LAYER) as tf.Tensor2D),
        tokens: tf.reshape(grid, [n, h * w, c]) as tf.Tensor3D,
        maps: mapNames.map((name) => out.get(name) as tf.Tensor4D),
      };
    });
  }

  /** The raw graph outputs of the named layers (for checks against tfjs-layers). */
  layerOutputs(pixels: tf.Tensor4D, names: string[]): tf.Tensor[] {
    return tf.tidy(() => {
      const out = runGraph(this.layers, this.weights, pixels, names);
      return names.map((n) => out.get(n)!);
    });
  }

  encodeImages(images: tf.Tensor4D, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.check(tokenBlock);
    if (images.rank !== 4 || images.shape[3] !== 3) throw new ClipShapeError(`${this.name}: images must be NHWC with 3 channels, got [${images.shape.join(', ')}]`);
    return tidyFeatures(() => {
      const unit = tf.add(tf.mul(images, 0.5), 0.5) as tf.Tensor4D;
      return this.encodePixels(resizeBicubic(unit, INPUT_SIZE, INPUT_SIZE, { antialias: false, cache: this.resize }), tokenBlock, mapBlocks);
    });
  }

  encodeReference(image: RgbaImage, tokenBlock: number, mapBlocks: readonly number[] = []): EncoderFeatures {
    this.check(tokenBlock);
    const px = clipReferencePixels(image, INPUT_SIZE, [0, 0, 0], [1, 1, 1]);
    return tidyFeatures(() => this.encodePixels(tf.tensor4d(px, [1, INPUT_SIZE, INPUT_SIZE, 3]), tokenBlock, mapBlocks));
  }

  /** Parameters of the layers used (the classifier head is not). */
  parameterCount(): number {
    return Object.entries(this.weights)
      .filter(([n]) => !n.startsWith('dense_') && !n.endsWith(POINTWISE_KERNEL))
      .reduce((s, [, t]) => s + t.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of Object.values(this.weights)) t.dispose();
    this.resize.dispose();
  }
}

/** The embedded default encoder (no network, no user file). */
export async function loadDefaultEncoder(): Promise<MobileNetV2Encoder> {
  const artifacts = await loadEmbeddedMobileNetV2Artifacts();
  const weights = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs!);
  const sha256 = new Sha256().update(new Uint8Array(artifacts.weightData as ArrayBuffer)).digestHex();
  return new MobileNetV2Encoder(artifacts, weights, sha256);
}

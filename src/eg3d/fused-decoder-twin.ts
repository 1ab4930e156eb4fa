/**
 * CPU twin of the fused per-sample-point kernels (fused-decoder-webgpu.ts), in plain TS on typed
 * arrays: the same fused computation — points along rays, tri-plane features (`sampleTriplanesInto`),
 * Tri-D decoder forward, and the decoder's weight gradients for an upstream gradient dy — with
 * float64 arithmetic and sums. It is the oracle the WGSL kernels are tested against, and is itself
 * tested against the generic path (tri-plane sampler + `decodePacked`).
 */
import { sampleTriplanesInto, type PlaneGeometry } from './triplane.ts';
import { FusedDecoderError, packedParamCount, type DecoderDims } from './fused-decoder-webgpu.ts';

/** Decoder tensors in tfjs layouts (`w0` `[in, hidden]`, `w1` `[hidden, out]`). */
export interface TwinDecoder extends DecoderDims {
  w0: Float32Array;
  b0: Float32Array;
  w1: Float32Array;
  b1: Float32Array;
  lrMul: number;
}

/** Batch element `n` of `planes` (`[N, 3, H, W, C]` flattened) sampled along `rays` with box_warp. */
export interface TwinSamples {
  planes: Float32Array;
  geom: PlaneGeometry;
  n: number;
  boxWarp: number;
  origins: Float32Array; // [B·3]
  directions: Float32Array; // [B·3]
  depths: Float32Array; // [B·K]
  perRay: number; // K
}

export interface TwinGradients {
  dW0: Float32Array;
  dB0: Float32Array;
  dW1: Float32Array;
  dB1: Float32Array;
}

/** `[w0 | b0 | w1 | b1]`, the kernels' packed parameter layout. */
export function packDecoder(d: TwinDecoder): Float32Array {
  const out = new Float32Array(packedParamCount(d));
  let o = 0;
  for (const a of [d.w0, d.b0, d.w1, d.b1]) {
    out.set(a, o);
    o += a.length;
  }
  return out;
}

/** The points as the generic path computes them in float32: origin + (t·direction). */
export function twinPoints(s: TwinSamples): Float32Array {
  const points = s.depths.length;
  const xyz = new Float32Array(points * 3);
  for (let p = 0; p < points; p++) {
    const r = Math.floor(p / s.perRay);
    const t = s.depths[p];
    for (let a = 0; a < 3; a++) xyz[3 * p + a] = s.origins[3 * r + a] + Math.fround(t * s.directions[3 * r + a]);
  }
  return xyz;
}

/** `[P, in]` tri-plane features at the samples. */
export function twinFeatures(s: TwinSamples): Float32Array {
  const out = new Float32Array(s.depths.length * s.geom.channels);
  sampleTriplanesInto(out, s.planes, s.geom, s.n, twinPoints(s), s.boxWarp);
  return out;
}

function softplus(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function checkShapes(s: TwinSamples, d: TwinDecoder): number {
  if (s.geom.channels !== d.inF) throw new FusedDecoderError(`planes have ${s.geom.channels} channels, the decoder takes ${d.inF}`);
  if (d.w0.length !== d.inF * d.hidden || d.b0.length !== d.hidden || d.w1.length !== d.hidden * d.outF || d.b1.length !== d.outF) {
    throw new FusedDecoderError(`decoder arrays do not match ${d.inF}→${d.hidden}→${d.outF}`);
  }
  const points = s.depths.length;
  if (points % s.perRay !== 0 || s.origins.length !== (points / s.perRay) * 3 || s.directions.length !== s.origins.length) {
    throw new FusedDecoderError(`rays do not match ${points} samples of ${s.perRay} per ray`);
  }
  return points;
}

/** Hidden pre-activations (float64) of one point's features. */
function hiddenPre(d: TwinDecoder, f: Float32Array, fo: number, out: Float64Array): void {
  const g0 = d.lrMul / Math.sqrt(d.inF);
  for (let i = 0; i < d.hidden; i++) {
    let a = 0;
    for (let c = 0; c < d.inF; c++) a += f[fo + c] * d.w0[c * d.hidden + i] * g0;
    out[i] = a + d.b0[i] * d.lrMul;
  }
}

/** Output pre-activations (float64) from the hidden layer. */
function outputPre(d: TwinDecoder, h: Float64Array, out: Float64Array): void {
  const g1 = d.lrMul / Math.sqrt(d.hidden);
  for (let j = 0; j < d.outF; j++) {
    let a = 0;
    for (let i = 0; i < d.hidden; i++) a += h[i] * d.w1[i * d.outF + j] * g1;
    out[j] = a + d.b1[j] * d.lrMul;
  }
}

/** Forward: `[P, out]` (column 0 raw σ, the others sigmoid·1.002 − 0.001). */
export function twinForward(s: TwinSamples, d: TwinDecoder): Float32Array {
  const points = checkShapes(s, d);
  const f = twinFeatures(s);
  const out = new Float32Array(points * d.outF);
  const hp = new Float64Array(d.hidden);
  const o = new Float64Array(d.outF);
  for (let p = 0; p < points; p++) {
    hiddenPre(d, f, p * d.inF, hp);
    for (let i = 0; i < d.hidden; i++) hp[i] = softplus(hp[i]);
    outputPre(d, hp, o);
    for (let j = 0; j < d.outF; j++) out[p * d.outF + j] = j === 0 ? o[j] : sigmoid(o[j]) * 1.002 - 0.001;
  }
  return out;
}

/** Backward: gradients of Σ dy·forward w.r.t. w0, b0, w1, b1 (float64 sums, returned as float32). */
export function twinBackward(s: TwinSamples, d: TwinDecoder, dy: Float32Array): TwinGradients {
  const points = checkShapes(s, d);
  if (dy.length !== points * d.outF) throw new FusedDecoderError(`dy has ${dy.length} values, expected ${points * d.outF}`);
  const { inF, hidden, outF } = d;
  const g0 = d.lrMul / Math.sqrt(inF);
  const g1 = d.lrMul / Math.sqrt(hidden);
  const f = twinFeatures(s);
  const dW0 = new Float64Array(inF * hidden);
  const dB0 = new Float64Array(hidden);
  const dW1 = new Float64Array(hidden * outF);
  const dB1 = new Float64Array(outF);
  const hp = new Float64Array(hidden);
  const h = new Float64Array(hidden);
  const o = new Float64Array(outF);
  const dO = new Float64Array(outF);
  for (let p = 0; p < points; p++) {
    const fo = p * inF;
    hiddenPre(d, f, fo, hp);
    for (let i = 0; i < hidden; i++) h[i] = softplus(hp[i]);
    outputPre(d, h, o);
    for (let j = 0; j < outF; j++) {
      const sj = sigmoid(o[j]);
      dO[j] = dy[p * outF + j] * (j === 0 ? 1 : sj * (1 - sj) * 1.002);
      dB1[j] += dO[j];
    }
    for (let i = 0; i < hidden; i++) {
      let dh = 0;
      for (let j = 0; j < outF; j++) {
        dW1[i * outF + j] += h[i] * dO[j];
        dh += dO[j] * d.w1[i * outF + j] * g1;
      }
      const dhp = dh * sigmoid(hp[i]); // softplus' = sigmoid
      dB0[i] += dhp;
      for (let c = 0; c < inF; c++) dW0[c * hidden + i] += f[fo + c] * dhp;
    }
  }
  const scaled = (a: Float64Array, k: number) => Float32Array.from(a, (v) => v * k);
  return { dW0: scaled(dW0, g0), dB0: scaled(dB0, d.lrMul), dW1: scaled(dW1, g1), dB1: scaled(dB1, d.lrMul) };
}

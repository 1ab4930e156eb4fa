/**
 * The renderer's per-sample-point work as WGSL compute kernels for tfjs's webgpu backend: the
 * point t along a ray (origin + t·direction), its tri-plane features (the bilinear maths of
 * triplane-webgpu.ts) and the Tri-D decoder (FC → softplus → FC → σ linear / sigmoid·1.002 − 0.001,
 * decoder.ts) in one dispatch, and the decoder's weight gradients in one dispatch plus one small
 * reduction per weight tensor. Nothing per point (features, hidden layer) is written to memory,
 * and nothing is read back. The CPU twin of both passes is fused-decoder-twin.ts.
 *
 * Layouts: the decoder parameters come packed in one buffer `[w0 (in×hidden) | b0 | w1 (hidden×out)
 * | b1]` (tfjs layouts; WebGPU allows 8 storage buffers per shader, the backward pass would need 10
 * with separate tensors); gains (lrMul/√fan-in) and the bias lrMul are uniforms.
 *
 * Backward (`runDecoderBackward`): one workgroup of 64 invocations owns a run of `16·rounds`
 * consecutive points. Each round, four invocations per point recompute its features, hidden layer,
 * dL/do and dL/dh_pre into workgroup memory (16 points × (in + 2·hidden + out) floats = 12 KiB for
 * EG3D's 32/64/33, under WebGPU's default 16 KiB), then every invocation adds the round's 16-term
 * sums to its private share of the 4 257 weight-gradient entries. The per-workgroup partial sums
 * `[groups, entries]` are then summed over groups by `runPartialReduce` (one dispatch per gradient
 * tensor, which also applies the gain). Float32 sums stay short at every level (16 points, then the
 * rounds, then blocks of 64 groups): no long sequential float32 accumulation (see decoder.ts).
 *
 * Like triplane-webgpu.ts this module does not import @tensorflow/tfjs-backend-webgpu; the program
 * objects match its `WebGPUProgram` structurally. tfjs keys compiled pipelines by `shaderKey` and the
 * tensor ranks only, so every compile-time constant of the generated code is part of the key.
 */
import * as tf from '@tensorflow/tfjs';
import { isWebGPUBackend, type ProgramUniform, type WebGPUBackendLike, type WebGPUProgramLike } from './triplane-webgpu.ts';
import { InternalError } from '../core/errors.ts';

export class FusedDecoderError extends InternalError {
  constructor(message: string) {
    super(message);
  }
}

const WORKGROUP = 64;
/** Points per backward round (WORKGROUP / 4 invocations per point). */
const ROUND_POINTS = 16;
const LANES = WORKGROUP / ROUND_POINTS;
/** WebGPU's default `maxComputeWorkgroupStorageSize`. */
const WORKGROUP_BYTES = 16384;
/** At most this many workgroups (partial-sum rows) per backward pass. */
const MAX_GROUPS = 1024;

/** Sizes of the decoder (EG3D: 32 → 64 → 33). */
export interface DecoderDims {
  inF: number;
  hidden: number;
  outF: number;
}

export function packedParamCount(d: DecoderDims): number {
  return d.inF * d.hidden + d.hidden + d.hidden * d.outF + d.outF;
}

/** Geometry of the planes buffer and the batch element sampled. */
export interface FusedPlanes {
  /** `[N·3·H·W·C]` plane data. */
  flat: tf.Tensor1D;
  height: number;
  width: number;
  /** Batch element whose planes are sampled. */
  n: number;
  boxWarp: number;
}

/** Samples along rays: point (r, k) = origins[r] + depths[r, k]·directions[r]. */
export interface RaySamplesGpu {
  origins: tf.Tensor2D; // [B, 3]
  directions: tf.Tensor2D; // [B, 3]
  depths: tf.Tensor2D; // [B, K]
}

function constants(d: DecoderDims): string {
  return `
      const C_IN : i32 = ${d.inF};
      const HID : i32 = ${d.hidden};
      const OUT : i32 = ${d.outF};
      const OFF_B0 : i32 = ${d.inF * d.hidden};
      const OFF_W1 : i32 = ${d.inF * d.hidden + d.hidden};
      const OFF_B1 : i32 = ${d.inF * d.hidden + d.hidden + d.hidden * d.outF};`;
}

/** Point → 12 bilinear taps (3 planes × 4 corners), `feature(c)` = their weighted sum at channel c. */
const SAMPLING = `
      var<private> tapOff : array<i32, 12>;
      var<private> tapW : array<f32, 12>;

      // grid_sample(bilinear, align_corners=False, zeros) taps of one plane: u → column, v → row.
      fn planeTaps(plane : i32, u : f32, v : f32) {
        let w = f32(uniforms.width);
        let h = f32(uniforms.height);
        let planeSize = uniforms.height * uniforms.width * C_IN;
        let base = uniforms.planeOffset + plane * planeSize;
        let bad = isnan(u) || isnan(v);
        // Clamping keeps far-away points in i32 range; beyond [-1, size] every tap is outside anyway.
        let ix = clamp(((u + 1.0) * w - 1.0) * 0.5, -2.0, w + 1.0);
        let iy = clamp(((v + 1.0) * h - 1.0) * 0.5, -2.0, h + 1.0);
        let x0f = floor(ix);
        let y0f = floor(iy);
        let fx = ix - x0f;
        let fy = iy - y0f;
        let x0 = i32(x0f);
        let y0 = i32(y0f);
        for (var k = 0; k < 4; k++) {
          let cx = x0 + (k & 1);
          let cy = y0 + (k >> 1u);
          let inside = !bad && cx >= 0 && cx < uniforms.width && cy >= 0 && cy < uniforms.height;
          let wx = select(1.0 - fx, fx, (k & 1) == 1);
          let wy = select(1.0 - fy, fy, (k >> 1u) == 1);
          tapOff[plane * 4 + k] = select(uniforms.planeOffset, base + (cy * uniforms.width + cx) * C_IN, inside);
          tapW[plane * 4 + k] = select(0.0, wx * wy / 3.0, inside);
        }
      }

      fn pointTaps(p : i32) {
        let r = p / uniforms.perRay;
        let t = depths[p];
        let x = (origins[3 * r] + t * dirs[3 * r]) * uniforms.scale;
        let y = (origins[3 * r + 1] + t * dirs[3 * r + 1]) * uniforms.scale;
        let z = (origins[3 * r + 2] + t * dirs[3 * r + 2]) * uniforms.scale;
        // EG3D's released plane axes: (x, y), (x, z), (z, x).
        planeTaps(0, x, y);
        planeTaps(1, x, z);
        planeTaps(2, z, x);
      }

      fn feature(c : i32) -> f32 {
        var s = 0.0;
        for (var k = 0; k < 12; k++) {
          s = s + tapW[k] * planes[tapOff[k] + c];
        }
        return s;
      }

      fn sigmoid1(x : f32) -> f32 {
        return 1.0 / (1.0 + exp(-x));
      }

      // max(x, 0) + log(1 + e^−|x|): never overflows; absolute error at float32 resolution.
      fn softplus1(x : f32) -> f32 {
        return max(x, 0.0) + log(1.0 + exp(-abs(x)));
      }
`;

const SHARED_UNIFORMS = 'planeOffset : i32, height : i32, width : i32, perRay : i32, points : i32, scale : f32, g0 : f32, g1 : f32, lrMul : f32,';

function sharedUniforms(planes: FusedPlanes, perRay: number, points: number, dims: DecoderDims, lrMul: number): ProgramUniform {
  // One entry per scalar field (the backend aligns an entry by its length).
  return [
    { type: 'int32', data: [planes.n * 3 * planes.height * planes.width * dims.inF] },
    { type: 'int32', data: [planes.height] },
    { type: 'int32', data: [planes.width] },
    { type: 'int32', data: [perRay] },
    { type: 'int32', data: [points] },
    { type: 'float32', data: [2 / planes.boxWarp] },
    { type: 'float32', data: [lrMul / Math.sqrt(dims.inF)] },
    { type: 'float32', data: [lrMul / Math.sqrt(dims.hidden)] },
    { type: 'float32', data: [lrMul] },
  ];
}

function dimsKey(d: DecoderDims): string {
  return `${d.inF}_${d.hidden}_${d.outF}`;
}

function forwardProgram(points: number, dims: DecoderDims): WebGPUProgramLike {
  return {
    outputShape: [points, dims.outF],
    shaderKey: `eg3dFusedDecoderForward_${dimsKey(dims)}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [Math.ceil(points / WORKGROUP), 1, 1],
    variableNames: ['planes', 'origins', 'dirs', 'depths', 'params'],
    uniforms: SHARED_UNIFORMS,
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      ${constants(dims)}
      ${SAMPLING}

      // One invocation per point: features, hidden layer (never stored) and the outF outputs.
      fn main(index : i32) {
        if (index >= uniforms.points) {
          return;
        }
        pointTaps(index);
        var f : array<f32, ${dims.inF}>;
        for (var c = 0; c < C_IN; c++) {
          f[c] = feature(c);
        }
        var o : array<f32, ${dims.outF}>;
        for (var i = 0; i < HID; i++) {
          var a = 0.0;
          for (var c = 0; c < C_IN; c++) {
            a = a + f[c] * (params[c * HID + i] * uniforms.g0);
          }
          let h = softplus1(a + params[OFF_B0 + i] * uniforms.lrMul);
          for (var j = 0; j < OUT; j++) {
            o[j] = o[j] + h * (params[OFF_W1 + i * OUT + j] * uniforms.g1);
          }
        }
        for (var j = 0; j < OUT; j++) {
          let v = o[j] + params[OFF_B1 + j] * uniforms.lrMul;
          setOutputAtIndex(index * OUT + j, select(sigmoid1(v) * 1.002 - 0.001, v, j == 0));
        }
      }
    `,
  };
}

/** Private accumulators per invocation in the backward pass. */
function accumulatorCount(d: DecoderDims): number {
  return Math.ceil(d.hidden / WORKGROUP) * (d.inF + 1 + d.outF) + Math.ceil(d.outF / WORKGROUP);
}

function backwardProgram(groups: number, dims: DecoderDims): WebGPUProgramLike {
  const entries = packedParamCount(dims);
  const T = ROUND_POINTS;
  return {
    outputShape: [groups, entries],
    shaderKey: `eg3dFusedDecoderBackward_${dimsKey(dims)}`,
    dispatchLayout: { x: [0, 1] },
    dispatch: [groups, 1, 1],
    variableNames: ['planes', 'origins', 'dirs', 'depths', 'params', 'dy'],
    uniforms: `${SHARED_UNIFORMS} rounds : i32, groups : i32,`,
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      ${constants(dims)}
      const WG : i32 = ${WORKGROUP};
      const T : i32 = ${T};
      const LANES : i32 = ${LANES};
      const ENTRIES : i32 = ${entries};
      ${SAMPLING}

      var<workgroup> sF : array<f32, ${T * dims.inF}>;
      var<workgroup> sH : array<f32, ${T * dims.hidden}>;
      var<workgroup> sDO : array<f32, ${T * dims.outF}>;
      // sigmoid(h_pre) after the second stage, dL/dh_pre after the fourth.
      var<workgroup> sDHp : array<f32, ${T * dims.hidden}>;

      fn main(index : i32) {
        let lid = i32(localIndex);
        let group = index / WG;
        let slot = lid / LANES;
        let lane = lid - slot * LANES;
        var acc : array<f32, ${accumulatorCount(dims)}>;
        // Barriers only inside this loop, whose bounds are uniform.
        for (var r = 0; r < uniforms.rounds; r++) {
          let p = (group * uniforms.rounds + r) * T + slot;
          let valid = p < uniforms.points;
          let pc = select(0, p, valid);
          pointTaps(pc);
          for (var c = lane; c < C_IN; c += LANES) {
            sF[slot * C_IN + c] = feature(c);
          }
          workgroupBarrier();
          for (var i = lane; i < HID; i += LANES) {
            var a = 0.0;
            for (var c = 0; c < C_IN; c++) {
              a = a + sF[slot * C_IN + c] * (params[c * HID + i] * uniforms.g0);
            }
            a = a + params[OFF_B0 + i] * uniforms.lrMul;
            sH[slot * HID + i] = softplus1(a);
            sDHp[slot * HID + i] = sigmoid1(a); // softplus' = sigmoid
          }
          workgroupBarrier();
          for (var j = lane; j < OUT; j += LANES) {
            var o = 0.0;
            for (var i = 0; i < HID; i++) {
              o = o + sH[slot * HID + i] * (params[OFF_W1 + i * OUT + j] * uniforms.g1);
            }
            let s = sigmoid1(o + params[OFF_B1 + j] * uniforms.lrMul);
            let slope = select(s * (1.0 - s) * 1.002, 1.0, j == 0);
            // Points past the end contribute exact zeros (select, not a product: dy there is not ours).
            sDO[slot * OUT + j] = select(0.0, dy[pc * OUT + j] * slope, valid);
          }
          workgroupBarrier();
          for (var i = lane; i < HID; i += LANES) {
            var d = 0.0;
            for (var j = 0; j < OUT; j++) {
              d = d + sDO[slot * OUT + j] * (params[OFF_W1 + i * OUT + j] * uniforms.g1);
            }
            sDHp[slot * HID + i] = d * sDHp[slot * HID + i];
          }
          workgroupBarrier();
          // This invocation's share of the weight gradients: 16-point sums, then added up over rounds.
          var k = 0;
          for (var i = lid; i < HID; i += WG) {
            for (var c = 0; c < C_IN; c++) {
              var s = 0.0;
              for (var q = 0; q < T; q++) {
                s = s + sF[q * C_IN + c] * sDHp[q * HID + i];
              }
              acc[k] = acc[k] + s;
              k++;
            }
            var sb = 0.0;
            for (var q = 0; q < T; q++) {
              sb = sb + sDHp[q * HID + i];
            }
            acc[k] = acc[k] + sb;
            k++;
            for (var j = 0; j < OUT; j++) {
              var s = 0.0;
              for (var q = 0; q < T; q++) {
                s = s + sH[q * HID + i] * sDO[q * OUT + j];
              }
              acc[k] = acc[k] + s;
              k++;
            }
          }
          for (var j = lid; j < OUT; j += WG) {
            var s = 0.0;
            for (var q = 0; q < T; q++) {
              s = s + sDO[q * OUT + j];
            }
            acc[k] = acc[k] + s;
            k++;
          }
          workgroupBarrier();
        }
        // Reshaped dispatches (past 65 535 groups) may run extra groups: they write nothing.
        if (group < uniforms.groups) {
          let row = group * ENTRIES;
          var k = 0;
          for (var i = lid; i < HID; i += WG) {
            for (var c = 0; c < C_IN; c++) {
              setOutputAtIndex(row + c * HID + i, acc[k]);
              k++;
            }
            setOutputAtIndex(row + OFF_B0 + i, acc[k]);
            k++;
            for (var j = 0; j < OUT; j++) {
              setOutputAtIndex(row + OFF_W1 + i * OUT + j, acc[k]);
              k++;
            }
          }
          for (var j = lid; j < OUT; j += WG) {
            setOutputAtIndex(row + OFF_B1 + j, acc[k]);
            k++;
          }
        }
      }
    `,
  };
}

/** Sums rows of the `[groups, entries]` partials at `offset … offset + size` into one gradient tensor (× scale). */
function reduceProgram(shape: number[]): WebGPUProgramLike {
  const size = shape.reduce((a, b) => a * b, 1);
  return {
    outputShape: shape,
    shaderKey: 'eg3dFusedDecoderReduce',
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    variableNames: ['partials'],
    uniforms: 'offset : i32, groups : i32, entries : i32, scale : f32,',
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var total = 0.0;
          // Blocks of 64 groups, then the blocks: short float32 sums at both levels.
          for (var g0 = 0; g0 < uniforms.groups; g0 += 64) {
            var s = 0.0;
            let g1 = min(g0 + 64, uniforms.groups);
            for (var g = g0; g < g1; g++) {
              s = s + partials[g * uniforms.entries + uniforms.offset + index];
            }
            total = total + s;
          }
          setOutputAtIndex(index, total * uniforms.scale);
        }
      }
    `,
  };
}

function backendOrThrow(): WebGPUBackendLike {
  if (!isWebGPUBackend()) throw new FusedDecoderError(`the fused decoder kernels need the webgpu backend (active: ${tf.getBackend()})`);
  return tf.backend() as unknown as WebGPUBackendLike;
}

function checkInputs(planes: FusedPlanes, rays: RaySamplesGpu, params: tf.Tensor1D, dims: DecoderDims): { b: number; k: number } {
  const [b, k] = rays.depths.shape;
  if (rays.depths.rank !== 2) throw new FusedDecoderError(`depths must be [B, K] (got [${rays.depths.shape}])`);
  for (const [name, t] of [['origins', rays.origins], ['directions', rays.directions]] as const) {
    if (t.rank !== 2 || t.shape[0] !== b || t.shape[1] !== 3) throw new FusedDecoderError(`${name} must be [${b}, 3] (got [${t.shape}])`);
  }
  if (params.rank !== 1 || params.size !== packedParamCount(dims)) throw new FusedDecoderError(`packed decoder parameters must hold ${packedParamCount(dims)} values (got [${params.shape}])`);
  const planeFloats = 3 * planes.height * planes.width * dims.inF;
  if (!Number.isInteger(planes.n) || planes.n < 0 || (planes.n + 1) * planeFloats > planes.flat.size) {
    throw new FusedDecoderError(`batch index ${planes.n} is outside the plane buffer (${planes.flat.size} floats, ${planeFloats} per element)`);
  }
  if (!(planes.boxWarp > 0)) throw new FusedDecoderError(`box_warp must be positive (got ${planes.boxWarp})`);
  const shared = 4 * ROUND_POINTS * (dims.inF + 2 * dims.hidden + dims.outF);
  if (shared > WORKGROUP_BYTES) {
    throw new FusedDecoderError(`a ${dims.inF}→${dims.hidden}→${dims.outF} decoder needs ${shared} bytes of workgroup memory in the fused backward pass (at most ${WORKGROUP_BYTES})`);
  }
  return { b, k };
}

function flat(t: tf.Tensor): tf.Tensor1D {
  return tf.reshape(t, [t.size]); // shares the device buffer
}

/**
 * Forward: `[B, K, outF]` decoder outputs at the points `origins + depths·directions` (column 0 the
 * raw σ, the others sigmoid·1.002 − 0.001). One dispatch. `params` is the packed parameter buffer.
 */
export function runDecoderForward(planes: FusedPlanes, rays: RaySamplesGpu, params: tf.Tensor1D, dims: DecoderDims, lrMul: number): tf.Tensor3D {
  const backend = backendOrThrow();
  const { b, k } = checkInputs(planes, rays, params, dims);
  const points = b * k;
  if (points === 0) return tf.zeros([b, k, dims.outF]);
  return tf.tidy(() => {
    const inputs = [planes.flat, flat(rays.origins), flat(rays.directions), flat(rays.depths), params];
    const info = backend.runWebGPUProgram(forwardProgram(points, dims), inputs, 'float32', sharedUniforms(planes, k, points, dims, lrMul));
    return tf.reshape(tf.engine().makeTensorFromTensorInfo(info), [b, k, dims.outF]) as tf.Tensor3D;
  });
}

export interface DecoderGradients {
  dW0: tf.Tensor2D;
  dB0: tf.Tensor1D;
  dW1: tf.Tensor2D;
  dB1: tf.Tensor1D;
}

/** Workgroups and rounds for `points` points: at most `maxGroups` partial-sum rows. */
export function backwardLayout(points: number, maxGroups = MAX_GROUPS): { groups: number; rounds: number } {
  const slots = Math.max(1, Math.ceil(points / ROUND_POINTS));
  const rounds = Math.ceil(slots / Math.max(1, Math.floor(maxGroups)));
  return { groups: Math.ceil(slots / rounds), rounds };
}

/**
 * Backward: the gradients of Σ dy·output w.r.t. the four decoder tensors (tfjs layouts), for the
 * same inputs as `runDecoderForward`. Five dispatches: partial sums per workgroup, then one
 * reduction per gradient tensor. No readback. `maxGroups` bounds the partial-sum rows (fewer
 * groups run more rounds each).
 */
export function runDecoderBackward(
  planes: FusedPlanes,
  rays: RaySamplesGpu,
  params: tf.Tensor1D,
  dims: DecoderDims,
  lrMul: number,
  dy: tf.Tensor,
  maxGroups = MAX_GROUPS,
): DecoderGradients {
  const backend = backendOrThrow();
  const { b, k } = checkInputs(planes, rays, params, dims);
  const points = b * k;
  if (dy.size !== points * dims.outF) throw new FusedDecoderError(`dy must hold ${points}×${dims.outF} values (got [${dy.shape}])`);
  const { inF, hidden, outF } = dims;
  if (points === 0) {
    return { dW0: tf.zeros([inF, hidden]), dB0: tf.zeros([hidden]), dW1: tf.zeros([hidden, outF]), dB1: tf.zeros([outF]) };
  }
  return tf.tidy(() => {
    const { groups, rounds } = backwardLayout(points, maxGroups);
    const entries = packedParamCount(dims);
    const inputs = [planes.flat, flat(rays.origins), flat(rays.directions), flat(rays.depths), params, flat(dy)];
    const uniforms: ProgramUniform = [...sharedUniforms(planes, k, points, dims, lrMul), { type: 'int32', data: [rounds] }, { type: 'int32', data: [groups] }];
    const partialsInfo = backend.runWebGPUProgram(backwardProgram(groups, dims), inputs, 'float32', uniforms);
    const partials = tf.engine().makeTensorFromTensorInfo(partialsInfo);
    const reduce = (shape: number[], offset: number, scale: number): tf.Tensor => {
      const u: ProgramUniform = [
        { type: 'int32', data: [offset] },
        { type: 'int32', data: [groups] },
        { type: 'int32', data: [entries] },
        { type: 'float32', data: [scale] },
      ];
      return tf.engine().makeTensorFromTensorInfo(backend.runWebGPUProgram(reduceProgram(shape), [partials], 'float32', u));
    };
    const g0 = lrMul / Math.sqrt(inF);
    const g1 = lrMul / Math.sqrt(hidden);
    return {
      dW0: reduce([inF, hidden], 0, g0) as tf.Tensor2D,
      dB0: reduce([hidden], inF * hidden, lrMul) as tf.Tensor1D,
      dW1: reduce([hidden, outF], inF * hidden + hidden, g1) as tf.Tensor2D,
      dB1: reduce([outF], inF * hidden + hidden + hidden * outF, lrMul) as tf.Tensor1D,
    };
  });
}

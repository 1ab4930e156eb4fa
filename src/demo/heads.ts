/**
 * Procedural 3D heads: the training data of the embedded demo generator.
 *
 * A head is a smooth signed-distance field (skull, jaw, chin, cheeks, nose, brow ridge, eye sockets,
 * eyeballs with lids, lips, ears, neck, shoulders, hair volume, a backdrop shell) plus a colour field
 * (skin, hair, iris/pupil/sclera, lips, brows, beard, clothing, background) with baked diffuse lighting.
 * It lives in EG3D's conventions: y up, the face looks toward +z, everything inside the tri-plane box
 * [−0.5, 0.5]³, cameras at radius 2.7 looking at (0, 0, 0.2) — so at the pivot depth the frontal image
 * spans about ±0.29 world units.
 *
 * Density is expressed as EG3D's raw decoder output σ_raw (the renderer applies softplus(σ_raw − 1)):
 * σ_raw = clamp(1 − DENSITY_SLOPE·sdf, SIGMA_RAW_EMPTY, SIGMA_RAW_SOLID), linear in the SDF across the
 * surface so a tri-plane + Tri-D decoder can learn it, empty (≈ 0.007 density) just outside, and opaque
 * within ≈ 0.03 units inside. Outside the box the field is empty, like a tri-plane with zero padding.
 *
 * Everything is plain float64 JS; batched entry points take and return Float32Array.
 */
import { Random } from '../core/random.ts';

/** Raw density outside surfaces: softplus(−5) ≈ 0.0067, i.e. transparent. */
export const SIGMA_RAW_EMPTY = -4;
/** Raw density plateau inside solids (density ≈ 149). */
export const SIGMA_RAW_SOLID = 150;
/** dσ_raw / d(−sdf) across a surface (per world unit). */
export const DENSITY_SLOPE = 5000;
/** Half-extent of EG3D's tri-plane box for box_warp = 1. */
export const BOX_HALF = 0.5;

/** Whether a world point lies in the tri-plane box (outside it the field is empty by definition). */
export function insideBox(x: number, y: number, z: number): boolean {
  return Math.abs(x) <= BOX_HALF && Math.abs(y) <= BOX_HALF && Math.abs(z) <= BOX_HALF;
}

type RGB = [number, number, number];

/** All shape and appearance parameters of one head (dimensionless factors ≈ 1 unless noted). */
export interface HeadParams {
  headWidth: number;
  headHeight: number;
  headDepth: number;
  jawWidth: number;
  faceLength: number;
  chinSize: number;
  cheekSize: number;
  noseLength: number;
  noseWidth: number;
  noseProjection: number;
  eyeSpacing: number;
  eyeSize: number;
  /** 0 = nearly closed lids, 1 = wide open. */
  eyeOpening: number;
  /** Brow offset in world units. */
  browHeight: number;
  browThickness: number;
  /** Brow tilt (slope, outer end up when positive). */
  browTilt: number;
  lipFullness: number;
  mouthWidth: number;
  earSize: number;
  neckWidth: number;
  /** 0 = cropped, 1 = long hair down to the shoulders. */
  hairLength: number;
  /** 0 = thin cap, 1 = voluminous. */
  hairVolume: number;
  /** 0 = low hairline, 1 = receding. */
  hairRecession: number;
  /** 0 = no fringe, 1 = bangs down to the brows. */
  fringe: number;
  /** −1…1: side of the parting (asymmetry of the hairline). */
  parting: number;
  /** Amplitude of strand waves in the hair surface and colour. */
  hairWave: number;
  /** 0…1 beard coverage (most heads have none). */
  beard: number;
  blush: number;
  skin: RGB;
  hair: RGB;
  iris: RGB;
  lips: RGB;
  background: RGB;
  clothing: RGB;
}

/** Number of uniforms a head consumes; latents pair their first NUM_HEAD_FACTORS entries with them. */
export const NUM_HEAD_FACTORS = 36;

const SKIN_PALETTE: RGB[] = [
  [0.98, 0.85, 0.76], [0.94, 0.76, 0.63], [0.86, 0.65, 0.5], [0.72, 0.5, 0.36], [0.52, 0.34, 0.23], [0.34, 0.21, 0.14],
];
const HAIR_PALETTE: RGB[] = [
  [0.05, 0.04, 0.035], [0.17, 0.1, 0.06], [0.34, 0.21, 0.11], [0.55, 0.24, 0.1], [0.78, 0.6, 0.34], [0.93, 0.84, 0.62], [0.78, 0.77, 0.76],
];
const IRIS_PALETTE: RGB[] = [
  [0.22, 0.12, 0.06], [0.42, 0.28, 0.12], [0.32, 0.45, 0.24], [0.28, 0.48, 0.72], [0.5, 0.56, 0.62],
];

function lerp(a: number, b: number, t: number): number {
  return a + (b - a) * t;
}

/** Piecewise-linear palette lookup, u ∈ [0, 1]: continuous in u so nearby latents give nearby colours. */
function palette(p: RGB[], u: number): RGB {
  const x = Math.min(Math.max(u, 0), 1) * (p.length - 1);
  const i = Math.min(Math.floor(x), p.length - 2);
  const t = x - i;
  return [lerp(p[i][0], p[i + 1][0], t), lerp(p[i][1], p[i + 1][1], t), lerp(p[i][2], p[i + 1][2], t)];
}

function hsv(h: number, s: number, v: number): RGB {
  const f = (n: number) => {
    const k = (n + h * 6) % 6;
    return v - v * s * Math.max(0, Math.min(k, 4 - k, 1));
  };
  return [f(5), f(3), f(1)];
}

/**
 * Head parameters from NUM_HEAD_FACTORS uniforms in [0, 1]. Every parameter is a continuous function
 * of its uniform(s), so the map latent → head is smooth (what a generator can regress).
 */
export function headParamsFromUniforms(u: ArrayLike<number>): HeadParams {
  if (u.length < NUM_HEAD_FACTORS) throw new RangeError(`headParamsFromUniforms needs ${NUM_HEAD_FACTORS} uniforms (got ${u.length})`);
  const r = (i: number, lo: number, hi: number) => lerp(lo, hi, Math.min(Math.max(u[i], 0), 1));
  const skinBase = palette(SKIN_PALETTE, u[27]);
  const warmth = r(28, -0.04, 0.04);
  const skin: RGB = [skinBase[0] + warmth, skinBase[1], skinBase[2] - warmth];
  const hairBase = palette(HAIR_PALETTE, u[29]);
  const shade = r(30, 0.8, 1.15);
  const hair: RGB = [hairBase[0] * shade, hairBase[1] * shade, hairBase[2] * shade];
  const lipTint = r(32, 0, 1);
  const lips: RGB = [
    lerp(skin[0] * 0.85, 0.75, 0.45 + 0.4 * lipTint),
    lerp(skin[1] * 0.7, 0.25, 0.45 + 0.4 * lipTint),
    lerp(skin[2] * 0.7, 0.28, 0.45 + 0.4 * lipTint),
  ];
  return {
    headWidth: r(0, 0.92, 1.08),
    headHeight: r(1, 0.93, 1.07),
    headDepth: r(2, 0.93, 1.07),
    jawWidth: r(3, 0.84, 1.14),
    faceLength: r(4, 0.92, 1.08),
    chinSize: r(5, 0.75, 1.3),
    cheekSize: r(6, 0.75, 1.25),
    noseLength: r(7, 0.82, 1.2),
    noseWidth: r(8, 0.8, 1.3),
    noseProjection: r(9, 0.8, 1.25),
    eyeSpacing: r(10, 0.92, 1.08),
    eyeSize: r(11, 0.88, 1.12),
    eyeOpening: r(12, 0.35, 1),
    browHeight: r(13, -0.007, 0.007),
    browThickness: r(14, 0.6, 1.5),
    browTilt: r(15, -0.25, 0.25),
    lipFullness: r(16, 0.65, 1.35),
    mouthWidth: r(17, 0.85, 1.15),
    earSize: r(18, 0.85, 1.2),
    neckWidth: r(19, 0.85, 1.15),
    hairLength: r(20, 0, 1),
    hairVolume: r(21, 0, 1),
    hairRecession: u[22] * u[22],
    fringe: Math.max(0, r(23, -0.6, 1)),
    parting: r(24, -1, 1),
    hairWave: r(25, 0, 1),
    beard: Math.max(0, r(26, -2.2, 1)),
    blush: r(31, 0, 1),
    skin,
    hair,
    iris: palette(IRIS_PALETTE, u[33]),
    lips,
    // The backdrop follows the hair colour, skin tone and hair length (as a portrait photographer's
    // choice might): with factors of its own, a generator trained for hours on two cores learns only
    // the mean backdrop (docs/method.md, "Backdrop colour"). Hue is circular, so a wrap is continuous.
    background: hsv((0.58 + 0.8 * u[29]) % 1, 0.25 + 0.35 * (1 - u[27]), 0.35 + 0.5 * u[20]),
    clothing: hsv((u[34] + 0.5) % 1, 0.2 + 0.5 * u[35], 0.25 + 0.55 * u[22]),
  };
}

/** Random head parameters (NUM_HEAD_FACTORS uniform draws from `rng`). */
export function sampleHeadParams(rng: Random): HeadParams {
  return headParamsFromUniforms(rng.uniformArray(NUM_HEAD_FACTORS));
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 erf, |error| < 1.5e−7). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + y) : 0.5 * (1 - y);
}

/** The head factors a latent stands for: its first NUM_HEAD_FACTORS N(0,1) entries through Φ. */
export function headUniformsFromLatent(z: ArrayLike<number>): Float64Array {
  if (z.length < NUM_HEAD_FACTORS) throw new RangeError(`latent must have at least ${NUM_HEAD_FACTORS} entries (got ${z.length})`);
  const u = new Float64Array(NUM_HEAD_FACTORS);
  for (let i = 0; i < NUM_HEAD_FACTORS; i++) u[i] = normalCdf(z[i]);
  return u;
}

/**
 * The head a latent stands for (`headUniformsFromLatent`). This pairing is what the demo generator
 * is trained to reproduce (z → head).
 */
export function headParamsFromLatent(z: ArrayLike<number>): HeadParams {
  const u = headUniformsFromLatent(z);
  return headParamsFromUniforms(u);
}

// ---------------------------------------------------------------------------------------------
// SDF primitives (Inigo Quilez's formulas, float64).

function sdEllipsoid(x: number, y: number, z: number, rx: number, ry: number, rz: number): number {
  const k0 = Math.sqrt((x / rx) ** 2 + (y / ry) ** 2 + (z / rz) ** 2);
  const k1 = Math.sqrt((x / (rx * rx)) ** 2 + (y / (ry * ry)) ** 2 + (z / (rz * rz)) ** 2);
  if (k1 < 1e-12) return -Math.min(rx, ry, rz);
  return (k0 * (k0 - 1)) / k1;
}

/** Round cone / capsule between a (radius ra) and b (radius rb). */
function sdRoundCone(
  x: number, y: number, z: number,
  ax: number, ay: number, az: number, ra: number,
  bx: number, by: number, bz: number, rb: number,
): number {
  const bax = bx - ax, bay = by - ay, baz = bz - az;
  const pax = x - ax, pay = y - ay, paz = z - az;
  const h = Math.min(Math.max((pax * bax + pay * bay + paz * baz) / (bax * bax + bay * bay + baz * baz), 0), 1);
  const dx = pax - bax * h, dy = pay - bay * h, dz = paz - baz * h;
  return Math.sqrt(dx * dx + dy * dy + dz * dz) - lerp(ra, rb, h);
}

function smin(a: number, b: number, k: number): number {
  const h = Math.max(k - Math.abs(a - b), 0) / k;
  return Math.min(a, b) - h * h * k * 0.25;
}

function smax(a: number, b: number, k: number): number {
  return -smin(-a, -b, k);
}

function smoothstep(e0: number, e1: number, x: number): number {
  const t = Math.min(Math.max((x - e0) / (e1 - e0), 0), 1);
  return t * t * (3 - 2 * t);
}

/** Distances of the separately coloured parts at one point. */
interface PartDistances {
  skin: number;
  lips: number;
  eyes: number;
  hair: number;
  cloth: number;
  back: number;
}

const LIGHT: [number, number, number] = (() => {
  const l = [-0.45, 0.55, 0.7];
  const n = Math.hypot(l[0], l[1], l[2]);
  return [l[0] / n, l[1] / n, l[2] / n] as [number, number, number];
})();

/** Backdrop: a shell just inside the tri-plane box, kept only behind the head (z < BACKDROP_CUT_Z) so
 * that cameras within ≈ ±0.6 rad of frontal see it behind the head and never in front of it. */
const BACKDROP_OUTER = 0.45;
const BACKDROP_THICKNESS = 0.035;
/** The head is modelled at unit scale and placed at HEAD_ORIGIN scaled by HEAD_SCALE. */
const HEAD_SCALE = 1.12;
const HEAD_ORIGIN: Readonly<[number, number, number]> = [0, -0.012, 0];
const BACKDROP_CUT_Z = 0.15;
/** Face features (chin, cheeks, brows, eyes, nose, lips) all lie inside this sphere minus a margin
 * larger than every smooth-union radius, so outside it they can be skipped without changing the SDF. */
const FACE_BOUND = { cy: -0.055, cz: 0.15, r: 0.27 };

/**
 * The face-feature sphere in world coordinates (where eyes, brows, nose and lips are): training
 * draws extra supervision points here, because these small features cover little of the scene's
 * surface (the backdrop shell dominates it) yet decide whether a render reads as a face.
 */
export const FACE_REGION_WORLD: Readonly<{ cx: number; cy: number; cz: number; r: number }> = {
  cx: HEAD_ORIGIN[0],
  cy: HEAD_ORIGIN[1] + HEAD_SCALE * FACE_BOUND.cy,
  cz: HEAD_ORIGIN[2] + HEAD_SCALE * FACE_BOUND.cz,
  r: HEAD_SCALE * FACE_BOUND.r,
};

/**
 * One procedural head: SDF + colour, evaluated at arbitrary points. Construct once per head; all
 * derived geometry constants are precomputed here.
 */
export class ProceduralHead {
  readonly params: HeadParams;
  // Derived geometry (world units).
  private readonly cr: { cy: number; cz: number; rx: number; ry: number; rz: number };
  private readonly face: { cy: number; cz: number; rx: number; ry: number; rz: number };
  private readonly eyeX: number;
  private readonly eyeY: number;
  private readonly eyeZ: number;
  private readonly eyeR: number;
  private readonly lidUpper: number;
  private readonly mouthY: number;
  private readonly mouthZ: number;
  private readonly noseTipY: number;
  private readonly noseTipZ: number;
  private readonly bridgeZ: number;
  private readonly browZ: number;
  private readonly chinY: number;
  private readonly chinZ: number;
  private readonly cheekX: number;
  private readonly cheekZ: number;
  private readonly earX: number;
  private readonly hairThick: number;

  constructor(params: HeadParams) {
    this.params = params;
    const p = params;
    this.cr = { cy: 0.07, cz: -0.035, rx: 0.172 * p.headWidth, ry: 0.19 * p.headHeight, rz: 0.205 * p.headDepth };
    this.face = { cy: -0.035, cz: 0.035, rx: 0.138 * p.jawWidth, ry: 0.168 * p.faceLength, rz: 0.16 };
    this.eyeX = 0.064 * p.eyeSpacing;
    this.eyeY = 0.045;
    this.eyeR = 0.021 * p.eyeSize;
    this.eyeZ = this.faceFrontZ(this.eyeX, this.eyeY) + 0.002;
    this.lidUpper = this.eyeR * lerp(0.0, 0.5, p.eyeOpening);
    this.mouthY = -0.1 * p.faceLength;
    this.mouthZ = this.faceFrontZ(0, this.mouthY) - 0.002;
    this.noseTipY = this.eyeY - 0.085 * p.noseLength;
    this.noseTipZ = this.faceFrontZ(0, this.noseTipY) + 0.05 * p.noseProjection;
    this.bridgeZ = this.faceFrontZ(0, this.eyeY) + 0.006;
    this.browZ = this.faceFrontZ(0, this.eyeY + 0.04) - 0.01;
    this.chinY = this.face.cy - 0.148 * p.faceLength;
    this.chinZ = this.faceFrontZ(0, this.chinY) - 0.033;
    this.cheekX = 0.08 * p.jawWidth;
    this.cheekZ = this.faceFrontZ(this.cheekX, -0.012) - 0.038;
    this.earX = this.cr.rx * 0.96;
    this.hairThick = 0.01 + 0.03 * p.hairVolume;
  }

  /** z of the face ellipsoid's front surface at (x, y) (anchors eyes, nose and mouth to the face). */
  private faceFrontZ(x: number, y: number): number {
    const f = this.face;
    const s = 1 - (x / f.rx) ** 2 - ((y - f.cy) / f.ry) ** 2;
    return f.cz + f.rz * Math.sqrt(Math.max(s, 0));
  }

  /** Per-part signed distances at (x, y, z); returns the combined SDF. */
  private parts(x: number, y: number, z: number, out: PartDistances | null): number {
    const p = this.params;
    const cr = this.cr;
    const f = this.face;
    const ax = Math.abs(x); // the head is mirror-symmetric except for the hair parting
    const FAR = 1;

    // --- skull, face mass and jaw ---
    let skin = sdEllipsoid(x, y - cr.cy, z - cr.cz, cr.rx, cr.ry, cr.rz);
    skin = smin(skin, sdEllipsoid(x, y - f.cy, z - f.cz, f.rx, f.ry, f.rz), 0.06);
    skin = smin(skin, sdEllipsoid(x, y + 0.115 * p.faceLength, z, 0.125 * p.jawWidth, 0.075, 0.13), 0.05);

    let lips = FAR;
    let eyes = FAR;
    const fy = y - FACE_BOUND.cy, fz = z - FACE_BOUND.cz;
    if (x * x + fy * fy + fz * fz < FACE_BOUND.r * FACE_BOUND.r) {
      skin = smin(skin, sdEllipsoid(x, y - this.chinY, z - this.chinZ, 0.042 * p.chinSize, 0.034, 0.04), 0.035);
      skin = smin(skin, sdEllipsoid(ax - this.cheekX, y + 0.012, z - this.cheekZ, 0.046 * p.cheekSize, 0.036, 0.045), 0.03);
      // brow ridge
      skin = smin(skin, sdRoundCone(ax, y, z, 0, this.eyeY + 0.036, this.browZ, 0.016, 0.095, this.eyeY + 0.034, this.browZ - 0.05, 0.011), 0.028);
      // eye socket: a horizontally elongated hollow in front of the eyeball
      const ex = ax - this.eyeX, ey = y - this.eyeY, ez = z - this.eyeZ;
      skin = smax(skin, -sdEllipsoid(ex, ey + 0.002, ez - 0.012, this.eyeR * 1.75, this.eyeR * 1.25, this.eyeR * 1.3), 0.012);
      // nose: bridge → tip round cone plus the two alar wings, nostrils carved underneath
      const nw = p.noseWidth;
      let nose = sdRoundCone(x, y, z, 0, this.eyeY + 0.004, this.bridgeZ - 0.01, 0.0095 * nw, 0, this.noseTipY, this.noseTipZ - 0.016 * nw, 0.016 * nw);
      nose = smin(nose, sdEllipsoid(ax - 0.019 * nw, y - this.noseTipY + 0.008, z - this.noseTipZ + 0.028, 0.016 * nw, 0.012, 0.014), 0.012);
      skin = smin(skin, nose, 0.02);
      skin = smax(skin, -sdEllipsoid(ax - 0.009 * nw, y - this.noseTipY + 0.016, z - this.noseTipZ + 0.02, 0.006 * nw, 0.004, 0.008), 0.004);
      // eyelids: skin shells over the eyeballs, cut to leave the opening
      const eyeDist = Math.sqrt(ex * ex + ey * ey + ez * ez);
      const lids = smax(eyeDist - this.eyeR * 1.12, Math.min(this.lidUpper - ey, ey + this.eyeR * 0.55), 0.003);
      skin = smin(skin, lids, 0.005);
      eyes = eyeDist - this.eyeR;
      // lips, with the mouth slit carved between them
      const mw = p.mouthWidth;
      const lf = p.lipFullness;
      lips = sdEllipsoid(x, y - this.mouthY - 0.0085 * lf, z - this.mouthZ, 0.038 * mw, 0.009 * lf, 0.018);
      lips = smin(lips, sdEllipsoid(x, y - this.mouthY + 0.0105 * lf, z - this.mouthZ + 0.003, 0.033 * mw, 0.011 * lf, 0.018), 0.006);
      lips = smax(lips, -sdEllipsoid(x, y - this.mouthY, z - this.mouthZ - 0.02, 0.042 * mw, 0.0022, 0.022), 0.003);
    }
    // ears
    if (Math.abs(ax - this.earX) < 0.08 && Math.abs(y - 0.03) < 0.12) {
      skin = smin(skin, sdEllipsoid(ax - this.earX, y - 0.03, z + 0.03, 0.02, 0.052 * p.earSize, 0.033 * p.earSize), 0.02);
    }
    // neck
    skin = smin(skin, sdRoundCone(x, y, z, 0, -0.55, -0.05, 0.1 * p.neckWidth, 0, -0.12, -0.035, 0.087 * p.neckWidth), 0.05);
    // beard volume (a thin shell over the jaw, only when bearded)
    if (p.beard > 0) {
      const jawShell = sdEllipsoid(x, y + 0.125 * p.faceLength, z - 0.02, 0.13 * p.jawWidth + 0.005 * p.beard, 0.085, 0.152 + 0.008 * p.beard);
      skin = Math.min(skin, smax(jawShell, y - this.mouthY + 0.012, 0.01));
    }

    // --- hair: a cap over the skull above a hairline, plus a curtain behind the head for long hair ---
    const qx = x, qy = y - cr.cy, qz = z - cr.cz;
    const thick = this.hairThick;
    let hair = sdEllipsoid(qx, qy - 0.006 - 0.012 * p.hairVolume, qz + 0.006, cr.rx + thick, cr.ry + thick, cr.rz + thick);
    if (hair < 0.08) {
      // hairline height as a function of the direction around the head: front high, sides lower, nape lowest
      const front = qz / (Math.sqrt(qx * qx + qz * qz) + 1e-9);
      const yFront = lerp(0.075, 0.145, p.hairRecession) - 0.085 * p.fringe + 0.028 * p.parting * (qx / cr.rx);
      const ySide = lerp(-0.01, 0.055, p.hairRecession);
      const yBack = -0.12;
      const yLine = ySide + 0.5 * (yFront - yBack) * front + 0.5 * (yFront + yBack - 2 * ySide) * front * front;
      hair = smax(hair, yLine - qy, 0.02);
    }
    if (p.hairLength > 0.02) {
      const curtainH = 0.05 + 0.19 * p.hairLength;
      let curtain = sdEllipsoid(qx, qy + 0.02 + curtainH * 0.6, qz + 0.045, cr.rx + thick + 0.01, curtainH + 0.02, cr.rz + thick - 0.03);
      curtain = smax(curtain, qz - 0.065, 0.03); // stays behind the face
      hair = smin(hair, curtain, 0.04);
    }
    if (hair < 0.02) hair += 0.0025 * p.hairWave * Math.sin(48 * Math.atan2(qx, qz) + 18 * qy); // strand waves

    const cloth = sdEllipsoid(x, y + 0.56, z + 0.045, 0.3, 0.2, 0.16);
    if (out) {
      out.skin = skin;
      out.lips = lips;
      out.eyes = eyes;
      out.hair = hair;
      out.cloth = cloth;
    }
    let d = Math.min(smin(skin, lips, 0.004), eyes);
    d = Math.min(d, hair);
    return Math.min(d, smin(cloth, skin, 0.04));
  }

  /**
   * Per-part distances in world units: the figure is modelled in its own frame and scaled by
   * HEAD_SCALE about HEAD_ORIGIN (so it fills the frame like an FFHQ crop); the backdrop is not scaled.
   */
  private worldParts(x: number, y: number, z: number, out: PartDistances | null): number {
    const d = HEAD_SCALE * this.parts((x - HEAD_ORIGIN[0]) / HEAD_SCALE, (y - HEAD_ORIGIN[1]) / HEAD_SCALE, (z - HEAD_ORIGIN[2]) / HEAD_SCALE, out);
    // Backdrop: a shell of the L4 ball (a rounded cube that fills the tri-plane box's corners, so side
    // views see it everywhere) kept only behind the head. |∇‖p‖₄| ≤ 1, so this is a valid SDF bound.
    const r4 = Math.sqrt(Math.sqrt(x * x * x * x + y * y * y * y + z * z * z * z));
    const back = smax(Math.abs(r4 - BACKDROP_OUTER + BACKDROP_THICKNESS / 2) - BACKDROP_THICKNESS / 2, z - BACKDROP_CUT_Z, 0.02);
    if (out) {
      out.skin *= HEAD_SCALE;
      out.lips *= HEAD_SCALE;
      out.eyes *= HEAD_SCALE;
      out.hair *= HEAD_SCALE;
      out.cloth *= HEAD_SCALE;
      out.back = back;
    }
    return Math.min(d, back);
  }

  /** Signed distance (world units) of the whole scene at one point. */
  distance(x: number, y: number, z: number): number {
    return this.worldParts(x, y, z, null);
  }

  /** Raw density (EG3D decoder convention) at one point; empty outside the tri-plane box. */
  sigmaRaw(x: number, y: number, z: number): number {
    if (!insideBox(x, y, z)) return SIGMA_RAW_EMPTY;
    return sigmaRawFromSdf(this.distance(x, y, z));
  }

  /**
   * Albedo × baked diffuse light at one point, each channel in [0, 1], written to out[o..o+2].
   * Returns whether the point belongs to the head (anything but the backdrop).
   */
  colour(x: number, y: number, z: number, out: Float32Array | Float64Array, o: number): boolean {
    const pd: PartDistances = { skin: 0, lips: 0, eyes: 0, hair: 0, cloth: 0, back: 0 };
    this.worldParts(x, y, z, pd);
    const p = this.params;
    // Soft assignment of the point to the nearest part (τ keeps colour borders smooth, hence learnable).
    const tau = 0.003;
    const dmin = Math.min(pd.skin, pd.lips, pd.eyes, pd.hair, pd.cloth, pd.back);
    const ws = Math.exp(-(pd.skin - dmin) / tau);
    const wl = Math.exp(-(pd.lips - dmin) / tau);
    const we = Math.exp(-(pd.eyes - dmin) / tau);
    const wh = Math.exp(-(pd.hair - dmin) / tau);
    const wc = Math.exp(-(pd.cloth - dmin) / tau);
    const wb = Math.exp(-(pd.back - dmin) / tau);
    const wsum = ws + wl + we + wh + wc + wb;

    // painted features are defined in the head's own frame
    const wy = y;
    x = (x - HEAD_ORIGIN[0]) / HEAD_SCALE;
    y = (y - HEAD_ORIGIN[1]) / HEAD_SCALE;
    z = (z - HEAD_ORIGIN[2]) / HEAD_SCALE;
    let r = 0, g = 0, b = 0;
    const ax = Math.abs(x);
    if (ws > 1e-6) {
      // skin, with blush, brows, beard and a lash line painted on
      let sr = p.skin[0], sg = p.skin[1], sb = p.skin[2];
      const front = z > 0.06 ? 1 : 0;
      const cheek = Math.exp(-(((ax - 0.075) / 0.03) ** 2 + ((y + 0.03) / 0.025) ** 2)) * 0.3 * p.blush * front;
      sr = lerp(sr, 0.9, cheek);
      sg = lerp(sg, 0.42, cheek);
      sb = lerp(sb, 0.42, cheek);
      const dxBrow = ax - this.eyeX;
      const browCentre = this.eyeY + 0.03 + p.browHeight + p.browTilt * dxBrow - 4 * dxBrow * dxBrow;
      const browHalf = 0.0045 * p.browThickness * (1 - 0.6 * smoothstep(-0.01, 0.035, dxBrow));
      let hairTone = smoothstep(browHalf + 0.002, browHalf, Math.abs(y - browCentre)) * smoothstep(0.038, 0.03, Math.abs(dxBrow + 0.004)) * front;
      if (p.beard > 0) {
        const beardZone = smoothstep(this.mouthY + 0.012, this.mouthY - 0.008, y) * smoothstep(-0.03, 0.03, z) * p.beard;
        const moustache = p.beard * Math.exp(-(((y - this.mouthY - 0.022) / 0.007) ** 2)) * smoothstep(0.05, 0.035, ax) * front;
        hairTone = Math.max(hairTone, 0.85 * Math.max(beardZone, moustache));
      }
      sr = lerp(sr, p.hair[0] * 0.8, hairTone);
      sg = lerp(sg, p.hair[1] * 0.8, hairTone);
      sb = lerp(sb, p.hair[2] * 0.8, hairTone);
      // lash line: darken the upper lid edge
      const ey = y - this.eyeY;
      const dEye = Math.hypot(ax - this.eyeX, ey, z - this.eyeZ);
      const lash = smoothstep(this.eyeR * 1.4, this.eyeR * 1.1, dEye) * smoothstep(0.005, 0.001, Math.abs(ey - this.lidUpper - 0.002)) * (z > this.eyeZ ? 1 : 0);
      sr = lerp(sr, 0.08, 0.9 * lash);
      sg = lerp(sg, 0.06, 0.9 * lash);
      sb = lerp(sb, 0.05, 0.9 * lash);
      r += ws * sr; g += ws * sg; b += ws * sb;
    }
    if (wl > 1e-6) {
      // lips with a dark mouth line
      const line = Math.exp(-(((y - this.mouthY) / 0.004) ** 2));
      r += wl * lerp(p.lips[0], 0.2, line);
      g += wl * lerp(p.lips[1], 0.05, line);
      b += wl * lerp(p.lips[2], 0.06, line);
    }
    if (we > 1e-6) {
      // eyes: sclera, iris, pupil by the angle from the gaze axis (+z)
      const ex = ax - this.eyeX, ey = y - this.eyeY, ez = z - this.eyeZ;
      const c = ez / (Math.sqrt(ex * ex + ey * ey + ez * ez) + 1e-9);
      const iris = smoothstep(0.7, 0.76, c);
      const pupil = smoothstep(0.92, 0.94, c);
      let er = lerp(0.92, p.iris[0], iris), eg = lerp(0.9, p.iris[1], iris), eb = lerp(0.87, p.iris[2], iris);
      er = lerp(er, 0.03, pupil); eg = lerp(eg, 0.03, pupil); eb = lerp(eb, 0.03, pupil);
      r += we * er; g += we * eg; b += we * eb;
    }
    if (wh > 1e-6) {
      // hair with strand stripes
      const az = Math.atan2(x, z - this.cr.cz);
      const stripe = 0.88 + 0.14 * p.hairWave * Math.sin(48 * az + 18 * (y - this.cr.cy)) + 0.06 * Math.sin(150 * az);
      r += wh * p.hair[0] * stripe; g += wh * p.hair[1] * stripe; b += wh * p.hair[2] * stripe;
    }
    r += wc * p.clothing[0]; g += wc * p.clothing[1]; b += wc * p.clothing[2];
    const backFrac = wb / wsum;
    r = (r + wb * p.background[0]) / wsum;
    g = (g + wb * p.background[1]) / wsum;
    b = (b + wb * p.background[2]) / wsum;

    // Baked lighting: ambient + Lambert with a fixed key light, normal from the SDF gradient
    // (tetrahedron differences). The backdrop gets flat light with a vertical gradient instead.
    let light: number;
    x = x * HEAD_SCALE + HEAD_ORIGIN[0];
    y = wy;
    z = z * HEAD_SCALE + HEAD_ORIGIN[2];
    if (backFrac > 0.999) {
      light = 0.8 + 0.35 * (y + 0.5);
    } else {
      const h = 0.002;
      const d1 = this.distance(x + h, y - h, z - h);
      const d2 = this.distance(x - h, y - h, z + h);
      const d3 = this.distance(x - h, y + h, z - h);
      const d4 = this.distance(x + h, y + h, z + h);
      let nx = d1 - d2 - d3 + d4, ny = -d1 - d2 + d3 + d4, nz = -d1 + d2 - d3 + d4;
      const nn = Math.sqrt(nx * nx + ny * ny + nz * nz) + 1e-12;
      nx /= nn; ny /= nn; nz /= nn;
      const lambert = Math.max(0, nx * LIGHT[0] + ny * LIGHT[1] + nz * LIGHT[2]);
      light = lerp(0.4 + 0.68 * lambert, 0.8 + 0.35 * (y + 0.5), backFrac);
    }
    out[o] = Math.min(Math.max(r * light, 0), 1);
    out[o + 1] = Math.min(Math.max(g * light, 0), 1);
    out[o + 2] = Math.min(Math.max(b * light, 0), 1);
    return backFrac < 0.5;
  }

  /**
   * Batched field evaluation: points `[n·3]` (x, y, z) → `sigmaRaw[n]` and `rgb[n·3]` in [0, 1].
   * Colour is computed only where the point is not empty (elsewhere it is left 0: invisible).
   */
  evaluate(points: Float32Array, sigmaRaw: Float32Array, rgb: Float32Array): void {
    const n = points.length / 3;
    if (!Number.isInteger(n)) throw new RangeError('points must hold x, y, z triples');
    if (sigmaRaw.length < n || rgb.length < n * 3) throw new RangeError(`output buffers too small for ${n} points`);
    for (let i = 0; i < n; i++) {
      const x = points[3 * i], y = points[3 * i + 1], z = points[3 * i + 2];
      const s = this.sigmaRaw(x, y, z);
      sigmaRaw[i] = s;
      if (s > SIGMA_RAW_EMPTY) this.colour(x, y, z, rgb, 3 * i);
      else rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = 0;
    }
  }
}

/** σ_raw for a signed distance (no box clipping). */
export function sigmaRawFromSdf(sdf: number): number {
  return Math.min(Math.max(1 - DENSITY_SLOPE * sdf, SIGMA_RAW_EMPTY), SIGMA_RAW_SOLID);
}

/** A head for a seed (convenience for tests, grids and held-out sets). */
export function headFromSeed(seed: number): ProceduralHead {
  return new ProceduralHead(sampleHeadParams(new Random(seed)));
}

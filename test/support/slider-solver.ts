/**
 * The slider solver an attacker writes, for tests and the challenge bench: it
 * reads only what the start response gives (the two PNGs and piece_y), finds
 * the gap by the usual computer-vision tricks, solves the proof of work, drags
 * along an eased, jittered, human-like track and answers through the real HTTP
 * API.
 *
 * Gap finders (each scores every x of the piece's row; see `locateGap`):
 *   - `edge`:      Sobel magnitude of the piece's alpha (its outline) against
 *                  the Sobel magnitude of the background, normalised
 *                  cross-correlation (NCC): the classic OpenCV recipe.
 *   - `canny`:     the same against a thresholded, thinned (non-maximum
 *                  suppressed) edge map, Canny-style.
 *   - `template`:  NCC of the piece's grey levels against the background under
 *                  the piece's mask (the gap shows a darkened copy of the cut).
 *   - `darkness`:  how much darker the inside of the outline is than a ring
 *                  just outside it (the gap's shading).
 *   - `best`:      the finder whose peak stands out most (peak z-score) wins:
 *                  the attacker's "pick the best".
 *   - `continuity`: colour of the piece's inner rim against the background's
 *                  ring just outside the outline, by sector (does the picture
 *                  continue across the outline?). This is the cue a person uses;
 *                  reported separately.
 *   - `faintest`:  an attacker who has studied this generator: of the four
 *                  darkest holes (darkness peaks at least a piece apart), the
 *                  least dark. Reported separately.
 */
import { createHash } from 'node:crypto';
import { PNG } from 'pngjs';
import type { RiskGateApp } from '../../server/app.js';
import type { SliderPow } from '../../shared/schemas.js';
import { humanTrack, seeded, type Rand } from './tracks.js';

export const FINDERS = ['edge', 'canny', 'template', 'darkness', 'best', 'continuity', 'faintest'] as const;
export type Finder = (typeof FINDERS)[number];

interface Image {
  width: number;
  height: number;
  /** RGBA. */
  data: Buffer;
}

function decode(dataUrlOrPng: string | Buffer): Image {
  const buffer = typeof dataUrlOrPng === 'string' ? Buffer.from(dataUrlOrPng.replace(/^data:image\/png;base64,/, ''), 'base64') : dataUrlOrPng;
  const png = PNG.sync.read(buffer);
  return { width: png.width, height: png.height, data: png.data };
}

function grey(image: Image): Float32Array {
  const out = new Float32Array(image.width * image.height);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * image.data[i * 4]! + 0.587 * image.data[i * 4 + 1]! + 0.114 * image.data[i * 4 + 2]!;
  return out;
}

/** Sobel gradient magnitude and direction (0–3, quantised for non-maximum suppression). */
function sobel(values: Float32Array, width: number, height: number): { magnitude: Float32Array; direction: Uint8Array } {
  const magnitude = new Float32Array(width * height);
  const direction = new Uint8Array(width * height);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const gx = values[i - width + 1]! + 2 * values[i + 1]! + values[i + width + 1]! - values[i - width - 1]! - 2 * values[i - 1]! - values[i + width - 1]!;
      const gy = values[i + width - 1]! + 2 * values[i + width]! + values[i + width + 1]! - values[i - width - 1]! - 2 * values[i - width]! - values[i - width + 1]!;
      magnitude[i] = Math.sqrt(gx * gx + gy * gy);
      const angle = ((Math.atan2(gy, gx) * 180) / Math.PI + 180) % 180;
      direction[i] = angle < 22.5 || angle >= 157.5 ? 0 : angle < 67.5 ? 1 : angle < 112.5 ? 2 : 3;
    }
  }
  return { magnitude, direction };
}

/** Canny without hysteresis: non-maximum suppression, then a threshold at the 80th percentile. */
function cannyLike(values: Float32Array, width: number, height: number): Float32Array {
  const { magnitude, direction } = sobel(values, width, height);
  const thin = new Float32Array(width * height);
  const offsets = [
    [1, 0],
    [1, 1],
    [0, 1],
    [-1, 1],
  ] as const;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const [dx, dy] = offsets[direction[i]!]!;
      const m = magnitude[i]!;
      if (m >= magnitude[i + dy * width + dx]! && m >= magnitude[i - dy * width - dx]!) thin[i] = m;
    }
  }
  const sorted = Array.from(thin).filter((v) => v > 0).sort((a, b) => a - b);
  const threshold = sorted[Math.floor(sorted.length * 0.8)] ?? 0;
  for (let i = 0; i < thin.length; i++) thin[i] = thin[i]! >= threshold && thin[i]! > 0 ? 1 : 0;
  return thin;
}

/** Chamfer distance (px) from each pixel to the nearest pixel where `inside` differs. */
function distanceToOutline(inside: Uint8Array, size: number): Float32Array {
  const far = 1e6;
  const toOther = (target: number) => {
    const d = new Float32Array(size * size).fill(far);
    for (let i = 0; i < d.length; i++) if (inside[i] !== target) d[i] = 0;
    const diagonal = Math.SQRT2;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const i = y * size + x;
        if (x > 0) d[i] = Math.min(d[i]!, d[i - 1]! + 1);
        if (y > 0) d[i] = Math.min(d[i]!, d[i - size]! + 1);
        if (x > 0 && y > 0) d[i] = Math.min(d[i]!, d[i - size - 1]! + diagonal);
        if (x < size - 1 && y > 0) d[i] = Math.min(d[i]!, d[i - size + 1]! + diagonal);
      }
    }
    for (let y = size - 1; y >= 0; y--) {
      for (let x = size - 1; x >= 0; x--) {
        const i = y * size + x;
        if (x < size - 1) d[i] = Math.min(d[i]!, d[i + 1]! + 1);
        if (y < size - 1) d[i] = Math.min(d[i]!, d[i + size]! + 1);
        if (x < size - 1 && y < size - 1) d[i] = Math.min(d[i]!, d[i + size + 1]! + diagonal);
        if (x > 0 && y < size - 1) d[i] = Math.min(d[i]!, d[i + size - 1]! + diagonal);
      }
    }
    return d;
  };
  // Positive outside, negative inside.
  const outside = toOther(0);
  const inner = toOther(1);
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = inside[i] ? -inner[i]! : outside[i]!;
  return out;
}

/** NCC of `template` (weights over listed offsets) against `image` placed at x, for every x. */
function nccCurve(template: Float32Array, offsets: Int32Array, image: Float32Array, imageWidth: number, top: number, xs: number): Float32Array {
  const n = offsets.length / 2;
  let tMean = 0;
  for (let k = 0; k < n; k++) tMean += template[k]!;
  tMean /= n;
  let tVar = 0;
  for (let k = 0; k < n; k++) tVar += (template[k]! - tMean) ** 2;
  const tSd = Math.sqrt(tVar) + 1e-9;
  const curve = new Float32Array(xs);
  for (let x = 0; x < xs; x++) {
    let sum = 0;
    let squares = 0;
    let cross = 0;
    for (let k = 0; k < n; k++) {
      const v = image[(top + offsets[2 * k + 1]!) * imageWidth + x + offsets[2 * k]!]!;
      sum += v;
      squares += v * v;
      cross += (template[k]! - tMean) * v;
    }
    const sd = Math.sqrt(Math.max(0, squares - (sum * sum) / n)) + 1e-9;
    curve[x] = cross / (tSd * sd);
  }
  return curve;
}

function argmax(curve: Float32Array): number {
  let best = 0;
  for (let x = 1; x < curve.length; x++) if (curve[x]! > curve[best]!) best = x;
  return best;
}

/** How far the peak stands above the rest of the curve, in standard deviations. */
function prominence(curve: Float32Array): number {
  let mean = 0;
  for (const v of curve) mean += v;
  mean /= curve.length;
  let variance = 0;
  for (const v of curve) variance += (v - mean) ** 2;
  return (curve[argmax(curve)]! - mean) / (Math.sqrt(variance / curve.length) + 1e-9);
}

export interface GapGuess {
  /** Each finder's x for the piece's left edge. */
  x: Record<Finder, number>;
}

/**
 * Finds the gap from the two images and the piece's row, as an attacker does.
 * The piece starts at x = 0 and only slides, so every finder scores x from the
 * piece's own width (the gap cannot be under the piece's start) to the end.
 */
export function locateGap(backgroundPng: string | Buffer, piecePng: string | Buffer, pieceY: number): GapGuess {
  const background = decode(backgroundPng);
  const piece = decode(piecePng);
  const size = piece.width;
  const { width, height } = background;
  const start = size;
  const xs = width - size - start + 1;
  const backgroundGrey = grey(background);
  const pieceGrey = grey(piece);

  const inside = new Uint8Array(size * size);
  const alpha = new Float32Array(size * size);
  for (let i = 0; i < inside.length; i++) {
    alpha[i] = piece.data[i * 4 + 3]! * 1;
    inside[i] = piece.data[i * 4 + 3]! >= 128 ? 1 : 0;
  }
  const distance = distanceToOutline(inside, size);
  const shifted = (curve: Float32Array) => curve; // index 0 is x = start

  // Edge: the outline's Sobel magnitude against the background's.
  const outline = sobel(alpha, size, size).magnitude;
  const backgroundEdges = sobel(backgroundGrey, width, height).magnitude;
  const edgeOffsets: number[] = [];
  const edgeWeights: number[] = [];
  for (let y = 1; y < size - 1; y++) {
    for (let x = 1; x < size - 1; x++) {
      if (Math.abs(distance[y * size + x]!) > 4) continue; // a band around the outline
      edgeOffsets.push(x + start, y);
      edgeWeights.push(outline[y * size + x]!);
    }
  }
  const edgeTemplate = Float32Array.from(edgeWeights);
  const edgeCurve = nccCurve(edgeTemplate, Int32Array.from(edgeOffsets), backgroundEdges, width, pieceY, xs);
  const cannyCurve = nccCurve(edgeTemplate, Int32Array.from(edgeOffsets), cannyLike(backgroundGrey, width, height), width, pieceY, xs);

  // Template: the piece's grey levels (rim excluded) against the background under the mask.
  const interiorOffsets: number[] = [];
  const interiorValues: number[] = [];
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (distance[y * size + x]! > -3) continue;
      interiorOffsets.push(x + start, y);
      interiorValues.push(pieceGrey[y * size + x]!);
    }
  }
  const templateCurve = nccCurve(Float32Array.from(interiorValues), Int32Array.from(interiorOffsets), backgroundGrey, width, pieceY, xs);

  // Darkness: the ring just outside the outline minus the inside (mean grey levels).
  const ring: number[] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (distance[y * size + x]! >= 2 && distance[y * size + x]! <= 5) ring.push(x, y);
  const darknessCurve = new Float32Array(xs);
  for (let i = 0; i < xs; i++) {
    const x0 = i + start;
    let inSum = 0;
    for (let k = 0; k < interiorOffsets.length; k += 2) inSum += backgroundGrey[(pieceY + interiorOffsets[k + 1]!) * width + interiorOffsets[k]! - start + x0]!;
    let ringSum = 0;
    for (let k = 0; k < ring.length; k += 2) ringSum += backgroundGrey[(pieceY + ring[k + 1]!) * width + ring[k]! + x0]!;
    darknessCurve[i] = ringSum / (ring.length / 2) - inSum / (interiorOffsets.length / 2);
  }

  // Continuity: mean colour per sector of the piece's inner rim vs the background's outer ring.
  const sectors = 16;
  const centre = size / 2;
  const sectorOf = (x: number, y: number) => Math.floor(((Math.atan2(y + 0.5 - centre, x + 0.5 - centre) + Math.PI) / (2 * Math.PI)) * sectors) % sectors;
  const pieceSector = new Float64Array(sectors * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = distance[y * size + x]!;
      if (d > -3 || d < -6) continue;
      const s = sectorOf(x, y);
      for (let c = 0; c < 3; c++) pieceSector[s * 4 + c]! += piece.data[(y * size + x) * 4 + c]!;
      pieceSector[s * 4 + 3]! += 1;
    }
  }
  const outer: number[] = [];
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) if (distance[y * size + x]! >= 3 && distance[y * size + x]! <= 6) outer.push(x, y, sectorOf(x, y));
  const continuityCurve = new Float32Array(xs);
  const ringSector = new Float64Array(sectors * 4);
  for (let i = 0; i < xs; i++) {
    ringSector.fill(0);
    const x0 = i + start;
    for (let k = 0; k < outer.length; k += 3) {
      const p = ((pieceY + outer[k + 1]!) * width + outer[k]! + x0) * 4;
      const s = outer[k + 2]!;
      for (let c = 0; c < 3; c++) ringSector[s * 4 + c]! += background.data[p + c]!;
      ringSector[s * 4 + 3]! += 1;
    }
    let error = 0;
    for (let s = 0; s < sectors; s++) {
      if (pieceSector[s * 4 + 3] === 0 || ringSector[s * 4 + 3] === 0) continue;
      for (let c = 0; c < 3; c++) error += Math.abs(pieceSector[s * 4 + c]! / pieceSector[s * 4 + 3]! - ringSector[s * 4 + c]! / ringSector[s * 4 + 3]!);
    }
    continuityCurve[i] = -error;
  }

  const curves = { edge: edgeCurve, canny: cannyCurve, template: templateCurve, darkness: darknessCurve };
  let bestName: keyof typeof curves = 'edge';
  let bestProminence = -Infinity;
  for (const [name, curve] of Object.entries(curves) as [keyof typeof curves, Float32Array][]) {
    const p = prominence(shifted(curve));
    if (p > bestProminence) [bestProminence, bestName] = [p, name];
  }
  const at = (curve: Float32Array) => argmax(curve) + start;
  // The holes: the strongest darkness peaks, a piece width apart; then the faintest of them.
  const peaks: number[] = [];
  const order = Array.from(darknessCurve.keys()).sort((a, b) => darknessCurve[b]! - darknessCurve[a]!);
  for (const x of order) {
    if (peaks.length === 4) break;
    if (peaks.every((p) => Math.abs(p - x) >= size - 4)) peaks.push(x);
  }
  const faintest = peaks.reduce((a, b) => (darknessCurve[b]! < darknessCurve[a]! ? b : a), peaks[0] ?? 0) + start;
  return {
    x: {
      edge: at(edgeCurve),
      canny: at(cannyCurve),
      template: at(templateCurve),
      darkness: at(darknessCurve),
      best: at(curves[bestName]),
      continuity: at(continuityCurve),
      faintest,
    },
  };
}

// ---------------------------------------------------------------- proof of work

export type PowView = SliderPow;

/** ALTCHA v2 SHA-256 solving, in Node (an attacker solves the work too). */
export function solvePow(pow: PowView): { counter: number; derived_key: string } {
  const nonce = Buffer.from(pow.nonce, 'hex');
  const salt = Buffer.from(pow.salt, 'hex');
  const password = Buffer.alloc(nonce.length + 4);
  nonce.copy(password);
  for (let counter = 0; counter < 2 ** 32; counter++) {
    password.writeUInt32BE(counter, nonce.length);
    let key = Buffer.concat([salt, password]);
    for (let i = 0; i < Math.max(1, pow.cost); i++) key = createHash('sha256').update(key).digest();
    const hex = key.subarray(0, pow.key_length).toString('hex');
    if (hex.startsWith(pow.key_prefix)) return { counter, derived_key: hex };
  }
  throw new Error('no solution');
}

// ---------------------------------------------------------------- the whole attack over HTTP

export interface SliderView {
  background: string;
  piece: string;
  piece_y: number;
  pow?: PowView;
}

export interface AttackOptions {
  app: RiskGateApp;
  appKey: string;
  origin: string;
  /** The attacker's address for this challenge (a botnet varies it). */
  ip?: string;
  finder?: Finder;
  rand?: Rand;
}

async function post(app: RiskGateApp, path: string, body: object, origin: string, ip: string) {
  const response = await app.inject({ method: 'POST', url: path, payload: body, headers: { origin }, remoteAddress: ip });
  return { status: response.statusCode, body: response.json() as Record<string, unknown> };
}

/** Starts a fresh standalone slider, finds the gap, answers once. True when it passed. */
export async function attackOnce(options: AttackOptions): Promise<{ passed: boolean; guessedX: number; guess?: GapGuess; background?: string; status: number; failure?: string }> {
  const { app, appKey, origin, ip = '198.51.100.7', finder = 'best', rand = seeded(Math.floor(Math.random() * 2 ** 32)) } = options;
  const started = await post(app, '/v1/challenges', { app_key: appKey, type: 'slider' }, origin, ip);
  if (started.status !== 200) return { passed: false, guessedX: -1, status: started.status };
  const slider = started.body.slider as SliderView;
  const guesses = locateGap(slider.background, slider.piece, slider.piece_y);
  const guess = guesses.x[finder];
  const drag = humanTrack(rand, guess);
  const answered = await post(
    app,
    `/v1/challenges/${encodeURIComponent(String(started.body.challenge_id))}/answer`,
    { app_key: appKey, x: drag.x, track: drag.track, ...(slider.pow ? { pow: solvePow(slider.pow) } : {}) },
    origin,
    ip,
  );
  return {
    passed: answered.body.success === true,
    guessedX: guess,
    guess: guesses,
    background: slider.background,
    status: answered.status,
    ...(answered.body.failure ? { failure: String(answered.body.failure) } : {}),
  };
}

/**
 * Slider puzzle images, drawn fresh for every challenge: a procedural
 * background with the true hole and two or three decoy holes on the piece's
 * row, and the piece.
 *
 * What it is meant to stop: image pools (every background is new), and the
 * usual gap finders — the piece's outline matched against an edge map (Sobel
 * or Canny, normalised cross-correlation), its grey levels matched as a
 * template, the darkest hole (test/support/slider-solver.ts runs them all).
 *   - Every hole has the piece's exact outline, on the piece's exact row: the
 *     outline and the row say nothing.
 *   - No hole shows the picture that was there: each is filled with its mean
 *     colour, a gentle ramp and fresh grain, so nothing inside any hole
 *     matches the piece's pixels.
 *   - The decoys are drawn to look more like a gap to a machine than the true
 *     hole does: darker, a crisp edge with a dark stroke, a fill whose light
 *     falls the way the cut's does. The true hole is lighter, and its edge is
 *     soft and finely rippled, so an edge detector loses its outline.
 * What a person uses instead: the piece's picture continues the picture
 * around the true hole (a line drawn through every hole; the piece carries
 * the segment of the true one's), in the same colours.
 *
 * Limits, measured in bench/challenge-bench.ts: a finder built for exactly
 * this design (compare the piece's rim with the ring around each hole, i.e.
 * the person's cue; or prefer the faintest, softest hole) finds the true hole
 * most of the time. The proof of work per puzzle (pow.ts), the per-device
 * and per-network try limits and the track checks are the layers that bound
 * such an attacker.
 *
 * Randomness: the numbers that are the secret (answerX, pieceY, decoy
 * positions) come straight from `random` (crypto.randomBytes by default).
 * Texture (gradients, shapes, noise, the outline, shading) comes from a fast
 * PRNG seeded with 16 bytes of `random`, so even a solver that reconstructed
 * the PRNG state from pixels would learn nothing about where the answer is.
 */
import { randomBytes } from 'node:crypto';
import { PNG } from 'pngjs';

export const PUZZLE_WIDTH = 320;
export const PUZZLE_HEIGHT = 160;
/** Side of the piece image; the outline fits inside with room for anti-aliasing. */
export const PIECE_SIZE = 56;
/** The piece starts at x = 0, so the hole must clear it with room to drag. */
export const MIN_ANSWER_X = PIECE_SIZE + 8;
export const MAX_ANSWER_X = PUZZLE_WIDTH - PIECE_SIZE - 4;
export const MIN_PIECE_Y = 4;
export const MAX_PIECE_Y = PUZZLE_HEIGHT - PIECE_SIZE - 4;
/** Least distance between the left edges of two holes: outlines fit in 54 px, so none touch. */
const HOLE_SPACING = PIECE_SIZE;
/** Decoys wanted; as many as fit beside the true hole (two or three in a 320 px row). One of three is `faint`. */
const MAX_DECOYS = 3;
/** Brightness change (levels) across a hole's fill at most. */
const HOLE_RAMP = 40;
/** Grain in a hole's fill, so a hole is no smoother (to an edge detector) than the rest. */
const HOLE_GRAIN = 7;
/**
 * Per-channel noise (± this many levels). The base layer is the picture's (and
 * the piece's) grain; the top layer, added after shading, lies over everything,
 * holes included, so "find the smooth patch" finds nothing.
 * Noise costs bytes: ~96 KB per background at 6/3, ~59 KB with none.
 */
const BASE_NOISE = 6;
const TOP_NOISE = 3;
/**
 * pngjs: Sub filter + Huffman-only deflate. On a noisy image LZ matching finds
 * almost nothing, so strategy 2 is ~2× faster than the default for the same size.
 */
const PNG_OPTIONS = { deflateLevel: 1, deflateStrategy: 2, filterType: 1 } as const;

/** `(size) => Buffer` of that many random bytes; crypto.randomBytes fits. */
export type RandomBytes = (size: number) => Buffer;

export interface SliderPuzzle {
  /** PNG, RGB, `width`×`height`, with the hole and the decoys. */
  background: Buffer;
  /** PNG, RGBA, `pieceSize`×`pieceSize`: the cut-out, transparent outside its outline. */
  piece: Buffer;
  width: number;
  height: number;
  pieceSize: number;
  /** Row of the piece's top edge in the background; the UI draws the piece there. */
  pieceY: number;
  /** The answer: x of the piece's left edge when it covers the hole. Keep it server-side. */
  answerX: number;
  /** x of each decoy hole (same row). Server-side: an answer that lands on one ends the challenge. */
  decoyXs?: number[];
}

export interface PuzzleHole {
  /** Left edge and top edge of the hole's `pieceSize` box. */
  x: number;
  y: number;
  decoy: boolean;
}

/** The same puzzle before PNG encoding (for tests and benchmarks). */
export interface SliderPuzzleRaster {
  width: number;
  height: number;
  pieceSize: number;
  pieceY: number;
  answerX: number;
  /** RGB, 3 bytes per pixel, row-major. */
  background: Buffer;
  /** RGBA, 4 bytes per pixel, row-major. */
  piece: Buffer;
  /** Every hole, the true one included, left to right. Server-side only. */
  holes: PuzzleHole[];
}

/**
 * Draws a new slider puzzle and encodes both images as PNG.
 *
 * @example
 * const puzzle = generateSliderPuzzle();
 * await store.putChallenge(id, { answerX: puzzle.answerX });       // secret
 * reply.send({ background: puzzle.background.toString('base64'),   // public
 *              piece: puzzle.piece.toString('base64'), piece_y: puzzle.pieceY });
 */
export function generateSliderPuzzle(random: RandomBytes = randomBytes): SliderPuzzle {
  const raster = renderSliderPuzzle(random);
  return {
    background: encodePng(raster.width, raster.height, raster.background, 2),
    piece: encodePng(raster.pieceSize, raster.pieceSize, raster.piece, 6),
    width: raster.width,
    height: raster.height,
    pieceSize: raster.pieceSize,
    pieceY: raster.pieceY,
    answerX: raster.answerX,
    decoyXs: raster.holes.filter((hole) => hole.decoy).map((hole) => hole.x),
  };
}

/** Draws a puzzle without encoding it. */
export function renderSliderPuzzle(random: RandomBytes = randomBytes): SliderPuzzleRaster {
  const secure = new SecureDraw(random);
  const answerX = secure.int(MIN_ANSWER_X, MAX_ANSWER_X);
  const pieceY = secure.int(MIN_PIECE_Y, MAX_PIECE_Y);
  const holes: PuzzleHole[] = [{ x: answerX, y: pieceY, decoy: false }];
  // As many decoys as fit in the row (usually three): all on the piece's row, all
  // of the piece's outline, so neither row nor outline tells the true one.
  for (const x of placeDecoys(secure, answerX)) holes.push({ x, y: pieceY, decoy: true });
  holes.sort((a, b) => a.x - b.x);
  const texture = Sfc32.fromBytes(secure.bytes(16));

  const image = new Float32Array(PUZZLE_WIDTH * PUZZLE_HEIGHT * 3);
  paintGradient(image, texture);
  paintShapes(image, texture);
  paintLines(image, texture);
  paintHoleLines(image, texture, holes);
  addNoise(image, image, texture, BASE_NOISE);

  const family: ShapeFamily = texture.unit() < 0.5 ? 'jigsaw' : 'blob';
  const shape = drawShape(family, texture);
  const piece = cutPiece(image, shape, answerX, pieceY);
  // Every hole shows only the colours of the picture that was there, with fresh
  // grain: nothing inside any hole matches the piece's shapes.
  // The decoys' light falls the way the cut's does (a grey-level template of the
  // piece leans to them); the true hole's falls another way.
  const [sx, sy] = boxSlope(image, answerX, pieceY);
  const slopeAngle = Math.atan2(sy, sx);
  const contents = holes.map((hole) => {
    const angle = hole.decoy ? slopeAngle + between(texture, -0.3, 0.3) : slopeAngle + between(texture, Math.PI / 2, (3 * Math.PI) / 2);
    const slope = between(texture, 0.4, 1) * (HOLE_RAMP / PIECE_SIZE);
    return grainy(smoothFill(image, hole.x, hole.y, Math.cos(angle) * slope, Math.sin(angle) * slope), texture, HOLE_GRAIN);
  });
  // One decoy (of three) is as faint and soft as the true hole, so "the faintest hole" is a coin toss.
  const decoyIndexes = holes.flatMap((hole, i) => (hole.decoy ? [i] : []));
  const faint = decoyIndexes.length >= 3 ? decoyIndexes[intBetween(texture, 0, decoyIndexes.length - 1)] : -1;
  holes.forEach((hole, i) => shadeHole(image, shape, hole.x, hole.y, contents[i]!, drawHoleShading(texture, hole.decoy ? (i === faint ? 'faint' : 'decoy') : 'true')));
  const background = quantize(image, texture, TOP_NOISE);
  return {
    width: PUZZLE_WIDTH,
    height: PUZZLE_HEIGHT,
    pieceSize: PIECE_SIZE,
    pieceY,
    answerX,
    background,
    piece,
    holes,
  };
}

function encodePng(width: number, height: number, data: Buffer, colorType: 2 | 6): Buffer {
  // PNG.sync.write reads only width, height, data and gamma; a full PNG object
  // would allocate a stream and an RGBA buffer we do not need.
  const image = { width, height, data, gamma: 0 } as unknown as PNG;
  return PNG.sync.write(image, { ...PNG_OPTIONS, colorType, inputColorType: colorType, inputHasAlpha: colorType === 6 });
}

// ---------------------------------------------------------------- randomness

interface Rng {
  /** Uniform in [0, 1). */
  unit(): number;
}

const POOL_BYTES = 64;

/** Integers from the caller's CSPRNG, unbiased (rejection sampling). */
class SecureDraw {
  readonly #random: RandomBytes;
  #pool: Buffer = Buffer.alloc(0);
  #offset = 0;

  constructor(random: RandomBytes) {
    this.#random = random;
  }

  bytes(count: number): Buffer {
    if (this.#offset + count > this.#pool.length) {
      const pool = this.#random(Math.max(POOL_BYTES, count));
      if (!Buffer.isBuffer(pool) || pool.length < count) throw new TypeError('random(n) must return a Buffer of n bytes');
      this.#pool = pool;
      this.#offset = 0;
    }
    const out = this.#pool.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return out;
  }

  uint32(): number {
    return this.bytes(4).readUInt32LE(0);
  }

  /** Uniform integer in [min, max]. */
  int(min: number, max: number): number {
    const span = max - min + 1;
    const limit = 2 ** 32 - (2 ** 32 % span);
    let value = this.uint32();
    while (value >= limit) value = this.uint32();
    return min + (value % span);
  }
}

/** Chris Doty-Humphrey's sfc32: small, fast, good enough for texture. */
class Sfc32 implements Rng {
  constructor(
    private a: number,
    private b: number,
    private c: number,
    private d: number,
  ) {}

  static fromBytes(seed: Buffer): Sfc32 {
    const rng = new Sfc32(seed.readUInt32LE(0), seed.readUInt32LE(4), seed.readUInt32LE(8), seed.readUInt32LE(12) | 1);
    for (let i = 0; i < 12; i++) rng.next();
    return rng;
  }

  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  unit(): number {
    return this.next() / 4294967296;
  }

  state(): { a: number; b: number; c: number; d: number } {
    return { a: this.a, b: this.b, c: this.c, d: this.d };
  }

  restore(state: { a: number; b: number; c: number; d: number }): void {
    ({ a: this.a, b: this.b, c: this.c, d: this.d } = state);
  }
}

function between(rng: Rng, min: number, max: number): number {
  return min + (max - min) * rng.unit();
}

function intBetween(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng.unit() * (max - min + 1));
}

/**
 * x of the decoys: as many as fit (at most MAX_DECOYS) left and right of the
 * true hole, HOLE_SPACING apart at least, the spare room spread at random.
 */
function placeDecoys(secure: SecureDraw, answerX: number): number[] {
  const fits = (from: number, to: number) => (to < from ? 0 : Math.floor((to - from) / HOLE_SPACING) + 1);
  const leftEnd = answerX - HOLE_SPACING;
  const rightStart = answerX + HOLE_SPACING;
  let left = fits(MIN_ANSWER_X, leftEnd);
  let right = fits(rightStart, MAX_ANSWER_X);
  while (left + right > MAX_DECOYS) {
    if (left > 0 && (right === 0 || secure.int(0, 1) === 0)) left--;
    else right--;
  }
  // k holes in [from, to]: random slack before each, in order.
  const spread = (k: number, from: number, to: number): number[] => {
    const slack = to - from - (k - 1) * HOLE_SPACING;
    const cuts = Array.from({ length: k }, () => secure.int(0, slack)).sort((a, b) => a - b);
    return cuts.map((cut, i) => from + cut + i * HOLE_SPACING);
  };
  return [...(left > 0 ? spread(left, MIN_ANSWER_X, leftEnd) : []), ...(right > 0 ? spread(right, rightStart, MAX_ANSWER_X) : [])];
}

// ---------------------------------------------------------------- background

type Rgb = [number, number, number];

function hsv(h: number, s: number, v: number): Rgb {
  const f = (n: number) => {
    const k = (n + h / 60) % 6;
    return 255 * (v - v * s * Math.max(0, Math.min(k, 4 - k, 1)));
  };
  return [f(5), f(3), f(1)];
}

function randomColour(rng: Rng, hue: number, valueMin: number, valueMax: number): Rgb {
  return hsv((hue + between(rng, -60, 60) + 360) % 360, between(rng, 0.25, 0.7), between(rng, valueMin, valueMax));
}

/** Bilinear blend of four corner colours plus a soft diagonal wave. */
function paintGradient(image: Float32Array, rng: Rng): void {
  const hue = between(rng, 0, 360);
  const corners = [0, 1, 2, 3].map(() => randomColour(rng, hue, 0.5, 0.92)) as [Rgb, Rgb, Rgb, Rgb];
  const waveAmp = between(rng, 8, 22);
  const fx = between(rng, 0.015, 0.06) * (rng.unit() < 0.5 ? -1 : 1);
  const fy = between(rng, 0.015, 0.06);
  const phase = between(rng, 0, Math.PI * 2);
  // sin(a + b) = sin a cos b + cos a sin b: two tables instead of a sin per pixel.
  const sinX = new Float32Array(PUZZLE_WIDTH);
  const cosX = new Float32Array(PUZZLE_WIDTH);
  for (let x = 0; x < PUZZLE_WIDTH; x++) {
    sinX[x] = Math.sin(fx * x);
    cosX[x] = Math.cos(fx * x);
  }
  const [c00, c10, c01, c11] = corners;
  for (let y = 0; y < PUZZLE_HEIGHT; y++) {
    const v = y / (PUZZLE_HEIGHT - 1);
    const sinY = Math.sin(fy * y + phase);
    const cosY = Math.cos(fy * y + phase);
    const left = [c00[0] + (c01[0] - c00[0]) * v, c00[1] + (c01[1] - c00[1]) * v, c00[2] + (c01[2] - c00[2]) * v] as const;
    const right = [c10[0] + (c11[0] - c10[0]) * v, c10[1] + (c11[1] - c10[1]) * v, c10[2] + (c11[2] - c10[2]) * v] as const;
    let i = y * PUZZLE_WIDTH * 3;
    for (let x = 0; x < PUZZLE_WIDTH; x++) {
      const u = x / (PUZZLE_WIDTH - 1);
      const wave = waveAmp * (sinX[x]! * cosY + cosX[x]! * sinY);
      image[i] = left[0] + (right[0] - left[0]) * u + wave;
      image[i + 1] = left[1] + (right[1] - left[1]) * u + wave;
      image[i + 2] = left[2] + (right[2] - left[2]) * u + wave;
      i += 3;
    }
  }
}

/** Blends `colour` into the box [x0, x1)×[y0, y1) with coverage from a signed distance (px, < 0 inside). */
function paintSdf(
  image: Float32Array,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  distance: (x: number, y: number) => number,
  colour: Rgb,
  alpha: number,
  softness: number,
): void {
  const left = Math.max(0, Math.floor(x0));
  const top = Math.max(0, Math.floor(y0));
  const right = Math.min(PUZZLE_WIDTH, Math.ceil(x1));
  const bottom = Math.min(PUZZLE_HEIGHT, Math.ceil(y1));
  for (let y = top; y < bottom; y++) {
    let i = (y * PUZZLE_WIDTH + left) * 3;
    for (let x = left; x < right; x++, i += 3) {
      const d = distance(x + 0.5, y + 0.5);
      const cover = clamp(0.5 - d / softness, 0, 1) * alpha;
      if (cover <= 0) continue;
      image[i] = image[i]! + (colour[0] - image[i]!) * cover;
      image[i + 1] = image[i + 1]! + (colour[1] - image[i + 1]!) * cover;
      image[i + 2] = image[i + 2]! + (colour[2] - image[i + 2]!) * cover;
    }
  }
}

/** Ellipses and rounded boxes, some dark: darkness alone must not point at a hole. */
function paintShapes(image: Float32Array, rng: Rng): void {
  const count = intBetween(rng, 6, 10);
  const hue = between(rng, 0, 360);
  for (let n = 0; n < count; n++) {
    const dark = n < 2 || rng.unit() < 0.25;
    const colour = dark ? randomColour(rng, hue, 0.08, 0.35) : randomColour(rng, hue, 0.45, 1);
    const alpha = dark ? between(rng, 0.3, 0.6) : between(rng, 0.25, 0.7);
    const softness = rng.unit() < 0.5 ? 1 : between(rng, 2, 10);
    const cx = between(rng, -10, PUZZLE_WIDTH + 10);
    const cy = between(rng, -10, PUZZLE_HEIGHT + 10);
    const rx = between(rng, 8, 48);
    const ry = between(rng, 8, 40);
    if (rng.unit() < 0.6) {
      const r = Math.min(rx, ry);
      // The scaled distance underestimates along the long axis, so pad the box by the ratio.
      const pad = (softness * Math.max(rx, ry)) / r + 1;
      paintSdf(image, cx - rx - pad, cy - ry - pad, cx + rx + pad, cy + ry + pad,
        (x, y) => (norm((x - cx) / rx, (y - cy) / ry) - 1) * r, colour, alpha, softness);
    } else {
      const reach = norm(rx, ry) + softness + 1;
      const angle = between(rng, 0, Math.PI);
      const cos = Math.cos(angle);
      const sin = Math.sin(angle);
      const corner = between(rng, 0, Math.min(rx, ry) * 0.5);
      paintSdf(image, cx - reach, cy - reach, cx + reach, cy + reach, (x, y) => {
        const u = (x - cx) * cos + (y - cy) * sin;
        const v = (y - cy) * cos - (x - cx) * sin;
        return roundBoxDistance(u, v, rx, ry, corner);
      }, colour, alpha, softness);
    }
  }
}

/** Thin light and dark lines across the picture: strong edges that are not holes. */
function paintLines(image: Float32Array, rng: Rng): void {
  const count = intBetween(rng, 4, 8);
  for (let n = 0; n < count; n++) {
    paintLine(image, rng, between(rng, -20, PUZZLE_WIDTH + 20), between(rng, -20, PUZZLE_HEIGHT + 20), between(rng, -20, PUZZLE_WIDTH + 20), between(rng, -20, PUZZLE_HEIGHT + 20));
  }
}

/**
 * One line across the whole picture through a point near the middle of each
 * hole's box. The piece carries the segment of the true hole's line, and that
 * line goes on at both sides of the true hole: what a person lines up. Every
 * decoy has a line through it too, so "a line passes here" says nothing.
 */
function paintHoleLines(image: Float32Array, rng: Rng, holes: readonly PuzzleHole[]): void {
  for (const hole of holes) {
    const cx = hole.x + PIECE_SIZE / 2 + between(rng, -8, 8);
    const cy = hole.y + PIECE_SIZE / 2 + between(rng, -8, 8);
    const angle = between(rng, -1.1, 1.1) + (rng.unit() < 0.5 ? 0 : Math.PI / 2);
    const reach = PUZZLE_WIDTH + PUZZLE_HEIGHT;
    paintLine(image, rng, cx - Math.cos(angle) * reach, cy - Math.sin(angle) * reach, cx + Math.cos(angle) * reach, cy + Math.sin(angle) * reach, 1.1);
  }
}

/** A line from (ax, ay) to (bx, by), light or dark, anti-aliased; at least `minHalf` px half-width. */
function paintLine(image: Float32Array, rng: Rng, ax: number, ay: number, bx: number, by: number, minHalf = 0.5): void {
  const dark = rng.unit() < 0.5;
  const colour: Rgb = dark ? hsv(between(rng, 0, 360), between(rng, 0, 0.5), between(rng, 0.05, 0.3)) : hsv(between(rng, 0, 360), between(rng, 0, 0.3), between(rng, 0.8, 1));
  const alpha = between(rng, 0.35, 0.85);
  const half = between(rng, minHalf, Math.max(minHalf, 1.6));
  const dx = bx - ax;
  const dy = by - ay;
  const length = norm(dx, dy);
  if (length < 1) return;
  const nx = -dy / length;
  const ny = dx / length;
  // Walk the long axis; touch only the few pixels across the line.
  const steps = Math.ceil(Math.max(Math.abs(dx), Math.abs(dy)));
  const reach = Math.ceil(half + 1);
  const mostlyHorizontal = Math.abs(dx) >= Math.abs(dy);
  for (let s = 0; s <= steps; s++) {
    const px = ax + (dx * s) / steps;
    const py = ay + (dy * s) / steps;
    if (px < -reach || py < -reach || px > PUZZLE_WIDTH + reach || py > PUZZLE_HEIGHT + reach) continue;
    for (let k = -reach; k <= reach; k++) {
      const x = mostlyHorizontal ? Math.round(px) : Math.round(px) + k;
      const y = mostlyHorizontal ? Math.round(py) + k : Math.round(py);
      if (x < 0 || y < 0 || x >= PUZZLE_WIDTH || y >= PUZZLE_HEIGHT) continue;
      const d = Math.abs((x + 0.5 - ax) * nx + (y + 0.5 - ay) * ny) - half;
      const cover = clamp(0.5 - d, 0, 1) * alpha;
      if (cover <= 0) continue;
      const i = (y * PUZZLE_WIDTH + x) * 3;
      image[i] = image[i]! + (colour[0] - image[i]!) * cover;
      image[i + 1] = image[i + 1]! + (colour[1] - image[i + 1]!) * cover;
      image[i + 2] = image[i + 2]! + (colour[2] - image[i + 2]!) * cover;
    }
  }
}

/**
 * Adds uniform per-channel noise in [-amplitude, amplitude] to every pixel and
 * writes the result to `out` (which may be `image`). The PRNG runs on locals
 * here: a method call per pixel made this loop the most expensive step.
 */
function addNoise(image: Float32Array, out: Float32Array | Uint8ClampedArray, rng: Sfc32, amplitude: number): void {
  const scale = (2 * amplitude + 1) / 256;
  let { a, b, c, d } = rng.state();
  for (let i = 0; i < image.length; i += 3) {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    out[i] = image[i]! + (t & 255) * scale - amplitude;
    out[i + 1] = image[i + 1]! + ((t >>> 8) & 255) * scale - amplitude;
    out[i + 2] = image[i + 2]! + ((t >>> 16) & 255) * scale - amplitude;
  }
  rng.restore({ a, b, c, d });
}

/** Final noise, then rounding and clamping into RGB bytes (a clamped array does both natively on store). */
function quantize(image: Float32Array, rng: Sfc32, amplitude: number): Buffer {
  const out = new Uint8ClampedArray(image.length);
  addNoise(image, out, rng, amplitude);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

// ---------------------------------------------------------------- shapes

type ShapeFamily = 'jigsaw' | 'blob';

/** Signed distance (px, negative inside) at each pixel centre of the PIECE_SIZE² box. */
type ShapeField = Float32Array;

function drawShape(family: ShapeFamily, rng: Rng): ShapeField {
  return family === 'jigsaw' ? jigsawShape(rng) : blobShape(rng);
}

function fieldFrom(distance: (u: number, v: number) => number): ShapeField {
  const field = new Float32Array(PIECE_SIZE * PIECE_SIZE);
  const centre = PIECE_SIZE / 2;
  for (let y = 0; y < PIECE_SIZE; y++) {
    for (let x = 0; x < PIECE_SIZE; x++) field[y * PIECE_SIZE + x] = distance(x + 0.5 - centre, y + 0.5 - centre);
  }
  return field;
}

/**
 * A rounded square with a random tab, notch or flat edge on each side (at
 * least two not flat), tabs off-centre, the whole thing slightly rotated.
 * Sizes keep every point within 27 px of the centre, inside the 56 px box.
 */
function jigsawShape(rng: Rng): ShapeField {
  const half = between(rng, 15, 17);
  const corner = between(rng, 2, 6);
  const angle = between(rng, -0.35, 0.35);
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const kinds: ('tab' | 'notch' | 'flat')[] = [0, 1, 2, 3].map(() => {
    const roll = rng.unit();
    return roll < 0.45 ? 'tab' : roll < 0.8 ? 'notch' : 'flat';
  });
  for (let side = 0; kinds.filter((kind) => kind !== 'flat').length < 2; side++) {
    if (kinds[side] === 'flat') kinds[side] = rng.unit() < 0.5 ? 'tab' : 'notch';
  }
  const tabs: [number, number, number][] = [];
  const notches: [number, number, number][] = [];
  kinds.forEach((kind, side) => {
    if (kind === 'flat') return;
    const r = between(rng, 5, 6.5);
    const along = between(rng, -0.2, 0.2) * half;
    const out = kind === 'tab' ? half + 0.35 * r : half - 0.35 * r;
    const [nx, ny] = [[1, 0], [0, 1], [-1, 0], [0, -1]][side] as [number, number];
    (kind === 'tab' ? tabs : notches).push([nx * out - ny * along, ny * out + nx * along, r]);
  });
  return fieldFrom((x, y) => {
    const u = x * cos + y * sin;
    const v = y * cos - x * sin;
    let d = roundBoxDistance(u, v, half, half, corner);
    for (const [cx, cy, r] of tabs) d = Math.min(d, norm(u - cx, v - cy) - r);
    for (const [cx, cy, r] of notches) d = Math.max(d, r - norm(u - cx, v - cy));
    return d;
  });
}

/** A round blob with 2–5 lobes: radius 17–20 px varied by random harmonics (total ≤ 0.25). */
function blobShape(rng: Rng): ShapeField {
  const base = between(rng, 17, 20);
  const harmonics: [number, number, number][] = [];
  let budget = 0.25;
  for (let k = 2; k <= 5; k++) {
    const amplitude = between(rng, 0.03, Math.min(0.12, budget));
    budget -= amplitude;
    harmonics.push([k, amplitude, between(rng, 0, Math.PI * 2)]);
  }
  return fieldFrom((x, y) => {
    const theta = Math.atan2(y, x);
    let r = 1;
    for (const [k, amplitude, phase] of harmonics) r += amplitude * Math.cos(k * theta + phase);
    return norm(x, y) - base * r;
  });
}

function roundBoxDistance(u: number, v: number, halfW: number, halfH: number, corner: number): number {
  const qx = Math.abs(u) - (halfW - corner);
  const qy = Math.abs(v) - (halfH - corner);
  return norm(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - corner;
}

// ---------------------------------------------------------------- piece and holes

/** 1 at the outline fading to 0 at `width` px inside. */
function rimWeight(d: number, width: number): number {
  return d > 0.5 ? 0 : clamp(1 + Math.min(d, 0) / width, 0, 1);
}

/** The exact cut-out of the (noisy) background with a light rim, transparent outside. */
function cutPiece(image: Float32Array, shape: ShapeField, left: number, top: number): Buffer {
  const piece = Buffer.alloc(PIECE_SIZE * PIECE_SIZE * 4);
  for (let y = 0; y < PIECE_SIZE; y++) {
    for (let x = 0; x < PIECE_SIZE; x++) {
      const d = shape[y * PIECE_SIZE + x]!;
      const cover = clamp(0.5 - d, 0, 1);
      if (cover === 0) continue;
      const rim = 0.55 * rimWeight(d, 2);
      const from = ((top + y) * PUZZLE_WIDTH + left + x) * 3;
      const to = (y * PIECE_SIZE + x) * 4;
      for (let c = 0; c < 3; c++) piece[to + c] = clampByte(image[from + c]! + (255 - image[from + c]!) * rim);
      piece[to + 3] = Math.round(cover * 255);
    }
  }
  return piece;
}

interface HoleShading {
  /** Multiplier on the colour inside the outline. */
  darkness: number;
  /** Width (px) of the outline's transition: 1 is crisp. */
  softness: number;
  /** Darkening along the inside of the outline, 0 for none. */
  stroke: number;
  /** Amplitude (px) of a ripple along the outline, `roughWaves` waves around: edge detectors lose the line, eyes do not. */
  rough: number;
  roughWaves: number;
  roughPhase: number;
  /** Light rim along the outline, 0 for none. */
  rim: number;
  tint: Rgb;
}

/**
 * The decoys are drawn to look more like a gap to a machine than the true hole
 * does: darker, with a crisp edge and a dark stroke along it. The true hole is
 * lighter, its edge soft and rippled (a Sobel or Canny map loses the outline;
 * an eye still sees the shape). One decoy (`faint`) is as light and soft as
 * the true hole, unrippled, so "pick the faintest hole" is a coin toss. A person does not judge holes by such
 * differences; they look for the hole the piece's picture continues.
 */
function drawHoleShading(rng: Rng, kind: 'true' | 'decoy' | 'faint'): HoleShading {
  const decoy = kind === 'decoy';
  return {
    darkness: decoy ? between(rng, 0.4, 0.54) : between(rng, 0.6, 0.72),
    softness: decoy ? 1 : between(rng, 2, 3.5),
    stroke: decoy ? between(rng, 0.15, 0.35) : 0,
    rough: kind === 'true' ? between(rng, 0.55, 0.8) : 0,
    roughWaves: intBetween(rng, 40, 56),
    roughPhase: between(rng, 0, 2 * Math.PI),
    rim: decoy ? between(rng, 0, 0.12) : between(rng, 0, 0.3),
    tint: [between(rng, -8, 8), between(rng, -8, 8), between(rng, -8, 8)],
  };
}

/**
 * What a hole shows of the picture under it: its mean colour, lit by a gentle
 * ramp of (gx, gy) levels per px. The hole keeps the colour of its surroundings (a
 * person sees the picture continue into the shadow) and none of the shapes a
 * template could match.
 */
function smoothFill(image: Float32Array, left: number, top: number, gx: number, gy: number): Float32Array {
  let red = 0;
  let green = 0;
  let blue = 0;
  for (let y = 0; y < PIECE_SIZE; y++) {
    let i = ((top + y) * PUZZLE_WIDTH + left) * 3;
    for (let x = 0; x < PIECE_SIZE; x++, i += 3) {
      red += image[i]!;
      green += image[i + 1]!;
      blue += image[i + 2]!;
    }
  }
  const n = PIECE_SIZE * PIECE_SIZE;
  const out = new Float32Array(n * 3);
  for (let y = 0; y < PIECE_SIZE; y++) {
    for (let x = 0; x < PIECE_SIZE; x++) {
      const ramp = (x - PIECE_SIZE / 2) * gx + (y - PIECE_SIZE / 2) * gy;
      const o = (y * PIECE_SIZE + x) * 3;
      out[o] = red / n + ramp;
      out[o + 1] = green / n + ramp;
      out[o + 2] = blue / n + ramp;
    }
  }
  return out;
}

/** Least-squares slope (grey levels per px, x and y) of the PIECE_SIZE² box at (left, top). */
function boxSlope(image: Float32Array, left: number, top: number): [number, number] {
  let sx = 0;
  let sy = 0;
  let ss = 0;
  const c = (PIECE_SIZE - 1) / 2;
  for (let y = 0; y < PIECE_SIZE; y++) {
    let i = ((top + y) * PUZZLE_WIDTH + left) * 3;
    for (let x = 0; x < PIECE_SIZE; x++, i += 3) {
      const luma = 0.299 * image[i]! + 0.587 * image[i + 1]! + 0.114 * image[i + 2]!;
      sx += (x - c) * luma;
      sy += (y - c) * luma;
    }
  }
  for (let k = 0; k < PIECE_SIZE; k++) ss += (k - c) ** 2;
  ss *= PIECE_SIZE;
  return [sx / ss, sy / ss];
}

/** Adds uniform noise in [-amplitude, amplitude] to every channel of `content`, in place. */
function grainy(content: Float32Array, rng: Rng, amplitude: number): Float32Array {
  for (let i = 0; i < content.length; i++) content[i] = content[i]! + (2 * rng.unit() - 1) * amplitude;
  return content;
}

/** Replaces the inside of `shape` at (left, top) with `content`, shaded. */
function shadeHole(image: Float32Array, shape: ShapeField, left: number, top: number, content: Float32Array, shading: HoleShading): void {
  const [tintR, tintG, tintB] = shading.tint;
  const { darkness, softness, rough, roughWaves, roughPhase } = shading;
  const centre = PIECE_SIZE / 2;
  for (let y = 0; y < PIECE_SIZE; y++) {
    for (let x = 0; x < PIECE_SIZE; x++) {
      let d = shape[y * PIECE_SIZE + x]!;
      if (rough > 0 && d > -5 && d < 5) d += rough * Math.sin(roughWaves * Math.atan2(y + 0.5 - centre, x + 0.5 - centre) + roughPhase);
      const cover = clamp(0.5 - d / softness, 0, 1);
      if (cover === 0) continue;
      const rim = shading.rim * rimWeight(d, 1.5);
      const stroke = 1 - shading.stroke * rimWeight(d, 1.2);
      const i = ((top + y) * PUZZLE_WIDTH + left + x) * 3;
      const s = (y * PIECE_SIZE + x) * 3;
      for (let c = 0; c < 3; c++) {
        const original = image[i + c]!;
        let shaded = (content[s + c]! * darkness + (c === 0 ? tintR : c === 1 ? tintG : tintB)) * stroke;
        shaded += (255 - shaded) * rim;
        image[i + c] = original + (shaded - original) * cover;
      }
    }
  }
}

/** Math.hypot is several times slower and its overflow care is not needed here. */
function norm(x: number, y: number): number {
  return Math.sqrt(x * x + y * y);
}

function clamp(value: number, min: number, max: number): number {
  return value < min ? min : value > max ? max : value;
}

function clampByte(value: number): number {
  return value <= 0 ? 0 : value >= 255 ? 255 : Math.round(value);
}

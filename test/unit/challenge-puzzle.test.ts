import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { seededBytes } from '../support/puzzles.js';
import { locateGap } from '../support/slider-solver.js';
import {
  generateSliderPuzzle,
  MAX_ANSWER_X,
  MAX_PIECE_Y,
  MIN_ANSWER_X,
  MIN_PIECE_Y,
  renderSliderPuzzle,
  type SliderPuzzle,
} from '../../server/engine/challenges/slider/puzzle.js';

function luminance(puzzle: SliderPuzzle): Float32Array {
  const image = PNG.sync.read(puzzle.background);
  const out = new Float32Array(puzzle.width * puzzle.height);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * image.data[i * 4]! + 0.587 * image.data[i * 4 + 1]! + 0.114 * image.data[i * 4 + 2]!;
  return out;
}

function pieceAlpha(puzzle: SliderPuzzle): Float32Array {
  const piece = PNG.sync.read(puzzle.piece);
  const alpha = new Float32Array(puzzle.pieceSize * puzzle.pieceSize);
  for (let i = 0; i < alpha.length; i++) alpha[i] = piece.data[i * 4 + 3]! / 255;
  return alpha;
}

/**
 * Naive solvers, given what the page shows (the background, the piece's row,
 * its size): the column whose band is darkest against the rest of the column,
 * and the column with the strongest horizontal edges in the band. Each hits
 * when its column falls on the true hole.
 */
function naiveSolvers(puzzle: SliderPuzzle): { darkest: boolean; edge: boolean } {
  const { width, height, pieceSize, pieceY, answerX } = puzzle;
  const lum = luminance(puzzle);
  let darkestX = pieceSize;
  let darkest = -Infinity;
  let edgeX = pieceSize;
  let edge = -Infinity;
  for (let x = pieceSize; x < width - 1; x++) {
    let inBand = 0;
    let outBand = 0;
    let gradient = 0;
    for (let y = 0; y < height; y++) {
      const v = lum[y * width + x]!;
      if (y >= pieceY && y < pieceY + pieceSize) {
        inBand += v;
        gradient += Math.abs(lum[y * width + x + 1]! - lum[y * width + x - 1]!);
      } else {
        outBand += v;
      }
    }
    const darkness = outBand / (height - pieceSize) - inBand / pieceSize;
    if (darkness > darkest) [darkest, darkestX] = [darkness, x];
    if (gradient > edge) [edge, edgeX] = [gradient, x];
  }
  return {
    darkest: darkestX >= answerX && darkestX < answerX + pieceSize,
    edge: edgeX >= answerX - 2 && edgeX <= answerX + pieceSize + 1,
  };
}

/** A solver that uses the piece's outline: correlation of its alpha with the band, per x. */
function shapeMatcher(puzzle: SliderPuzzle): number {
  const { width, pieceSize, pieceY } = puzzle;
  const lum = luminance(puzzle);
  const alpha = pieceAlpha(puzzle);
  const n = pieceSize * pieceSize;
  const alphaMean = alpha.reduce((sum, a) => sum + a, 0) / n;
  let bestX = 0;
  let best = -Infinity;
  for (let x = pieceSize; x + pieceSize <= width; x++) {
    let sum = 0;
    let squares = 0;
    let cross = 0;
    for (let y = 0; y < pieceSize; y++) {
      for (let i = 0; i < pieceSize; i++) {
        const v = lum[(pieceY + y) * width + x + i]!;
        sum += v;
        squares += v * v;
        cross += (alpha[y * pieceSize + i]! - alphaMean) * v;
      }
    }
    const sd = Math.sqrt(squares / n - (sum / n) ** 2) + 1e-9;
    // Dark where the piece is opaque: negative correlation.
    const score = -cross / n / sd;
    if (score > best) [best, bestX] = [score, x];
  }
  return bestX;
}

describe('slider puzzle images', () => {
  it('encodes a 320×160 RGB background and an RGBA piece, with the answer in bounds', () => {
    for (let i = 0; i < 20; i++) {
      const puzzle = generateSliderPuzzle(seededBytes(`bounds-${i}`));
      const background = PNG.sync.read(puzzle.background);
      const piece = PNG.sync.read(puzzle.piece);
      expect([background.width, background.height]).toEqual([puzzle.width, puzzle.height]);
      expect([piece.width, piece.height]).toEqual([puzzle.pieceSize, puzzle.pieceSize]);
      expect(puzzle.background.readUInt8(25)).toBe(2); // IHDR colour type: RGB
      expect(puzzle.piece.readUInt8(25)).toBe(6); // RGBA
      expect(puzzle.answerX).toBeGreaterThanOrEqual(MIN_ANSWER_X);
      expect(puzzle.answerX).toBeLessThanOrEqual(MAX_ANSWER_X);
      expect(puzzle.answerX + puzzle.pieceSize).toBeLessThanOrEqual(puzzle.width);
      expect(puzzle.pieceY).toBeGreaterThanOrEqual(MIN_PIECE_Y);
      expect(puzzle.pieceY).toBeLessThanOrEqual(MAX_PIECE_Y);
      expect(puzzle.pieceY + puzzle.pieceSize).toBeLessThanOrEqual(puzzle.height);
      // The piece must not start over its own hole.
      expect(puzzle.answerX).toBeGreaterThanOrEqual(puzzle.pieceSize);
    }
  });

  it('uses crypto.randomBytes by default and differs every time', () => {
    const a = generateSliderPuzzle();
    const b = generateSliderPuzzle();
    expect(a.background.equals(b.background)).toBe(false);
    expect(a.piece.equals(b.piece)).toBe(false);
  });

  it('is a pure function of the random bytes', () => {
    const a = generateSliderPuzzle(seededBytes('same'));
    const b = generateSliderPuzzle(seededBytes('same'));
    expect(a.background.equals(b.background)).toBe(true);
    expect(a.piece.equals(b.piece)).toBe(true);
    expect(a.answerX).toBe(b.answerX);
  });

  it('refuses a random source that returns too few bytes', () => {
    expect(() => generateSliderPuzzle(() => Buffer.alloc(2))).toThrow(TypeError);
  });

  it('cuts a piece of a different shape every time: opaque inside, transparent outside, anti-aliased edge', () => {
    const masks = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const puzzle = generateSliderPuzzle(seededBytes(`shape-${i}`));
      const alpha = pieceAlpha(puzzle);
      const size = puzzle.pieceSize;
      const centre = Math.floor(size / 2) * size + Math.floor(size / 2);
      expect(alpha[centre]).toBe(1);
      for (const corner of [0, size - 1, size * (size - 1), size * size - 1]) expect(alpha[corner]).toBe(0);
      // Nothing touches the box edge: the outline fits with room to spare.
      for (let k = 0; k < size; k++) {
        expect(alpha[k]).toBe(0);
        expect(alpha[k * size]).toBe(0);
      }
      expect(alpha.some((a) => a > 0 && a < 1)).toBe(true);
      masks.add(Buffer.from(alpha.map((a) => (a > 0.5 ? 1 : 0))).toString('base64'));
    }
    expect(masks.size).toBe(30);
  });

  it('shades the hole where the piece was cut: the background there is darker than the piece', () => {
    for (let i = 0; i < 20; i++) {
      const raster = renderSliderPuzzle(seededBytes(`hole-${i}`));
      const { pieceSize, answerX, pieceY, width } = raster;
      let pieceSum = 0;
      let holeSum = 0;
      let count = 0;
      for (let y = 0; y < pieceSize; y++) {
        for (let x = 0; x < pieceSize; x++) {
          const p = (y * pieceSize + x) * 4;
          if (raster.piece[p + 3] !== 255) continue;
          const b = ((pieceY + y) * width + answerX + x) * 3;
          pieceSum += raster.piece[p]! + raster.piece[p + 1]! + raster.piece[p + 2]!;
          holeSum += raster.background[b]! + raster.background[b + 1]! + raster.background[b + 2]!;
          count++;
        }
      }
      expect(count).toBeGreaterThan(600);
      expect(holeSum / pieceSum).toBeLessThan(0.75);
    }
  });

  it('adds two or three decoy holes on the piece\'s row, never overlapping', () => {
    const decoyCounts = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const raster = renderSliderPuzzle(seededBytes(`decoys-${i}`));
      const real = raster.holes.filter((hole) => !hole.decoy);
      const decoys = raster.holes.filter((hole) => hole.decoy);
      expect(real).toEqual([{ x: raster.answerX, y: raster.pieceY, decoy: false }]);
      expect(decoys.length).toBeGreaterThanOrEqual(2);
      expect(decoys.length).toBeLessThanOrEqual(3);
      decoyCounts.add(decoys.length);
      for (const decoy of decoys) {
        expect(decoy.x).toBeGreaterThanOrEqual(MIN_ANSWER_X);
        expect(decoy.x).toBeLessThanOrEqual(MAX_ANSWER_X);
        // The row says nothing: every hole is where the piece slides.
        expect(decoy.y).toBe(raster.pieceY);
      }
      const xs = raster.holes.map((hole) => hole.x).sort((a, b) => a - b);
      for (let k = 1; k < xs.length; k++) expect(xs[k]! - xs[k - 1]!).toBeGreaterThanOrEqual(raster.pieceSize);
    }
    expect(decoyCounts).toEqual(new Set([2, 3]));
  });

  it('defeats naive gap finders: the darkest or edgiest column lands on the answer well under half the time', () => {
    const trials = 50;
    let darkestHits = 0;
    let edgeHits = 0;
    for (let i = 0; i < trials; i++) {
      const puzzle = generateSliderPuzzle(seededBytes(`naive-${i}`));
      const { darkest, edge } = naiveSolvers(puzzle);
      if (darkest) darkestHits++;
      if (edge) edgeHits++;
    }
    expect(darkestHits / trials).toBeLessThanOrEqual(0.5);
    expect(edgeHits / trials).toBeLessThanOrEqual(0.5);
  });

  it('the outline says nothing: every hole has the piece\'s outline, and correlating it rarely lands on the true hole', () => {
    const trials = 40;
    let hits = 0;
    for (let i = 0; i < trials; i++) {
      const puzzle = generateSliderPuzzle(seededBytes(`shape-match-${i}`));
      if (Math.abs(shapeMatcher(puzzle) - puzzle.answerX) <= 2) hits++;
    }
    expect(hits / trials).toBeLessThanOrEqual(0.1);
  });

  it('keeps the edge, template and shading finders of test/support/slider-solver.ts off the true hole', () => {
    // The same finders the end-to-end solver test runs over HTTP, on the images alone.
    const trials = 60;
    const hits: Record<string, number> = {};
    for (let i = 0; i < trials; i++) {
      const puzzle = generateSliderPuzzle(seededBytes(`finders-${i}`));
      const guess = locateGap(puzzle.background, puzzle.piece, puzzle.pieceY);
      for (const [finder, x] of Object.entries(guess.x)) if (Math.abs(x - puzzle.answerX) <= 4) hits[finder] = (hits[finder] ?? 0) + 1;
    }
    for (const finder of ['edge', 'canny', 'template', 'darkness', 'best'] as const) expect((hits[finder] ?? 0) / trials, finder).toBeLessThanOrEqual(0.1);
  });
});

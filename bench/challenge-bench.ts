/**
 * Part of `npm run bench` (or `npx tsx bench/challenge-bench.ts`): what the slider challenge costs on this
 * machine, and how well its images hold up against naive solvers.
 *
 *   1. generateSliderPuzzle (draw + PNG encode), p50/p95 over 200 runs, with
 *      the draw alone for comparison, and the PNG sizes.
 *   2. Hit rates over 200 fresh puzzles of two naive gap finders (darkest
 *      column, strongest edge column, both told the piece's row) and of a
 *      solver that correlates the piece's outline (what a person does).
 *   3. checkSliderAnswer on a 120-point track, µs per call.
 *
 * Exits 0 whenever it ran; prints the load average because a busy machine
 * moves the latencies.
 */
import { cpus, loadavg } from 'node:os';
import { PNG } from 'pngjs';
import { generateSliderPuzzle, renderSliderPuzzle, type SliderPuzzle } from '../server/challenges/slider/puzzle.js';
import { checkSliderAnswer, type TrackPoint } from '../server/challenges/slider/track.js';

const RUNS = 200;
const WARMUP = 30;
const SOLVER_PUZZLES = 200;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function timeRuns(runs: number, op: () => void): { p50: number; p95: number; max: number } {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    op();
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), max: times[times.length - 1]! };
}

function luminance(puzzle: SliderPuzzle): Float32Array {
  const image = PNG.sync.read(puzzle.background);
  const out = new Float32Array(puzzle.width * puzzle.height);
  for (let i = 0; i < out.length; i++) out[i] = 0.299 * image.data[i * 4]! + 0.587 * image.data[i * 4 + 1]! + 0.114 * image.data[i * 4 + 2]!;
  return out;
}

/** The same solvers as test/challenge-puzzle.test.ts. */
function solve(puzzle: SliderPuzzle): { darkest: boolean; edge: boolean; shape: boolean } {
  const { width, height, pieceSize: size, pieceY, answerX } = puzzle;
  const lum = luminance(puzzle);
  let darkestX = size;
  let darkest = -Infinity;
  let edgeX = size;
  let edge = -Infinity;
  for (let x = size; x < width - 1; x++) {
    let inBand = 0;
    let outBand = 0;
    let gradient = 0;
    for (let y = 0; y < height; y++) {
      const v = lum[y * width + x]!;
      if (y >= pieceY && y < pieceY + size) {
        inBand += v;
        gradient += Math.abs(lum[y * width + x + 1]! - lum[y * width + x - 1]!);
      } else {
        outBand += v;
      }
    }
    const darkness = outBand / (height - size) - inBand / size;
    if (darkness > darkest) [darkest, darkestX] = [darkness, x];
    if (gradient > edge) [edge, edgeX] = [gradient, x];
  }

  const piece = PNG.sync.read(puzzle.piece);
  const n = size * size;
  const alpha = new Float32Array(n);
  for (let i = 0; i < n; i++) alpha[i] = piece.data[i * 4 + 3]! / 255;
  const alphaMean = alpha.reduce((sum, a) => sum + a, 0) / n;
  let shapeX = 0;
  let best = -Infinity;
  for (let x = size; x + size <= width; x++) {
    let sum = 0;
    let squares = 0;
    let cross = 0;
    for (let y = 0; y < size; y++) {
      for (let i = 0; i < size; i++) {
        const v = lum[(pieceY + y) * width + x + i]!;
        sum += v;
        squares += v * v;
        cross += (alpha[y * size + i]! - alphaMean) * v;
      }
    }
    const score = -cross / n / (Math.sqrt(squares / n - (sum / n) ** 2) + 1e-9);
    if (score > best) [best, shapeX] = [score, x];
  }
  return {
    darkest: darkestX >= answerX && darkestX < answerX + size,
    edge: edgeX >= answerX - 2 && edgeX <= answerX + size + 1,
    shape: Math.abs(shapeX - answerX) <= 2,
  };
}

/** A person-like 120-point drag to x = 180: minimum-jerk with noise and jittered 16.7 ms frames. */
function sampleTrack(): { x: number; track: TrackPoint[] } {
  const track: TrackPoint[] = [[0, 0, 0]];
  let t = 12;
  for (let i = 1; i < 119; i++) {
    const tau = i / 118;
    const x = Math.round(180 * tau ** 3 * (10 - 15 * tau + 6 * tau ** 2) + (Math.random() - 0.5));
    track.push([Math.round(t * 10) / 10, x, Math.round(3 * tau + (Math.random() - 0.5) * 2)]);
    t += 16.7 + (Math.random() - 0.5) * 2;
  }
  track.push([t + 150, 180, 3]);
  return { x: 180, track };
}

function main(): void {
  console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

  for (let i = 0; i < WARMUP; i++) generateSliderPuzzle();
  let backgroundBytes = 0;
  let pieceBytes = 0;
  const generate = timeRuns(RUNS, () => {
    const puzzle = generateSliderPuzzle();
    backgroundBytes += puzzle.background.length;
    pieceBytes += puzzle.piece.length;
  });
  const render = timeRuns(RUNS, () => renderSliderPuzzle());
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  console.log(`\ngenerateSliderPuzzle × ${RUNS}: p50 ${ms(generate.p50)}  p95 ${ms(generate.p95)}  max ${ms(generate.max)}  (target p50 ≤ 10 ms: ${generate.p50 <= 10 ? 'PASS' : 'FAIL'})`);
  console.log(`  draw only:            p50 ${ms(render.p50)}  p95 ${ms(render.p95)}`);
  console.log(`  PNG sizes: background ${(backgroundBytes / RUNS / 1024).toFixed(1)} KB, piece ${(pieceBytes / RUNS / 1024).toFixed(1)} KB (mean)`);

  const hits = { darkest: 0, edge: 0, shape: 0 };
  for (let i = 0; i < SOLVER_PUZZLES; i++) {
    const result = solve(generateSliderPuzzle());
    for (const key of Object.keys(hits) as (keyof typeof hits)[]) if (result[key]) hits[key]++;
  }
  const rate = (n: number) => `${((100 * n) / SOLVER_PUZZLES).toFixed(1)} %`;
  console.log(`\nsolver hit rates over ${SOLVER_PUZZLES} puzzles:`);
  console.log(`  darkest column in the piece's band:   ${rate(hits.darkest)}`);
  console.log(`  strongest edge column in the band:    ${rate(hits.edge)}`);
  console.log(`  piece-outline correlation (shape):    ${rate(hits.shape)}  (a person's strategy; the track checks are the next layer)`);

  const answer = sampleTrack();
  const verdict = checkSliderAnswer(answer, { answerX: 180 });
  for (let i = 0; i < 2000; i++) checkSliderAnswer(answer, { answerX: 180 });
  const calls = 20_000;
  const started = performance.now();
  for (let i = 0; i < calls; i++) checkSliderAnswer(answer, { answerX: 180 });
  const usPerCall = ((performance.now() - started) * 1000) / calls;
  console.log(`\ncheckSliderAnswer, ${answer.track.length}-point track: ${usPerCall.toFixed(1)} µs per call (result ${JSON.stringify(verdict)})`);
}

main();

/**
 * Part of `npm run bench` (or `npx tsx bench/challenge-bench.ts`): what the slider challenge costs on this
 * machine, and how well it holds up against the solver an attacker writes.
 *
 *   1. generateSliderPuzzle (draw + PNG encode), p50/p95 over 200 runs, with
 *      the draw alone for comparison, and the PNG sizes; the proof of work's
 *      issue (server) and solve (the SDK's pure-JS solver) times; the
 *      mini-program's device-enrollment solver on a production-size puzzle
 *      (one PBKDF2 derivation a task): its time and the longest event-loop
 *      stall meanwhile.
 *   2. Hit rates over 200 fresh puzzles of each gap finder of
 *      test/support/slider-solver.ts (edge and Canny NCC, template, darkness,
 *      their best-of; rim continuity, the person's cue; and "the faintest
 *      hole", built for this generator), on the images alone.
 *   3. The whole attack over HTTP on 100 fresh challenges (a RiskGate app in
 *      process, crypto-random puzzles): first-try pass rate.
 *   4. checkSliderAnswer on a 120-point track, µs per call.
 *
 * Exits 0 whenever it ran; prints the load average because a busy machine
 * moves the latencies.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { solvePow } from '../client/core/challenge/pow.js';
import * as noble from '../client/miniprogram/src/crypto.js';
import { solveInSlices } from '../client/miniprogram/src/enrollment.js';
import { MemoryHotState } from '../server/adapters/hot-state/memory.js';
import type { AppSettings } from '../server/config/config.js';
import { EnrollmentService } from '../server/services/enrollment.js';
import { PowIssuer } from '../server/engine/challenges/slider/pow.js';
import { generateSliderPuzzle, renderSliderPuzzle } from '../server/engine/challenges/slider/puzzle.js';
import { checkSliderAnswer, type TrackPoint } from '../server/engine/challenges/slider/track.js';
import { APP_KEY, testApp } from '../test/support/app.js';
import { attackOnce, FINDERS, locateGap } from '../test/support/slider-solver.js';
import { seeded } from '../test/support/tracks.js';
import { quietLabel, quietSince } from './cpu-window.js';

const RUNS = 200;
const WARMUP = 30;
const SOLVER_PUZZLES = 200;
const ATTACK_CHALLENGES = 100;

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

async function main(): Promise<void> {
  const quiet = quietSince();
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

  const issuer = new PowIssuer(Buffer.alloc(32, 1), 20_000);
  for (let i = 0; i < 20; i++) await issuer.issue(Date.now() + 60_000);
  const issueTimes: number[] = [];
  const solveTimes: number[] = [];
  for (let i = 0; i < 50; i++) {
    let started = performance.now();
    const { view } = await issuer.issue(Date.now() + 60_000);
    issueTimes.push(performance.now() - started);
    started = performance.now();
    await solvePow(view, sha256, (next) => next());
    solveTimes.push(performance.now() - started);
  }
  issueTimes.sort((a, b) => a - b);
  solveTimes.sort((a, b) => a - b);
  console.log(`  proof of work: issue p50 ${ms(percentile(issueTimes, 0.5))}; SDK solve (pure-JS SHA-256, counter ≤ 20,000) p50 ${ms(percentile(solveTimes, 0.5))}  p95 ${ms(percentile(solveTimes, 0.95))}`);

  // The mini-program's enrollment solver (test/service/enrollment.miniprogram.test.ts checks that it yields after every derivation).
  const enrollment = new EnrollmentService({ hotState: new MemoryHotState(), secret: randomBytes(32), log: { warn() {} } });
  const enrollmentPuzzle = await enrollment.puzzle({ id: 'bench' } as AppSettings, '198.51.100.4');
  let lastTick = performance.now();
  let longestStall = 0;
  const ticker = setInterval(() => {
    const now = performance.now();
    longestStall = Math.max(longestStall, now - lastTick);
    lastTick = now;
  }, 1);
  const solveStarted = performance.now();
  const [enrollmentCounter] = await solveInSlices(noble, enrollmentPuzzle);
  const solveMs = performance.now() - solveStarted;
  clearInterval(ticker);
  const derivationStarted = performance.now();
  noble.pbkdf2Sha256(new Uint8Array(20), new Uint8Array(16), enrollmentPuzzle.cost);
  const derivationMs = performance.now() - derivationStarted;
  console.log(
    `  mini-program enrollment solver (noble PBKDF2, cost ${enrollmentPuzzle.cost}, one derivation a task): counter ${enrollmentCounter} in ${ms(solveMs)}; ` +
      `one derivation ${ms(derivationMs)}; longest event-loop stall ${ms(longestStall)} (bound 200 ms: ${longestStall < 200 ? 'PASS' : 'FAIL'})`,
  );

  const hits: Record<string, number> = {};
  for (let i = 0; i < SOLVER_PUZZLES; i++) {
    const puzzle = generateSliderPuzzle();
    const guess = locateGap(puzzle.background, puzzle.piece, puzzle.pieceY);
    for (const finder of FINDERS) if (Math.abs(guess.x[finder] - puzzle.answerX) <= 4) hits[finder] = (hits[finder] ?? 0) + 1;
  }
  const rate = (n: number, of: number) => `${((100 * n) / of).toFixed(1)} %`;
  console.log(`\ngap finders on the true hole (±4 px) over ${SOLVER_PUZZLES} puzzles, images alone:`);
  for (const finder of FINDERS) console.log(`  ${finder.padEnd(11)} ${rate(hits[finder] ?? 0, SOLVER_PUZZLES)}${finder === 'continuity' ? '  (the person\'s cue: rim colours continue; not stopped by the images)' : finder === 'faintest' ? '  (built for this generator: the least dark of the darkest holes)' : ''}`);

  const t = await testApp({ challenges: { starts_per_ip_minute: 1_000_000, slider: { answers_per_network: 1_000_000, answers_per_device: 1_000_000 } } });
  try {
    for (const finder of ['best', 'continuity'] as const) {
      let passed = 0;
      for (let i = 0; i < ATTACK_CHALLENGES; i++) {
        const result = await attackOnce({ app: t.app, appKey: APP_KEY, origin: 'https://shop.example', ip: `10.${i % 250}.${i >> 8}.1`, finder, rand: seeded(i + 1) });
        if (result.passed) passed++;
      }
      console.log(`solver over HTTP (${finder === 'best' ? 'best of edge, Canny, template, darkness' : 'rim continuity'}; PoW solved; person-like track): ${rate(passed, ATTACK_CHALLENGES)} of ${ATTACK_CHALLENGES} fresh challenges passed on the first try${finder === 'best' ? ` (target ≤ 5 %: ${passed <= 5 ? 'PASS' : 'FAIL'})` : ''}`);
    }
  } finally {
    await t.close();
  }

  const answer = sampleTrack();
  const verdict = checkSliderAnswer(answer, { answerX: 180 });
  for (let i = 0; i < 2000; i++) checkSliderAnswer(answer, { answerX: 180 });
  const calls = 20_000;
  const started = performance.now();
  for (let i = 0; i < calls; i++) checkSliderAnswer(answer, { answerX: 180 });
  const usPerCall = ((performance.now() - started) * 1000) / calls;
  console.log(`\ncheckSliderAnswer, ${answer.track.length}-point track: ${usPerCall.toFixed(1)} µs per call (result ${JSON.stringify(verdict)})`);
  console.log(`Whole script: ${quietLabel(quiet())}`);
}

await main();

/**
 * How hard a device enrollment puzzle is, from how many puzzles the client's
 * network (IP prefix) asked for lately.
 *
 * A puzzle is ALTCHA's proof of work v2 (PBKDF2/SHA-256, deterministic mode):
 * the server picks a secret counter, the client tries counters 0, 1, 2 … each
 * costing one PBKDF2 of `cost` iterations until one gives the signed key
 * prefix. The counter is drawn uniformly from [D/2, 3D/2], so a puzzle's
 * expected work is D key derivations, D × cost iterations: `difficulty` below
 * is that expected number of iterations.
 *
 * A household's few devices a day stay at the base; beyond a free allowance
 * per window the difficulty doubles every 20 "excess" puzzles, where a puzzle
 * counts once over the day, 3× over the hour and 10× over five minutes (a
 * burst is the surest sign of a farm), up to a cap.
 */

/** PBKDF2 iterations of one key derivation (one counter tried). */
export const PUZZLE_COST = 1000;
/** Expected key derivations of a base puzzle (about 100–200 ms in headless Chromium on a busy 2-core machine, with the round trips). */
export const BASE_DERIVATIONS = 48;
/** Puzzles per prefix free of any increase, per window. */
export const FREE_PER_WINDOW = { '5m': 4, '1h': 6, '24h': 12 } as const;
/** Most a puzzle can cost, as a multiple of the base. */
export const MAX_MULTIPLIER = 1024;
/** Excess puzzles per doubling. */
const PER_DOUBLING = 20;

export interface PrefixCounts {
  /** Puzzles asked for from the prefix in the last 5 minutes, hour and day, this one included. */
  '5m': number;
  '1h': number;
  '24h': number;
}

/** The multiple of the base work for a prefix with these counts (1 … MAX_MULTIPLIER). */
export function multiplierFor(counts: PrefixCounts, cap = MAX_MULTIPLIER): number {
  const excess = Math.max(
    0,
    counts['24h'] - FREE_PER_WINDOW['24h'],
    3 * (counts['1h'] - FREE_PER_WINDOW['1h']),
    10 * (counts['5m'] - FREE_PER_WINDOW['5m']),
  );
  return Math.min(cap, 2 ** (excess / PER_DOUBLING));
}

export interface PuzzleShape {
  /** Expected key derivations (D). */
  derivations: number;
  /** Expected PBKDF2 iterations: derivations × cost. */
  difficulty: number;
  cost: number;
}

export function puzzleShape(counts: PrefixCounts, base = BASE_DERIVATIONS, cost = PUZZLE_COST, cap = MAX_MULTIPLIER): PuzzleShape {
  const derivations = Math.max(2, Math.round(base * multiplierFor(counts, cap)));
  return { derivations, difficulty: derivations * cost, cost };
}

/** Seeded slider puzzles for tests (unit and service alike). */
import { createHash } from 'node:crypto';
import type { RandomBytes } from '../../server/engine/challenges/slider/puzzle.js';

/** Deterministic bytes (SHA-256 in counter mode) for the puzzle generator, so every run sees the same puzzles. */
export function seededBytes(seed: string): RandomBytes {
  let counter = 0;
  return (size) => {
    const chunks: Buffer[] = [];
    let length = 0;
    while (length < size) {
      const block = createHash('sha256').update(`${seed}:${counter++}`).digest();
      chunks.push(block);
      length += block.length;
    }
    return Buffer.concat(chunks).subarray(0, size);
  };
}

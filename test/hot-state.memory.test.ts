import { describe, expect, it } from 'vitest';
import type { LRUCache } from 'lru-cache';
import { MemoryHotState } from '../server/state/memory.js';
import { describeHotState } from './hot-state.contract.js';

/** The store's LRU caches, one per kind of entry (private fields, read here for the TTL check only). */
const CACHES = ['values', 'counters', 'sets', 'seen'] as const;

describeHotState('MemoryHotState', async () => {
  const state = new MemoryHotState();
  return {
    state,
    async keyTtls() {
      const ttls = new Map<string, number>();
      const caches = state as unknown as Record<(typeof CACHES)[number], LRUCache<string, {}>>;
      for (const name of CACHES) {
        for (const key of caches[name].keys()) ttls.set(`${name}:${key}`, caches[name].getRemainingTTL(key));
      }
      for (const [key, until] of (state as unknown as { claims: Map<string, number> }).claims) ttls.set(`claims:${key}`, until - Date.now());
      return ttls;
    },
    dispose: () => state.close(),
  };
});

describe('MemoryHotState bounds', () => {
  it('never evicts a live claim to make room: a full store refuses new claims instead', async () => {
    let now = 1_000_000;
    const state = new MemoryHotState({ maxKeys: 1000, now: () => now });
    for (let i = 0; i < 1000; i++) expect(await state.claimOnce(`sessu:${i}`, 60_000)).toBe(true);
    // Flooding other keys cannot push the old claims out.
    for (let i = 0; i < 5000; i++) await state.put(`flood:${i}`, 'x', 60_000);
    expect(await state.claimOnce('sessu:0', 60_000)).toBe(false);
    expect(await state.claimOnce('sessu:new', 60_000)).toBe(false);
    // Once claims expire, their room is reused.
    now += 60_001;
    expect(await state.claimOnce('sessu:new', 60_000)).toBe(true);
    expect(await state.claimOnce('sessu:0', 60_000)).toBe(true);
  });
});

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
      return ttls;
    },
    dispose: () => state.close(),
  };
});

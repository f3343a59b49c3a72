import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryTokenStore } from '../../src/stores/memory-token-store.js';
import { INITIAL_GENERATION } from '../../src/stores/token-store.js';
import { contractPolicy, tokenStoreContract, uniqueUserId } from './token-store-contract.js';

await tokenStoreContract('MemoryTokenStore', async (policy) => {
  const store = new MemoryTokenStore(policy);
  return { store, cleanup: () => store.close() };
});

describe('MemoryTokenStore generations', () => {
  it('a fenced user goes back to the initial generation SESSION_MAX_TTL after the last fence', async () => {
    const store = new MemoryTokenStore(contractPolicy);
    try {
      const userId = uniqueUserId();
      const t0 = Date.now();
      await store.revokeUserSessions(userId, t0);
      const fenced = await store.generation(userId, t0 + contractPolicy.maxTtlMs - 1);
      assert.notEqual(fenced, INITIAL_GENERATION);
      assert.equal(await store.generation(userId, t0 + contractPolicy.maxTtlMs), INITIAL_GENERATION);
      await store.revokeUserSessions(userId, t0 + contractPolicy.maxTtlMs);
      assert.notEqual(await store.generation(userId, t0 + contractPolicy.maxTtlMs), INITIAL_GENERATION);
    } finally {
      await store.close();
    }
  });
});

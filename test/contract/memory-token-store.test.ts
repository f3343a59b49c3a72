import { MemoryTokenStore } from '../../src/stores/memory-token-store.js';
import { tokenStoreContract } from './token-store-contract.js';

await tokenStoreContract('MemoryTokenStore', async (policy) => {
  const store = new MemoryTokenStore(policy);
  return { store, cleanup: () => store.close() };
});

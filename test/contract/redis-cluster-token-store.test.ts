// node:test's describe/it return promises that the runner itself awaits.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Cluster } from 'ioredis';
import { StoreUnavailableError } from '../../src/errors.js';
import { createRedisClient } from '../../src/stores/redis-client.js';
import { RedisTokenStore } from '../../src/stores/redis-token-store.js';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.js';
import { redisBinariesMissing, redisCli } from '../helpers/redis-server.js';
import { contractPolicy, tokenStoreContract, uniqueUserId } from './token-store-contract.js';
import { countWrites } from '../helpers/socket-writes.js';

const COMMAND_TIMEOUT_MS = 500;
const ACCESS_TTL_MS = 35 * 60_000;

const missing = await redisBinariesMissing();
const skip = missing ?? false;
const cluster: RedisCluster | undefined = missing === undefined ? await startRedisCluster() : undefined;
const prefix = `kwtest:${randomBytes(4).toString('hex')}`;

function ignore(): void {
  // connection errors are asserted through the rejected commands
}

function clusterClient(nodes = cluster?.nodes ?? []): Cluster {
  return createRedisClient({
    clusterNodes: nodes,
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    onError: ignore,
  }) as Cluster;
}

function id(): string {
  return randomBytes(12).toString('base64url');
}

after(async () => {
  await cluster?.stop();
});

await tokenStoreContract('RedisTokenStore on a three-master Redis Cluster', async (policy) => {
  if (missing !== undefined) return missing;
  const client = clusterClient();
  const store = new RedisTokenStore(client, `${prefix}:contract`, policy);
  // The cluster is this file's own and is thrown away afterwards: closing the client is all the cleanup needed.
  return { store, cleanup: () => store.close() };
});

describe('RedisTokenStore on a Redis Cluster', () => {
  it("one user's keys share a slot while different users spread over the masters", { skip }, async () => {
    const client = clusterClient();
    const store = new RedisTokenStore(client, `${prefix}:spread`, contractPolicy);
    try {
      const now = Date.now();
      const owners = new Set<number>();
      for (let i = 0; i < 30; i += 1) {
        const userId = uniqueUserId();
        const sid = id();
        const first = { jti: id(), expiresAt: now + ACCESS_TTL_MS };
        await store.createSession(
          { userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token: first },
          now,
        );
        const stem = `${prefix}:spread:{u:${userId}}`;
        const slots = await Promise.all(
          [`${stem}:s:${sid}`, `${stem}:ss`, `${stem}:t:${first.jti}`].map((key) =>
            client.cluster('KEYSLOT', key),
          ),
        );
        assert.equal(new Set(slots).size, 1, `keys of user ${userId} are in slots ${slots.join(', ')}`);
        const master = client.nodes('master').findIndex((node) => node.options.port === slotOwner(slots[0]));
        owners.add(master);
      }
      assert.ok(owners.size > 1, 'thirty users all landed on one master');
    } finally {
      await store.close();
    }

    function slotOwner(slot: number | undefined): number | undefined {
      const ranges = (client as unknown as { slots: string[][] }).slots;
      const key = slot === undefined ? undefined : ranges[slot]?.[0];
      return key === undefined ? undefined : Number(key.split(':').pop());
    }
  });

  it(
    "sends one turn's commands to a node in one socket write, as a single Redis client does",
    { skip },
    async () => {
      const client = clusterClient();
      try {
        const keys = Array.from({ length: 16 }, (_, i) => `${prefix}:batch:{u:1}:${i}`);
        await client.set(keys[0] ?? '', 'warm-up', 'PX', 60_000);
        // Nodes this client has not connected to yet have no socket (and get no command here).
        const counters = client
          .nodes('all')
          .filter((node) => (node.stream as unknown) !== undefined)
          .map((node) => countWrites(node.stream));
        const writes = () => counters.reduce((sum, count) => sum + count(), 0);
        const sets = await Promise.all(keys.map((key, i) => client.set(key, String(i), 'PX', 60_000)));
        assert.deepEqual(sets, Array(16).fill('OK'));
        assert.equal(writes(), 1, '16 commands for one slot issued in one turn, one write');
        assert.deepEqual(
          await Promise.all(keys.map((key) => client.get(key))),
          keys.map((_, i) => String(i)),
        );
      } finally {
        client.disconnect();
      }
    },
  );

  it('a session revoked through one client is rejected through another at once', { skip }, async () => {
    const a = new RedisTokenStore(clusterClient(), `${prefix}:shared`, contractPolicy);
    const b = new RedisTokenStore(clusterClient(cluster?.nodes.slice(2)), `${prefix}:shared`, contractPolicy);
    try {
      const userId = uniqueUserId();
      const sid = id();
      const now = Date.now();
      const token = { userId, sid, jti: id(), expiresAt: now + ACCESS_TTL_MS };
      await a.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, now);
      assert.equal(await b.check(token, now), true, 'a client seeded with one node finds the others');
      assert.equal(await b.revokeUserSessions(userId, now), 1);
      assert.equal(await a.check(token, now), false);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  // Last in the file: it takes the cluster down and brings it back empty.
  it(
    'with every node down commands fail fast, and the store recovers when the cluster returns',
    { skip, timeout: 60_000 },
    async () => {
      if (cluster === undefined) throw new Error('no cluster');
      const store = new RedisTokenStore(clusterClient(), `${prefix}:outage`, contractPolicy);
      try {
        const userId = uniqueUserId();
        const sid = id();
        const now = Date.now();
        const token = { userId, sid, jti: id(), expiresAt: now + ACCESS_TTL_MS };
        await store.createSession({ userId, sid, userAgent: 'ua', ip: 'ip', generation: '0', token }, now);

        await cluster.halt();
        for (let i = 0; i < 3; i += 1) {
          // Without a deadline the Cluster client would queue these until the cluster came back.
          await assert.rejects(store.check(token, now), StoreUnavailableError);
          await assert.rejects(store.ping(), StoreUnavailableError);
        }

        await cluster.start();
        const deadline = Date.now() + 15_000;
        for (;;) {
          try {
            await store.ping();
            break;
          } catch (error) {
            assert.ok(error instanceof StoreUnavailableError, String(error));
            assert.ok(Date.now() < deadline, 'the store did not recover within 15 seconds');
            await sleep(200);
          }
        }
        // Persistence is off: the cluster came back empty, so the old session is gone (fail closed) ...
        assert.equal(await store.check(token, Date.now()), false);
        // ... and new sessions work on every slot again.
        for (let i = 0; i < 10; i += 1) {
          const fresh = {
            userId: uniqueUserId(),
            sid: id(),
            jti: id(),
            expiresAt: Date.now() + ACCESS_TTL_MS,
          };
          await store.createSession(
            { ...fresh, userAgent: 'ua', ip: 'ip', generation: '0', token: fresh },
            Date.now(),
          );
          assert.equal(await store.check(fresh, Date.now()), true);
        }
        assert.match(await redisCli(cluster.nodes[0]?.port ?? 0, 'cluster', 'info'), /cluster_state:ok/);
      } finally {
        await store.close();
      }
    },
  );
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostPort } from '../../src/stores/redis-client.js';
import { freePort, redisCli, RedisServer } from './redis-server.js';

const CLUSTER_BUS_OFFSET = 10_000;

/** A three-master Redis Cluster on loopback ports, started from `redis-server` for one test file. */
export interface RedisCluster {
  nodes: HostPort[];
  /** Shuts every node down (the cluster is unreachable until `start`). */
  halt(): Promise<void>;
  /** Starts the halted nodes again on the same ports; they rejoin from their nodes.conf, empty. */
  start(): Promise<void>;
  /** Shuts every node down and removes their files. */
  stop(): Promise<void>;
}

async function distinctPorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    const port = await freePort([0, CLUSTER_BUS_OFFSET]);
    if (![...ports].some((p) => Math.abs(p - port) === CLUSTER_BUS_OFFSET)) ports.add(port);
  }
  return [...ports];
}

async function clusterInfo(port: number): Promise<Record<string, string>> {
  const text = await redisCli(port, 'cluster', 'info');
  return Object.fromEntries(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(':'))
      .map((line) => line.split(':', 2) as [string, string]),
  );
}

async function waitReady(ports: number[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const infos = await Promise.all(ports.map(clusterInfo));
    const ready = infos.every(
      (info) =>
        info.cluster_state === 'ok' && info.cluster_slots_ok === '16384' && info.cluster_known_nodes === '3',
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`cluster did not become ready: ${JSON.stringify(infos)}`);
    await sleep(100);
  }
}

/**
 * Starts three cluster-enabled redis-servers, joins them with `redis-cli --cluster create` (no replicas) and
 * waits until every node reports `cluster_state:ok` with all 16384 slots assigned. `stop()` shuts them down
 * and removes their directory.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'keyward-cluster-'));
  const servers: RedisServer[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const ports = await distinctPorts(3);
    for (const port of ports) {
      servers.push(
        await RedisServer.start({
          port,
          dir,
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            path.join(dir, `nodes-${port}.conf`),
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    await redisCli(
      ports[0] ?? 0,
      '--cluster',
      'create',
      ...ports.map((port) => `127.0.0.1:${port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    );
    await waitReady(ports);
    return {
      nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
      halt: async () => {
        await Promise.all(servers.map((server) => server.stop()));
      },
      start: async () => {
        await Promise.all(servers.map((server) => server.restart()));
        await waitReady(ports);
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

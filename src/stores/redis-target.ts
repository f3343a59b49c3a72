import type { HostPort, RedisTarget } from './redis-client.js';

// Apart from redis-client.ts so that the start banner can describe the target without loading ioredis.

/** A short, password-free description of the target for logs. */
export function describeRedisTarget(target: RedisTarget): string {
  const list = (nodes: HostPort[]) => nodes.map((n) => `${n.host}:${n.port}`).join(',');
  if ('clusterNodes' in target) return `cluster ${list(target.clusterNodes)}`;
  if ('sentinels' in target) return `sentinel ${target.sentinelName} via ${list(target.sentinels)}`;
  return target.url.replace(/\/\/[^@]*@/, '//***@');
}

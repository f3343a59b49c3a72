import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import type { RateLimitCount, RateLimitStore } from './rate-limit-store.js';

type ScriptCommand = (this: Redis | Cluster, ...args: string[]) => Promise<unknown>;

// One key per counter, so every script touches a single key (any Redis Cluster slot will do). The window's
// end is the key's TTL, set by the hit that creates it and never extended: a limit always lifts by itself.
const SCRIPTS = {
  // KEYS: counter. ARGV: windowMs. Returns {count, ms until the window ends}.
  hit: {
    numberOfKeys: 1,
    lua: `
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`,
  },
  // KEYS: counter. Takes one event back, leaving the window's end untouched.
  release: {
    numberOfKeys: 1,
    lua: `
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return 1`,
  },
} as const;

const COMMAND_PREFIX = 'keywardRateLimit_';

/**
 * Rate-limit counters in Redis (single node, Sentinel or Cluster), shared by every instance using the same key
 * prefix. It borrows the client of the token store and leaves closing it to that store.
 */
export class RedisRateLimitStore implements RateLimitStore {
  readonly kind = 'redis';

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
  ) {
    for (const [name, script] of Object.entries(SCRIPTS)) client.defineCommand(COMMAND_PREFIX + name, script);
  }

  async hit(key: string, windowMs: number): Promise<RateLimitCount> {
    const reply = await this.run('hit', this.key(key), String(Math.max(1, Math.ceil(windowMs))));
    if (Array.isArray(reply) && typeof reply[0] === 'number' && typeof reply[1] === 'number') {
      return { count: reply[0], resetInMs: reply[1] };
    }
    throw new Error(`Unexpected reply from Redis rate-limit script: ${JSON.stringify(reply)}`);
  }

  async release(key: string): Promise<void> {
    await this.run('release', this.key(key));
  }

  async reset(key: string): Promise<void> {
    try {
      await this.client.del(this.key(key));
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async close(): Promise<void> {
    // The client belongs to the token store, which quits it.
  }

  private key(key: string): string {
    return `${this.prefix}:rl:${key}`;
  }

  private async run(script: keyof typeof SCRIPTS, ...args: string[]): Promise<unknown> {
    const command = (this.client as unknown as Record<string, ScriptCommand | undefined>)[
      COMMAND_PREFIX + script
    ];
    if (command === undefined) throw new Error(`Redis script ${script} is not defined on the client`);
    try {
      return await command.call(this.client, ...args);
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}

import type { Cluster, Redis } from 'ioredis';
import { StoreUnavailableError } from '../errors.js';
import { TOKEN_STORE_SCRIPTS, type TokenStoreScriptName } from './redis-scripts.js';
import type {
  NewSession,
  RefreshOutcome,
  RevokeOptions,
  SessionGeneration,
  SessionInfo,
  SessionPolicy,
  TokenGrant,
  TokenRef,
  TokenStore,
} from './token-store.js';

type ScriptCommand = (this: Redis | Cluster, ...args: string[]) => Promise<unknown>;

const COMMAND_PREFIX = 'keywardTokenStore_';

/**
 * The allowlist in Redis (single node, Sentinel or Cluster). Every method is one Lua script (see
 * redis-scripts.ts), so one round trip and atomic across all instances sharing the Redis.
 */
export class RedisTokenStore implements TokenStore {
  readonly kind = 'redis';

  constructor(
    private readonly client: Redis | Cluster,
    private readonly prefix: string,
    private readonly policy: SessionPolicy,
  ) {
    // defineCommand sends EVALSHA and falls back to EVAL when Redis lost its script cache (e.g. a restart).
    for (const [name, script] of Object.entries(TOKEN_STORE_SCRIPTS)) {
      client.defineCommand(COMMAND_PREFIX + name, script);
    }
  }

  /** The generation key expires by its Redis TTL (SESSION_MAX_TTL after the last fence), not by `now`. */
  async generation(userId: number): Promise<SessionGeneration> {
    const reply = await this.run('generation', [`${this.userKey(userId)}:g`], []);
    if (typeof reply !== 'string') throw unexpected('generation', reply);
    return reply;
  }

  async createSession(session: NewSession, now: number): Promise<boolean> {
    const user = this.userKey(session.userId);
    const reply = await this.run(
      'createSession',
      [`${user}:s:${session.sid}`, `${user}:ss`, `${user}:t:${session.token.jti}`, `${user}:g`],
      [
        String(now),
        session.sid,
        session.userAgent,
        session.ip,
        String(session.token.expiresAt),
        String(this.policy.idleTtlMs),
        String(this.policy.maxTtlMs),
        session.generation,
      ],
    );
    return reply === 1;
  }

  async consume(ref: TokenRef, next: TokenGrant, now: number): Promise<boolean> {
    const user = this.userKey(ref.userId);
    const reply = await this.run(
      'consume',
      [`${user}:t:${ref.jti}`, `${user}:s:${ref.sid}`, `${user}:ss`, `${user}:t:${next.jti}`],
      [String(now), ref.sid, String(this.policy.idleTtlMs), String(next.expiresAt)],
    );
    return reply === 1;
  }

  async check(ref: TokenRef, now: number): Promise<boolean> {
    const user = this.userKey(ref.userId);
    const reply = await this.run(
      'check',
      [`${user}:t:${ref.jti}`, `${user}:s:${ref.sid}`, `${user}:ss`],
      [String(now), ref.sid, String(this.policy.idleTtlMs)],
    );
    return reply === 1;
  }

  async endSession(ref: TokenRef, now: number): Promise<boolean> {
    const user = this.userKey(ref.userId);
    const reply = await this.run(
      'endSession',
      [`${user}:t:${ref.jti}`, `${user}:s:${ref.sid}`, `${user}:ss`],
      [String(now), ref.sid, String(this.policy.idleTtlMs)],
    );
    return reply === 1;
  }

  async refresh(
    userId: number,
    sid: string,
    counter: number,
    next: TokenGrant,
    now: number,
  ): Promise<RefreshOutcome> {
    const user = this.userKey(userId);
    const reply = await this.run(
      'refresh',
      [`${user}:s:${sid}`, `${user}:ss`, `${user}:t:${next.jti}`],
      [
        String(now),
        sid,
        String(counter),
        String(this.policy.idleTtlMs),
        String(this.policy.refreshReuseWindowMs),
        String(next.expiresAt),
      ],
    );
    if (Array.isArray(reply)) {
      const [status, current] = reply as unknown[];
      if ((status === 'rotated' || status === 'grace') && typeof current === 'number') {
        return { status, counter: current };
      }
      if (status === 'reuse' || status === 'invalid') return { status };
    }
    throw unexpected('refresh', reply);
  }

  async listSessions(userId: number, now: number): Promise<SessionInfo[]> {
    const user = this.userKey(userId);
    const reply = await this.run(
      'listSessions',
      [`${user}:ss`],
      [String(now), String(this.policy.idleTtlMs), `${user}:s:`],
    );
    if (!Array.isArray(reply)) throw unexpected('listSessions', reply);
    const sessions = reply.map((row: unknown): SessionInfo => {
      if (!Array.isArray(row) || row.length !== 5 || !row.every((field) => typeof field === 'string')) {
        throw unexpected('listSessions', reply);
      }
      const [id, createdAt, lastUsedAt, userAgent, ip] = row as [string, string, string, string, string];
      return { id, createdAt: Number(createdAt), lastUsedAt: Number(lastUsedAt), userAgent, ip };
    });
    // A set has no order: sort by creation, then by id so that ties are at least deterministic.
    return sessions.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async revokeSession(userId: number, sid: string, now: number): Promise<boolean> {
    const user = this.userKey(userId);
    const reply = await this.run(
      'revokeSession',
      [`${user}:s:${sid}`, `${user}:ss`],
      [String(now), sid, String(this.policy.idleTtlMs)],
    );
    return reply === 1;
  }

  async revokeUserSessions(userId: number, now: number, options: RevokeOptions = {}): Promise<number> {
    const user = this.userKey(userId);
    const reply = await this.run(
      'revokeUserSessions',
      [`${user}:ss`, `${user}:g`],
      [
        String(now),
        String(this.policy.idleTtlMs),
        `${user}:s:`,
        String(this.policy.maxTtlMs),
        options.except ?? '',
        options.fence === false ? '0' : '1',
      ],
    );
    if (typeof reply !== 'number') throw unexpected('revokeUserSessions', reply);
    return reply;
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async close(): Promise<void> {
    // A client that never connected (lazyConnect, unused) would connect only to say goodbye.
    if (this.client.status === 'wait') {
      this.client.disconnect();
      return;
    }
    try {
      await this.client.quit();
    } catch {
      // Redis is unreachable: nothing to say goodbye to, just drop the connection.
      this.client.disconnect();
    }
  }

  /** The key stem of one user: the `{u:<id>}` hash tag puts all of a user's keys in one cluster slot. */
  private userKey(userId: number): string {
    return `${this.prefix}:{u:${userId}}`;
  }

  private async run(script: TokenStoreScriptName, keys: string[], args: string[]): Promise<unknown> {
    const command = (this.client as unknown as Record<string, ScriptCommand | undefined>)[
      COMMAND_PREFIX + script
    ];
    if (command === undefined) throw new Error(`Redis script ${script} is not defined on the client`);
    try {
      return await command.call(this.client, ...keys, ...args);
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }
}

function unexpected(script: string, reply: unknown): Error {
  return new Error(`Unexpected reply from Redis script ${script}: ${JSON.stringify(reply)}`);
}

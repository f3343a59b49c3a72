import { ChurnMap } from '../churn-map.js';
import {
  INITIAL_GENERATION,
  MAX_TOKENS_PER_SESSION,
  type NewSession,
  type SessionGeneration,
  type RefreshOutcome,
  type RevokeOptions,
  type SessionInfo,
  type SessionPolicy,
  type TokenGrant,
  type TokenRef,
  type TokenStore,
} from './token-store.js';

interface SessionRecord extends SessionInfo {
  userId: number;
  maxExpiresAt: number;
  refreshCounter: number;
  rotatedAt: number;
  /** The session's live access-token ids, oldest first (at most MAX_TOKENS_PER_SESSION). */
  tokens: string[];
}

interface TokenRecord {
  userId: number;
  sid: string;
  expiresAt: number;
}

const SWEEP_INTERVAL_MS = 60_000;

/**
 * Single-instance, in-process allowlist. Each method runs as one synchronous block, which is what makes it
 * atomic: no other request can interleave between the check and the change.
 */
export class MemoryTokenStore implements TokenStore {
  readonly kind = 'memory';
  private readonly sessions = new Map<number, Map<string, SessionRecord>>();
  /** Live access-token ids; each single-use request deletes one and adds one (src/churn-map.ts). */
  private readonly tokens = new ChurnMap<string, TokenRecord>();
  /** Users whose generation a fence moved on within SESSION_MAX_TTL (the others are at INITIAL_GENERATION). */
  private readonly generations = new Map<number, { value: number; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly policy: SessionPolicy) {
    this.sweeper = setInterval(() => {
      this.sweep(Date.now());
    }, SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  async generation(userId: number, now: number): Promise<SessionGeneration> {
    return this.currentGeneration(userId, now);
  }

  async createSession(session: NewSession, now: number): Promise<boolean> {
    if (this.currentGeneration(session.userId, now) !== session.generation) return false;
    let userSessions = this.sessions.get(session.userId);
    if (!userSessions) {
      userSessions = new Map();
      this.sessions.set(session.userId, userSessions);
    }
    const record: SessionRecord = {
      id: session.sid,
      userId: session.userId,
      createdAt: now,
      lastUsedAt: now,
      userAgent: session.userAgent,
      ip: session.ip,
      maxExpiresAt: now + this.policy.maxTtlMs,
      refreshCounter: 0,
      rotatedAt: now,
      tokens: [],
    };
    userSessions.set(session.sid, record);
    this.allow(record, session.token);
    return true;
  }

  async consume(ref: TokenRef, next: TokenGrant, now: number): Promise<boolean> {
    const session = this.liveTokenSession(ref, now);
    if (!session) return false;
    this.tokens.delete(ref.jti);
    const list = session.tokens;
    const index = list.indexOf(ref.jti);
    if (index !== -1 && index === list.length - 1) {
      // The common case, the newest token renewed: its successor takes its place, the newest, with no allocation.
      list[index] = next.jti;
      this.tokens.set(next.jti, { userId: ref.userId, sid: ref.sid, expiresAt: next.expiresAt });
    } else {
      if (index !== -1) list.splice(index, 1);
      this.allow(session, next);
    }
    session.lastUsedAt = now;
    return true;
  }

  async check(ref: TokenRef, now: number): Promise<boolean> {
    const session = this.liveTokenSession(ref, now);
    if (!session) return false;
    session.lastUsedAt = now;
    return true;
  }

  async endSession(ref: TokenRef, now: number): Promise<boolean> {
    const session = this.liveTokenSession(ref, now);
    if (!session) return false;
    this.drop(session);
    return true;
  }

  async refresh(
    userId: number,
    sid: string,
    counter: number,
    next: TokenGrant,
    now: number,
  ): Promise<RefreshOutcome> {
    const session = this.liveSession(userId, sid, now);
    if (!session) return { status: 'invalid' };
    if (counter === session.refreshCounter) {
      session.refreshCounter += 1;
      session.rotatedAt = now;
      session.lastUsedAt = now;
      this.allow(session, next);
      return { status: 'rotated', counter: session.refreshCounter };
    }
    if (
      counter === session.refreshCounter - 1 &&
      this.policy.refreshReuseWindowMs > 0 &&
      now - session.rotatedAt <= this.policy.refreshReuseWindowMs
    ) {
      session.lastUsedAt = now;
      this.allow(session, next);
      return { status: 'grace', counter: session.refreshCounter };
    }
    if (counter < session.refreshCounter) {
      this.drop(session);
      return { status: 'reuse' };
    }
    return { status: 'invalid' };
  }

  async listSessions(userId: number, now: number): Promise<SessionInfo[]> {
    const userSessions = this.sessions.get(userId);
    if (!userSessions) return [];
    const live: SessionInfo[] = [];
    for (const s of userSessions.values()) {
      if (this.expired(s, now)) {
        this.drop(s);
        continue;
      }
      live.push({
        id: s.id,
        createdAt: s.createdAt,
        lastUsedAt: s.lastUsedAt,
        userAgent: s.userAgent,
        ip: s.ip,
      });
    }
    return live.sort((a, b) => a.createdAt - b.createdAt);
  }

  async revokeSession(userId: number, sid: string, now: number): Promise<boolean> {
    const session = this.liveSession(userId, sid, now);
    if (!session) return false;
    this.drop(session);
    return true;
  }

  async revokeUserSessions(userId: number, now: number, options: RevokeOptions = {}): Promise<number> {
    if (options.fence !== false) {
      const generation = this.generations.get(userId);
      this.generations.set(userId, {
        value: (generation && now < generation.expiresAt ? generation.value : 0) + 1,
        expiresAt: now + this.policy.maxTtlMs,
      });
    }
    const userSessions = this.sessions.get(userId);
    if (!userSessions) return 0;
    let live = 0;
    for (const s of [...userSessions.values()]) {
      if (s.id === options.except) continue;
      if (!this.expired(s, now)) live += 1;
      this.drop(s);
    }
    return live;
  }

  async ping(): Promise<void> {
    return;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.sessions.clear();
    this.tokens.clear();
    this.generations.clear();
  }

  private currentGeneration(userId: number, now: number): SessionGeneration {
    const generation = this.generations.get(userId);
    return generation && now < generation.expiresAt ? String(generation.value) : INITIAL_GENERATION;
  }

  /** Allows a token of `session`; beyond MAX_TOKENS_PER_SESSION the session's oldest token is revoked. */
  private allow(session: SessionRecord, grant: TokenGrant): void {
    this.tokens.set(grant.jti, { userId: session.userId, sid: session.id, expiresAt: grant.expiresAt });
    session.tokens.push(grant.jti);
    while (session.tokens.length > MAX_TOKENS_PER_SESSION) {
      const oldest = session.tokens.shift();
      if (oldest !== undefined) this.tokens.delete(oldest);
    }
  }

  /** Removes a session and its tokens. */
  private drop(session: SessionRecord): void {
    for (const jti of session.tokens) this.tokens.delete(jti);
    const userSessions = this.sessions.get(session.userId);
    userSessions?.delete(session.id);
    if (userSessions?.size === 0) this.sessions.delete(session.userId);
  }

  private expired(s: SessionRecord, now: number): boolean {
    return now >= s.maxExpiresAt || now >= s.lastUsedAt + this.policy.idleTtlMs;
  }

  private liveSession(userId: number, sid: string, now: number): SessionRecord | undefined {
    const session = this.sessions.get(userId)?.get(sid);
    if (!session) return undefined;
    if (this.expired(session, now)) {
      this.drop(session);
      return undefined;
    }
    return session;
  }

  private liveTokenSession(ref: TokenRef, now: number): SessionRecord | undefined {
    const token = this.tokens.get(ref.jti);
    if (!token || token.userId !== ref.userId || token.sid !== ref.sid) return undefined;
    if (now >= token.expiresAt) {
      this.tokens.delete(ref.jti);
      return undefined;
    }
    return this.liveSession(ref.userId, ref.sid, now);
  }

  private sweep(now: number): void {
    for (const [jti, token] of this.tokens) {
      if (now >= token.expiresAt || !this.sessions.get(token.userId)?.has(token.sid)) this.tokens.delete(jti);
    }
    for (const [userId, userSessions] of this.sessions) {
      for (const s of userSessions.values()) if (this.expired(s, now)) userSessions.delete(s.id);
      if (userSessions.size === 0) this.sessions.delete(userId);
    }
    for (const [userId, generation] of this.generations) {
      if (now >= generation.expiresAt) this.generations.delete(userId);
    }
  }
}

import { createHash } from 'node:crypto';
import { isIPv6 } from 'node:net';
import { DomainError } from '../errors.js';
import type { RateLimitCount, RateLimitStore } from '../stores/rate-limit-store.js';

/** The limits of SPEC §4, as named in metrics and audit events. */
export type RateLimitName =
  'login_failures' | 'login_ip' | 'signup_ip' | 'mfa_user' | 'recovery_ip' | 'recovery_account';

export interface RateLimiterOptions {
  store: RateLimitStore;
  enabled: boolean;
  /** Failed logins per (username, IP) per window. */
  loginFailures: number;
  /** Login attempts per IP per window. */
  loginPerIp: number;
  /** Accounts created per IP per window. */
  signupPerIp: number;
  /** Second-factor codes tried per user per window (SPEC §10), whatever mfa_token or address they come with. */
  mfaPerUser: number;
  /** Recovery and verification mails per account per window (SPEC §9); more are dropped silently. */
  recoveryPerAccount: number;
  /** Requests per IP per window on /password/forgot and /email/verify. */
  recoveryPerIp: number;
  windowSec: number;
  now: () => number;
  /** Observes every rejection (metrics). */
  onReject: (limit: RateLimitName) => void;
}

/** A request refused by a rate limit: 429 with Retry-After. */
export class RateLimitedError extends DomainError {
  constructor(
    readonly limit: RateLimitName,
    retryAfter: number,
  ) {
    super('rate_limited', { retryAfter });
    this.name = 'RateLimitedError';
  }
}

/** An attempt that passed the limits; settle it once its outcome is known. */
export interface LoginAttempt {
  /** The credentials were right: the (username, IP) failure count starts again. */
  succeeded(): Promise<void>;
  /** The credentials were wrong: the attempt stays counted. */
  failed(): Promise<void>;
  /** The attempt never got to the credentials (server busy, store down): it is not counted. */
  abandoned(): Promise<void>;
}

/** An account creation that passed the limit; an attempt that is abandoned does not stay counted. */
export interface SignupAttempt {
  created(): Promise<void>;
  abandoned(): Promise<void>;
}

const NOTHING = async (): Promise<void> => undefined;
const UNLIMITED_LOGIN: LoginAttempt = { succeeded: NOTHING, failed: NOTHING, abandoned: NOTHING };
const UNLIMITED_SIGNUP: SignupAttempt = { created: NOTHING, abandoned: NOTHING };

/** The eight 16-bit groups of a valid IPv6 address (zone id dropped, `::` expanded, an IPv4 tail as two groups). */
function ipv6Groups(ip: string): number[] {
  const [head = '', tail] = (ip.split('%')[0] ?? '').split('::');
  const groups = (part: string | undefined): number[] =>
    part
      ? part.split(':').flatMap((g) => {
          if (!g.includes('.')) return [parseInt(g, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        })
      : [];
  const left = groups(head);
  const right = groups(tail);
  return tail === undefined
    ? left
    : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * The address a per-IP limit counts: IPv4 as is, and an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`, however
 * written: a server listening on `::` sees every IPv4 client so) as that IPv4 client, so that IPv4 clients never
 * share one bucket; other IPv6 by its /64, since one subscriber usually holds a whole /64 and could otherwise
 * rotate through addresses for free. A zone id (`fe80::1%eth0`) is not part of the address.
 */
export function ipBucket(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const groups = ipv6Groups(ip);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [high = 0, low = 0] = groups.slice(6);
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * The rate limits of SPEC §4 over a RateLimitStore: failed logins per (username, IP), login attempts per IP and
 * signups per IP, each in a fixed window that ends by itself. Counters are taken *before* any password work,
 * so a burst of parallel guesses cannot slip past a limit, and a refused attempt costs no hashing.
 */
export class RateLimiter {
  private readonly store: RateLimitStore;
  private readonly options: RateLimiterOptions;
  private readonly now: () => number;
  private readonly windowMs: number;

  constructor(options: RateLimiterOptions) {
    this.options = options;
    this.store = options.store;
    this.now = options.now;
    this.windowMs = options.windowSec * 1000;
  }

  /**
   * Counts a login attempt for (username key, IP) and for the IP; throws RateLimitedError when either is over
   * its limit. The returned attempt must be settled with its outcome.
   */
  async beginLogin(usernameKey: string, ip: string): Promise<LoginAttempt> {
    if (!this.options.enabled) return UNLIMITED_LOGIN;
    const bucket = ipBucket(ip);
    const ipKey = `li:${bucket}`;
    const failureKey = `lf:${digest(usernameKey)}:${bucket}`;
    await this.take('login_ip', ipKey, this.options.loginPerIp, bucket);
    await this.take('login_failures', failureKey, this.options.loginFailures, bucket);
    return {
      succeeded: () => this.store.reset(failureKey),
      failed: NOTHING,
      abandoned: async () => {
        await this.store.release(failureKey, this.now());
        await this.store.release(ipKey, this.now());
      },
    };
  }

  /**
   * Counts a second-factor code tried for the user, across all of their mfa_tokens and every address, so that a
   * botnet holding the password cannot spread 10^6 guesses over many mfa_tokens; throws RateLimitedError over
   * the limit. A right code starts the count again.
   */
  async beginMfa(userId: number): Promise<LoginAttempt> {
    if (!this.options.enabled) return UNLIMITED_LOGIN;
    const key = `mf:${userId}`;
    await this.take('mfa_user', key, this.options.mfaPerUser);
    return {
      succeeded: () => this.store.reset(key),
      failed: NOTHING,
      abandoned: () => this.store.release(key, this.now()),
    };
  }

  /** Counts an account creation for the IP; throws RateLimitedError over the limit. */
  async beginSignup(ip: string): Promise<SignupAttempt> {
    if (!this.options.enabled) return UNLIMITED_SIGNUP;
    const bucket = ipBucket(ip);
    const key = `su:${bucket}`;
    await this.take('signup_ip', key, this.options.signupPerIp, bucket);
    return { created: NOTHING, abandoned: () => this.store.release(key, this.now()) };
  }

  /** Counts a request on /password/forgot or /email/verify for the IP; throws RateLimitedError over the limit. */
  async beginRecovery(ip: string): Promise<void> {
    if (!this.options.enabled) return;
    await this.take('recovery_ip', `rc:${ipBucket(ip)}`, this.options.recoveryPerIp);
  }

  /**
   * Counts a recovery or verification mail for the account; false when it is over the limit (the mail is then
   * dropped silently: the client's answer must not tell).
   */
  async allowRecoveryMail(userId: number): Promise<boolean> {
    if (!this.options.enabled) return true;
    try {
      await this.take('recovery_account', `rm:${userId}`, this.options.recoveryPerAccount);
      return true;
    } catch (error) {
      if (error instanceof RateLimitedError) return false;
      throw error;
    }
  }

  private async take(
    limit: RateLimitName,
    key: string,
    max: number,
    bucket?: string,
  ): Promise<RateLimitCount> {
    const counted = await this.store.hit(key, this.windowMs, this.now(), bucket);
    if (counted.count > max) {
      this.options.onReject(limit);
      throw new RateLimitedError(limit, Math.max(1, Math.ceil(counted.resetInMs / 1000)));
    }
    return counted;
  }
}

/** Usernames are attacker-chosen text: a digest keeps keys short and free of separators. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

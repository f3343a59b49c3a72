import { DomainError } from '../errors.js';
import type { MfaState, UserRepository } from '../repositories/user-repository.js';
import { origin, type AuditLog } from '../services/audit-log.js';
import type { MfaService } from '../services/mfa-service.js';
import { usernameKey } from '../domain/username.js';
import type { RateLimiter } from '../services/rate-limiter.js';
import type { ClientInfo } from '../domain/client-info.js';
import type { Auth, SessionService } from '../services/session-service.js';
import type { UserService } from '../services/user-service.js';
import type { MfaAttempt, MfaOutcome } from '../stores/token-store.js';
import { tokenResponse, type FacadeGuards, type TokenResponse } from './auth-facade.js';

/** What `POST /authenticate_user` answers when the password was right and a second factor is needed. */
export interface MfaRequired {
  mfa_required: true;
  mfa_token: string;
  methods: ['totp', 'recovery_code'];
  expires_in: number;
}

/** The second factor of a login or of an account change: a TOTP code or a recovery code, exactly one. */
export interface SecondFactor {
  code?: string | undefined;
  recoveryCode?: string | undefined;
}

/** Exactly one of the two kinds of code, checked before any token or attempt is spent. */
function checkFactor(factor: SecondFactor): void {
  if ((factor.code === undefined) === (factor.recoveryCode === undefined)) {
    throw new DomainError('validation_failed', {
      message: 'exactly one of code and recovery_code is required',
    });
  }
}

/** Second factor use cases (SPEC §10): enrolment, the login's second step, disabling, new recovery codes. */
export class MfaFacade {
  private readonly limiter: RateLimiter;
  private readonly audit: AuditLog;

  constructor(
    private readonly users: UserService,
    private readonly repository: UserRepository,
    private readonly sessions: SessionService,
    private readonly mfa: MfaService,
    guards: FacadeGuards,
  ) {
    this.limiter = guards.limiter;
    this.audit = guards.audit;
  }

  /** The answer to a right password of a user with a second factor: an mfa_token, and no access token. */
  async challenge(userId: number, fence: string): Promise<MfaRequired> {
    const { mfaToken, expiresIn } = await this.mfa.issueChallenge(userId, fence);
    return {
      mfa_required: true,
      mfa_token: mfaToken,
      methods: ['totp', 'recovery_code'],
      expires_in: expiresIn,
    };
  }

  /** Starts TOTP enrolment: a new secret, pending until confirmed with a code from it. */
  async setup(
    token: string,
    currentPassword: string,
    client: ClientInfo,
  ): Promise<{ secret: string; otpauth_url: string; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const state = await this.state(auth);
      if (state.mfaEnabled) throw new DomainError('mfa_already_enabled');
      await this.checkPassword(state, currentPassword, client);
      const secret = this.mfa.newSecret();
      if (!(await this.repository.setPendingTotp(state.id, this.mfa.encryptSecret(state.id, secret)))) {
        throw new DomainError('mfa_already_enabled');
      }
      return { secret, otpauth_url: this.mfa.otpauthUrl(secret, state.username) };
    });
  }

  /** Confirms enrolment with a code of the pending secret: the second factor is on, and ten recovery codes are shown once. */
  async confirm(
    token: string,
    code: string,
    client: ClientInfo,
  ): Promise<{ message: string; recovery_codes: string[]; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const state = await this.state(auth);
      if (state.mfaEnabled) throw new DomainError('mfa_already_enabled');
      if (state.totpPending === null) throw new DomainError('mfa_setup_required');
      const step = this.mfa.matchStep(this.mfa.decryptSecret(state.id, state.totpPending), code);
      if (step === undefined || !(await this.mfa.useStep(state.id, step))) {
        throw new DomainError('invalid_mfa_code');
      }
      const { codes, hashes } = this.mfa.newRecoveryCodes();
      if (!(await this.repository.enableTotp(state.id, state.totpPending, hashes))) {
        // Enabled, or set up again, by a concurrent request.
        throw new DomainError('mfa_setup_required');
      }
      await this.audit.record({
        event: 'mfa_enabled',
        userId: state.id,
        username: state.username,
        ...origin(client),
        detail: { method: 'totp', sid: auth.sid },
      });
      return { message: 'Two-factor authentication enabled', recovery_codes: codes };
    });
  }

  /**
   * The second step of a login: the mfa_token and a TOTP code or a recovery code. Counted per mfa_token (at most
   * five wrong codes) and per user in the rate limiter; a TOTP code is accepted once per user.
   */
  async verify(mfaToken: string, factor: SecondFactor, client: ClientInfo): Promise<TokenResponse> {
    checkFactor(factor);
    const ref = this.mfa.parseToken(mfaToken);
    if (!ref) throw new DomainError('invalid_mfa_token');
    // Refused by the per-user limit: 429, counted in metrics (one audit row per refused request would let a
    // botnet flood the audit table, SPEC §8).
    const attempt = await this.limiter.beginMfa(ref.userId);
    let state: MfaState;
    let outcome: MfaOutcome;
    try {
      const found = await this.repository.findMfa(ref.userId);
      // Disabled (or reset by support) since the password step: the challenge is worth nothing any more.
      if (!found?.mfaEnabled || found.totpSecret === null) throw new DomainError('invalid_mfa_token');
      state = found;
      outcome = await this.mfa.settle(ref, await this.classify(state, factor));
      if (outcome.status === 'invalid') throw new DomainError('invalid_mfa_token');
    } catch (error) {
      // No code was judged against a live challenge: the attempt does not count against the user.
      await attempt.abandoned().catch(() => undefined);
      throw error;
    }
    const method = factor.recoveryCode !== undefined ? 'recovery_code' : 'totp';
    if (outcome.status !== 'accepted') {
      await attempt.failed();
      await this.failed(state, client, 'login', outcome.status === 'replayed' ? 'replayed' : 'wrong_code', {
        attempts_left: outcome.attemptsLeft,
        method,
      });
      throw new DomainError('mfa_code_rejected');
    }
    const accepted = { method, fence: outcome.fence };
    if (accepted.method === 'recovery_code') {
      // The challenge is used up already; a code used by a concurrent request in between fails this one.
      if (
        !(await this.repository.useRecoveryCode(
          state.id,
          this.mfa.recoveryCodeHashes(factor.recoveryCode ?? ''),
        ))
      ) {
        await attempt.failed();
        await this.failed(state, client, 'login', 'wrong_code', {
          attempts_left: 0,
          method: 'recovery_code',
        });
        throw new DomainError('mfa_code_rejected');
      }
      await this.audit.record({
        event: 'recovery_code_used',
        userId: state.id,
        username: state.username,
        ...origin(client),
        detail: { remaining: await this.repository.countRecoveryCodes(state.id) },
      });
    }
    await attempt.succeeded();
    let grant;
    try {
      grant = await this.sessions.start(state.id, client, accepted.fence);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'invalid_credentials') {
        // A fence (password change, reset, deletion, logout_all…) came after the password step: what it checked is
        // no longer the truth, and the mfa_token is already used up.
        await this.audit.record({
          event: 'login_failed',
          userId: state.id,
          username: state.username,
          ...origin(client),
          detail: { reason: 'fenced', mfa: method },
        });
        throw new DomainError('invalid_mfa_token');
      }
      throw error;
    }
    await this.audit.record({
      event: 'login_succeeded',
      userId: state.id,
      username: state.username,
      ...origin(client),
      detail: { sid: grant.sid, mfa: accepted.method },
    });
    return tokenResponse(grant);
  }

  /** Turns the second factor off: the password and a code (TOTP or recovery) are both needed. */
  async disable(
    token: string,
    currentPassword: string,
    factor: SecondFactor,
    client: ClientInfo,
  ): Promise<{ message: string; token: string }> {
    checkFactor(factor);
    return this.sessions.withAuth(token, async (auth) => {
      const state = await this.state(auth);
      if (!state.mfaEnabled || state.totpSecret === null) throw new DomainError('mfa_not_enabled');
      await this.checkPassword(state, currentPassword, client);
      const attempt = await this.limiter.beginMfa(state.id);
      let ok: boolean;
      try {
        const tried = await this.classify(state, factor);
        ok =
          tried.kind === 'totp'
            ? await this.mfa.useStep(state.id, tried.step)
            : tried.kind === 'recovery'
              ? await this.repository.useRecoveryCode(
                  state.id,
                  this.mfa.recoveryCodeHashes(factor.recoveryCode ?? ''),
                )
              : false;
      } catch (error) {
        await attempt.abandoned().catch(() => undefined);
        throw error;
      }
      if (!ok) {
        await attempt.failed();
        await this.failed(state, client, 'disable', 'wrong_code', {});
        throw new DomainError('invalid_mfa_code');
      }
      await attempt.succeeded();
      await this.repository.disableMfa(state.id);
      await this.audit.record({
        event: 'mfa_disabled',
        userId: state.id,
        username: state.username,
        ...origin(client),
        detail: { by: 'user', sid: auth.sid },
      });
      return { message: 'Two-factor authentication disabled' };
    });
  }

  /** Replaces every recovery code with ten new ones, shown once. */
  async regenerateRecoveryCodes(
    token: string,
    currentPassword: string,
    client: ClientInfo,
  ): Promise<{ recovery_codes: string[]; token: string }> {
    return this.sessions.withAuth(token, async (auth) => {
      const state = await this.state(auth);
      if (!state.mfaEnabled) throw new DomainError('mfa_not_enabled');
      await this.checkPassword(state, currentPassword, client);
      const { codes, hashes } = this.mfa.newRecoveryCodes();
      if (!(await this.repository.replaceRecoveryCodes(state.id, hashes))) {
        throw new DomainError('mfa_not_enabled');
      }
      await this.audit.record({
        event: 'recovery_codes_regenerated',
        userId: state.id,
        username: state.username,
        ...origin(client),
        detail: { sid: auth.sid },
      });
      return { recovery_codes: codes };
    });
  }

  /** Support's reset (`keyward user mfa-reset`): removes the second factor; false when there was none. */
  async reset(userId: number, actor: string): Promise<boolean> {
    const state = await this.repository.findMfa(userId);
    if (!state) return false;
    const removed = await this.repository.disableMfa(userId);
    if (removed) {
      await this.audit.record({
        event: 'mfa_disabled',
        userId,
        username: state.username,
        detail: { by: actor },
      });
    }
    return removed;
  }

  private async state(auth: Auth): Promise<MfaState> {
    const state = await this.repository.findMfa(auth.userId);
    if (!state) throw new DomainError('invalid_token');
    return state;
  }

  /** The account holder again: a wrong password is 403 and counts as a failed login for (username, IP). */
  private async checkPassword(state: MfaState, password: string, client: ClientInfo): Promise<void> {
    const attempt = await this.limiter.beginLogin(usernameKey(state.username), client.ip);
    let ok: boolean;
    try {
      ok = await this.users.passwordMatches(state.passwordHash, password);
    } catch (error) {
      await attempt.abandoned().catch(() => undefined);
      throw error;
    }
    if (!ok) {
      await attempt.failed();
      throw new DomainError('wrong_current_password');
    }
    await attempt.succeeded();
  }

  /** Whether the presented factor is right (recovery codes are only looked at here, used up later). */
  private async classify(state: MfaState, factor: SecondFactor): Promise<MfaAttempt> {
    if (factor.recoveryCode !== undefined) {
      const hashes = this.mfa.recoveryCodeHashes(factor.recoveryCode);
      return (await this.repository.hasRecoveryCode(state.id, hashes))
        ? { kind: 'recovery' }
        : { kind: 'wrong' };
    }
    if (state.totpSecret === null || factor.code === undefined) return { kind: 'wrong' };
    const step = this.mfa.matchStep(this.mfa.decryptSecret(state.id, state.totpSecret), factor.code);
    return step === undefined
      ? { kind: 'wrong' }
      : { kind: 'totp', step, replayTtlMs: this.mfa.replayWindowMs };
  }

  private async failed(
    state: MfaState,
    client: ClientInfo,
    step: 'login' | 'disable',
    reason: string,
    detail: Record<string, string | number>,
  ): Promise<void> {
    await this.audit.record({
      event: 'mfa_failed',
      userId: state.id,
      username: state.username,
      ...origin(client),
      detail: { reason, step, ...detail },
    });
  }
}

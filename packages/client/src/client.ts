import { errorOf, KeywardError } from './errors.js';
import {
  IndexedDbSessionStore,
  MemoryLock,
  MemorySessionStore,
  WebLock,
  type IdbFactoryLike,
  type LockManagerLike,
  type Session,
  type SessionLock,
  type SessionStore,
} from './session-store.js';

export interface User {
  id: number;
  username: string;
  roles?: string[];
  [field: string]: unknown;
}

/** The second step a login with two-factor authentication asks for (SPEC §10). */
export interface MfaChallenge {
  mfaToken: string;
  methods: string[];
  expiresIn: number;
}

/** What completes the second step: a TOTP code or a recovery code. */
export type MfaAnswer = { code: string } | { recovery_code: string };

export type LoginResult = { status: 'logged_in' } | ({ status: 'mfa_required' } & MfaChallenge);

export interface LoginOptions {
  /** Called when the account has a second factor; return the code the user typed. Without it, `login` returns the challenge. */
  mfa?: (challenge: MfaChallenge) => Promise<MfaAnswer>;
}

export interface ClientOptions {
  /** Keyward's base URL, e.g. `https://auth.example.com`. */
  baseUrl: string | URL;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * Share the session between the tabs of this origin (Web Locks + IndexedDB + BroadcastChannel). Default: on when
   * the browser has all three; Node always keeps the session in this object.
   */
  shareAcrossTabs?: boolean;
  /** Name of the lock, database key and channel (default `keyward:<baseUrl>`): one session per name. */
  sessionName?: string;
}

export interface KeywardClient {
  /** Creates an account (`POST /user`); does not log in. */
  signup(username: string, password: string): Promise<User>;
  /** Logs in; with a second factor, asks `options.mfa` or returns the challenge for `verifyMfa`. */
  login(username: string, password: string, options?: LoginOptions): Promise<LoginResult>;
  /** Completes a login's second step. */
  verifyMfa(mfaToken: string, answer: MfaAnswer): Promise<void>;
  /**
   * `fetch` with the current access token. Requests of one session run one at a time (across tabs too), the next
   * token is taken from every answer's `token`, and a `401` triggers one refresh and one retry.
   */
  request(path: string | URL, init?: RequestInit): Promise<Response>;
  /** Revokes the session at Keyward and forgets it. */
  logout(): Promise<void>;
  /** Whether a session is held (in this tab's view). */
  isLoggedIn(): Promise<boolean>;
  /** Called when this or another tab logs in, refreshes or logs out. Returns an unsubscribe function. */
  onSessionChange(listener: (loggedIn: boolean) => void): () => void;
  /** Closes the tab channel (browsers). */
  close(): void;
}

interface TokenAnswer {
  access_token?: unknown;
  token?: unknown;
  refresh_token?: unknown;
  mfa_required?: unknown;
  mfa_token?: unknown;
  methods?: unknown;
  expires_in?: unknown;
}

function sessionOf(body: TokenAnswer): Session {
  const accessToken = typeof body.access_token === 'string' ? body.access_token : body.token;
  if (typeof accessToken !== 'string' || typeof body.refresh_token !== 'string') {
    throw new KeywardError(502, 'bad_response', 'Keyward answered without tokens');
  }
  return { accessToken, refreshToken: body.refresh_token };
}

function isJson(response: Response): boolean {
  return (response.headers.get('content-type') ?? '').toLowerCase().includes('application/json');
}

/** Creates a client for one Keyward server. */
export function createClient(options: ClientOptions): KeywardClient {
  const base = new URL(options.baseUrl);
  const doFetch = options.fetch ?? ((input: URL, init?: RequestInit) => fetch(input, init));
  const name = options.sessionName ?? `keyward:${base.origin}${base.pathname}`;
  const g = globalThis as {
    navigator?: { locks?: LockManagerLike };
    indexedDB?: IdbFactoryLike;
    BroadcastChannel?: typeof BroadcastChannel;
  };
  const canShare =
    g.navigator?.locks !== undefined && g.indexedDB !== undefined && g.BroadcastChannel !== undefined;
  const share = (options.shareAcrossTabs ?? canShare) && canShare;
  const lock: SessionLock =
    share && g.navigator?.locks ? new WebLock(g.navigator.locks, name) : new MemoryLock();
  const store: SessionStore =
    share && g.indexedDB ? new IndexedDbSessionStore(g.indexedDB, name) : new MemorySessionStore();
  const channel = share && g.BroadcastChannel ? new g.BroadcastChannel(name) : undefined;
  const listeners = new Set<(loggedIn: boolean) => void>();
  if (channel) {
    channel.onmessage = (event: { data: { loggedIn?: unknown } }) => {
      for (const listener of listeners) listener(event.data.loggedIn === true);
    };
  }

  const url = (path: string | URL) => new URL(path, base);

  async function post(path: string, body: object): Promise<Response> {
    try {
      return await doFetch(url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (cause) {
      throw new KeywardError(0, 'network_error', 'Keyward could not be reached', { cause });
    }
  }

  async function save(session: Session | null, announce: boolean): Promise<void> {
    await store.set(session);
    if (!announce) return;
    for (const listener of listeners) listener(session !== null);
    channel?.postMessage({ loggedIn: session !== null });
  }

  async function finishLogin(response: Response): Promise<LoginResult> {
    if (!response.ok) throw await errorOf(response);
    const body = (await response.json()) as TokenAnswer;
    if (body.mfa_required === true && typeof body.mfa_token === 'string') {
      return {
        status: 'mfa_required',
        mfaToken: body.mfa_token,
        methods: Array.isArray(body.methods)
          ? body.methods.filter((m): m is string => typeof m === 'string')
          : [],
        expiresIn: typeof body.expires_in === 'number' ? body.expires_in : 0,
      };
    }
    const session = sessionOf(body);
    await lock.run(() => save(session, true));
    return { status: 'logged_in' };
  }

  /** Rotates the refresh token; null when the session is gone (it is then forgotten). */
  async function refresh(session: Session): Promise<Session | null> {
    const response = await post('/refresh_token', { refresh_token: session.refreshToken });
    if (response.status === 401) {
      await save(null, true);
      return null;
    }
    if (!response.ok) throw await errorOf(response);
    const next = sessionOf((await response.json()) as TokenAnswer);
    await save(next, false);
    return next;
  }

  /** One attempt with this session's access token; stores the next token the answer carries. */
  async function attempt(session: Session, path: string | URL, init: RequestInit): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${session.accessToken}`);
    let response: Response;
    try {
      response = await doFetch(url(path), { ...init, headers });
    } catch (cause) {
      throw new KeywardError(0, 'network_error', 'the request could not be sent', { cause });
    }
    if (isJson(response)) {
      const body = (await response
        .clone()
        .json()
        .catch(() => undefined)) as { token?: unknown } | undefined;
      if (typeof body?.token === 'string' && body.token !== session.accessToken) {
        await save({ ...session, accessToken: body.token }, false);
      }
    }
    return response;
  }

  /** Whether a 401 means "this access token is no good" (refresh), rather than an answer that already moved on. */
  async function tokenRejected(response: Response): Promise<boolean> {
    if (response.status !== 401) return false;
    if (!isJson(response)) return true;
    const body = (await response
      .clone()
      .json()
      .catch(() => ({}))) as { token?: unknown };
    return typeof body.token !== 'string';
  }

  return {
    async signup(username, password) {
      const response = await post('/user', { username, password });
      if (!response.ok) throw await errorOf(response);
      return ((await response.json()) as { user: User }).user;
    },

    async login(username, password, loginOptions = {}) {
      const result = await finishLogin(await post('/authenticate_user', { username, password }));
      if (result.status === 'mfa_required' && loginOptions.mfa) {
        const answer = await loginOptions.mfa(result);
        await this.verifyMfa(result.mfaToken, answer);
        return { status: 'logged_in' };
      }
      return result;
    },

    async verifyMfa(mfaToken, answer) {
      const result = await finishLogin(await post('/mfa/verify', { mfa_token: mfaToken, ...answer }));
      if (result.status !== 'logged_in') throw new KeywardError(502, 'bad_response', 'MFA was asked twice');
    },

    request(path, init = {}) {
      return lock.run(async () => {
        const session = await store.get();
        if (!session) throw new KeywardError(401, 'not_logged_in', 'Not logged in');
        const response = await attempt(session, path, init);
        if (!(await tokenRejected(response))) return response;
        // Inside the lock: however many requests were waiting, only this one refreshes, and the next ones
        // start from the refreshed session.
        const current = (await store.get()) ?? session;
        const next = await refresh(current);
        if (!next) return response;
        return attempt(next, path, init);
      });
    },

    async logout() {
      await lock.run(async () => {
        const session = await store.get();
        if (!session) return;
        try {
          await doFetch(url('/logout'), {
            method: 'POST',
            headers: { authorization: `Bearer ${session.accessToken}` },
          });
        } finally {
          await save(null, true);
        }
      });
    },

    async isLoggedIn() {
      return (await store.get()) !== null;
    },

    onSessionChange(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    close() {
      channel?.close();
      listeners.clear();
    },
  };
}

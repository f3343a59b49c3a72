// Structural types for the browser APIs used here, so that the package's types need no DOM library.
/** The part of `navigator.locks` used. */
export interface LockManagerLike {
  request<T>(name: string, options: { mode: 'exclusive' }, callback: () => Promise<T>): Promise<T>;
}
interface RequestLike<T> {
  result: T;
  error: unknown;
  onsuccess: (() => void) | null;
  onerror: (() => void) | null;
}
interface OpenRequestLike extends RequestLike<DatabaseLike> {
  onupgradeneeded: (() => void) | null;
}
interface ObjectStoreLike {
  get(key: string): RequestLike<unknown>;
  put(value: unknown, key: string): unknown;
  delete(key: string): unknown;
}
interface TransactionLike {
  objectStore(name: string): ObjectStoreLike;
  error: unknown;
  oncomplete: (() => void) | null;
  onerror: (() => void) | null;
}
interface DatabaseLike {
  createObjectStore(name: string): unknown;
  transaction(store: string, mode: 'readonly' | 'readwrite'): TransactionLike;
}
/** The part of `indexedDB` used. */
export interface IdbFactoryLike {
  open(name: string, version: number): OpenRequestLike;
}

function failure(error: unknown, fallback: string): Error {
  return error instanceof Error ? error : new Error(fallback);
}

/** The tokens of one logged-in session. */
export interface Session {
  accessToken: string;
  refreshToken: string;
}

/** Where the session lives between requests. */
export interface SessionStore {
  get(): Promise<Session | null>;
  set(session: Session | null): Promise<void>;
}

/** Runs one task at a time, in call order. */
export interface SessionLock {
  run<T>(task: () => Promise<T>): Promise<T>;
}

/** In memory: one client object, one session (Node, or a browser without IndexedDB). */
export class MemorySessionStore implements SessionStore {
  private session: Session | null = null;

  async get(): Promise<Session | null> {
    return this.session;
  }

  async set(session: Session | null): Promise<void> {
    this.session = session;
  }
}

/** A promise chain: each task starts when the previous one has settled. */
export class MemoryLock implements SessionLock {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Web Locks: one task at a time across every tab of the origin that uses the same name. */
export class WebLock implements SessionLock {
  constructor(
    private readonly locks: LockManagerLike,
    private readonly name: string,
  ) {}

  run<T>(task: () => Promise<T>): Promise<T> {
    return this.locks.request(this.name, { mode: 'exclusive' }, task);
  }
}

const DB_NAME = 'keyward-client';
const STORE = 'sessions';

function promised<T>(request: RequestLike<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => {
      resolve(request.result);
    };
    request.onerror = () => {
      reject(failure(request.error, 'IndexedDB request failed'));
    };
  });
}

/**
 * IndexedDB, shared by the tabs of one origin. Read inside the Web Lock, it always holds what the previous holder
 * wrote: a committed transaction is visible to every tab, which localStorage does not promise across processes.
 */
export class IndexedDbSessionStore implements SessionStore {
  private db: Promise<DatabaseLike> | undefined;

  constructor(
    private readonly factory: IdbFactoryLike,
    private readonly key: string,
  ) {}

  private open(): Promise<DatabaseLike> {
    this.db ??= new Promise((resolve, reject) => {
      const request = this.factory.open(DB_NAME, 1);
      request.onupgradeneeded = () => {
        request.result.createObjectStore(STORE);
      };
      request.onsuccess = () => {
        resolve(request.result);
      };
      request.onerror = () => {
        reject(failure(request.error, 'IndexedDB could not be opened'));
      };
    });
    return this.db;
  }

  async get(): Promise<Session | null> {
    const db = await this.open();
    const value = (await promised(db.transaction(STORE, 'readonly').objectStore(STORE).get(this.key))) as
      Session | undefined;
    return value ?? null;
  }

  async set(session: Session | null): Promise<void> {
    const db = await this.open();
    const tx = db.transaction(STORE, 'readwrite');
    const store = tx.objectStore(STORE);
    if (session) store.put(session, this.key);
    else store.delete(this.key);
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => {
        resolve();
      };
      tx.onerror = () => {
        reject(failure(tx.error, 'IndexedDB write failed'));
      };
    });
  }
}

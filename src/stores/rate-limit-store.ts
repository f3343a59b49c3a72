/** Where a key's fixed window stands: events counted in it and milliseconds until it ends. */
export interface RateLimitCount {
  count: number;
  /** Milliseconds until the window ends and the count starts again from zero (0 when there is no window). */
  resetInMs: number;
}

/**
 * Fixed-window event counters with a lifetime, for the rate limits of SPEC §4. A window starts at a key's first
 * event and lasts `windowMs`; when it ends the key is forgotten, so every limit lifts by itself. Each method is
 * one atomic step (a Lua script in Redis, a synchronous block in memory); `now` is epoch milliseconds.
 */
export interface RateLimitStore {
  readonly kind: string;
  /**
   * Counts one event under `key` (starting a window of `windowMs` if none is open) and returns the new count.
   * `group` names whose key it is (the client IP): a store with bounded room may cap the keys of one group.
   */
  hit(key: string, windowMs: number, now: number, group?: string): Promise<RateLimitCount>;
  /** Takes back one event counted by `hit` (the attempt turned out not to count); never goes below zero. */
  release(key: string, now: number): Promise<void>;
  /** Forgets the key and its window. */
  reset(key: string): Promise<void>;
  close(): Promise<void>;
}

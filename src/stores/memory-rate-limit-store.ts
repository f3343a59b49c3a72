import type { RateLimitCount, RateLimitStore } from './rate-limit-store.js';

interface Window {
  count: number;
  endsAt: number;
  group: string | undefined;
}

export interface MemoryRateLimitStoreOptions {
  /** Keys kept at most; beyond it the oldest windows are dropped first (bounded memory under a key spray). */
  maxKeys?: number;
  /**
   * Keys one group (one client IP) may hold at once. A hit that would open one more is refused as over any
   * limit instead, and evicts nothing: one IP cannot push out counters, its own lockouts included.
   */
  maxKeysPerGroup?: number;
}

const DEFAULT_MAX_KEYS = 1_000_000;
export const DEFAULT_MAX_KEYS_PER_GROUP = 1024;
const SWEEP_EVERY = 1024;

/** Rate-limit counters in this process (single instance; RATE_LIMIT counters reset on restart). */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  private readonly windows = new Map<string, Window>();
  /** The keys of each group, so that a group at its cap can drop its own ended windows. */
  private readonly groups = new Map<string, Set<string>>();
  private readonly maxKeys: number;
  private readonly maxKeysPerGroup: number;
  private hitsSinceSweep = 0;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.maxKeysPerGroup = options.maxKeysPerGroup ?? DEFAULT_MAX_KEYS_PER_GROUP;
  }

  /** Keys held now (expired ones that were not swept yet included). */
  get size(): number {
    return this.windows.size;
  }

  async hit(key: string, windowMs: number, now: number, group?: string): Promise<RateLimitCount> {
    this.maybeSweep(now);
    let window = this.live(key, now);
    if (!window) {
      if (group !== undefined && this.groupIsFull(group, now)) {
        return { count: Number.MAX_SAFE_INTEGER, resetInMs: windowMs };
      }
      window = { count: 0, endsAt: now + windowMs, group };
      this.windows.set(key, window);
      if (group !== undefined) {
        const keys = this.groups.get(group);
        if (keys) keys.add(key);
        else this.groups.set(group, new Set([key]));
      }
      this.evictOverflow();
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.endsAt - now };
  }

  async release(key: string, now: number): Promise<void> {
    const window = this.live(key, now);
    if (!window) return;
    if (window.count > 0) window.count -= 1;
    // Nothing left to remember: an abandoned attempt leaves no key behind to fill the store with.
    if (window.count === 0) this.drop(key, window);
  }

  async reset(key: string): Promise<void> {
    const window = this.windows.get(key);
    if (window) this.drop(key, window);
  }

  async close(): Promise<void> {
    this.windows.clear();
    this.groups.clear();
  }

  /** Whether the group holds its cap of live keys (its ended windows are dropped first: at most the cap of them). */
  private groupIsFull(group: string, now: number): boolean {
    const keys = this.groups.get(group);
    if (!keys || keys.size < this.maxKeysPerGroup) return false;
    for (const key of keys) this.live(key, now);
    return (this.groups.get(group)?.size ?? 0) >= this.maxKeysPerGroup;
  }

  private drop(key: string, window: Window): void {
    this.windows.delete(key);
    if (window.group === undefined) return;
    const keys = this.groups.get(window.group);
    keys?.delete(key);
    if (keys?.size === 0) this.groups.delete(window.group);
  }

  private live(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.endsAt <= now) {
      this.drop(key, window);
      return undefined;
    }
    return window;
  }

  private maybeSweep(now: number): void {
    this.hitsSinceSweep += 1;
    if (this.hitsSinceSweep < SWEEP_EVERY) return;
    this.hitsSinceSweep = 0;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.drop(key, window);
  }

  private evictOverflow(): void {
    // A Map iterates in insertion order: the first keys are the oldest windows.
    for (const [key, window] of this.windows) {
      if (this.windows.size <= this.maxKeys) return;
      this.drop(key, window);
    }
  }
}

import type { RateLimitCount, RateLimitStore } from './rate-limit-store.js';

interface Window {
  count: number;
  endsAt: number;
}

export interface MemoryRateLimitStoreOptions {
  /** Keys kept at most; beyond it the oldest windows are dropped first (bounded memory under a key spray). */
  maxKeys?: number;
}

const DEFAULT_MAX_KEYS = 1_000_000;
const SWEEP_EVERY = 1024;

/** Rate-limit counters in this process (single instance; RATE_LIMIT counters reset on restart). */
export class MemoryRateLimitStore implements RateLimitStore {
  readonly kind = 'memory';
  private readonly windows = new Map<string, Window>();
  private readonly maxKeys: number;
  private hitsSinceSweep = 0;

  constructor(options: MemoryRateLimitStoreOptions = {}) {
    this.maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  async hit(key: string, windowMs: number, now: number): Promise<RateLimitCount> {
    this.maybeSweep(now);
    let window = this.live(key, now);
    if (!window) {
      window = { count: 0, endsAt: now + windowMs };
      this.windows.set(key, window);
      this.evictOverflow();
    }
    window.count += 1;
    return { count: window.count, resetInMs: window.endsAt - now };
  }

  async release(key: string, now: number): Promise<void> {
    const window = this.live(key, now);
    if (window && window.count > 0) window.count -= 1;
  }

  async reset(key: string): Promise<void> {
    this.windows.delete(key);
  }

  async close(): Promise<void> {
    this.windows.clear();
  }

  private live(key: string, now: number): Window | undefined {
    const window = this.windows.get(key);
    if (window && window.endsAt <= now) {
      this.windows.delete(key);
      return undefined;
    }
    return window;
  }

  private maybeSweep(now: number): void {
    this.hitsSinceSweep += 1;
    if (this.hitsSinceSweep < SWEEP_EVERY) return;
    this.hitsSinceSweep = 0;
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }

  private evictOverflow(): void {
    // A Map iterates in insertion order: the first keys are the oldest windows.
    for (const key of this.windows.keys()) {
      if (this.windows.size <= this.maxKeys) return;
      this.windows.delete(key);
    }
  }
}

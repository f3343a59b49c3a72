import type { UserRepository } from '../repositories/user-repository.js';
import type { Metrics } from '../services/metrics.js';
import type { KeySet } from '../services/signing-keys.js';
import type { TokenStore } from '../stores/token-store.js';

export interface Readiness {
  ready: boolean;
  checks: { database: 'ok' | 'unavailable'; token_store: 'ok' | 'unavailable' };
}

/** What operators and other services ask of a running instance: readiness and the public keys. */
export class OpsFacade {
  private readonly jwksDocument: { keys: Record<string, string>[] };

  constructor(
    private readonly users: UserRepository,
    private readonly store: TokenStore,
    keys: KeySet,
    private readonly metricsRegistry: Metrics,
  ) {
    this.jwksDocument = {
      keys: [...keys.byKid.values()].flatMap((key) => (key.publicJwk ? [key.publicJwk] : [])),
    };
  }

  /** Database and token store reachable. */
  async readiness(): Promise<Readiness> {
    const [database, tokenStore] = await Promise.all([
      this.users.ping().then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      ),
      this.store.ping().then(
        () => 'ok' as const,
        () => 'unavailable' as const,
      ),
    ]);
    return { ready: database === 'ok' && tokenStore === 'ok', checks: { database, token_store: tokenStore } };
  }

  /** The Prometheus exposition of this instance's metrics (empty when metrics are not wired). */
  async metrics(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.metricsRegistry.contentType, text: await this.metricsRegistry.render() };
  }

  /** The public verification keys (empty in HS256 mode). */
  jwks(): { keys: Record<string, string>[] } {
    return this.jwksDocument;
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';

/** A confidential client's credentials as presented (HTTP Basic). */
export interface ClientCredentials {
  id: string;
  secret: string;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Checks client credentials against a fixed list (INTROSPECTION_CLIENTS). Secrets are compared as SHA-256 digests
 * with timingSafeEqual, so neither their length nor their first differing byte shows in the timing; an unknown id
 * is compared against a dummy digest so that it costs the same.
 */
export class ClientAuthenticator {
  private readonly secrets = new Map<string, Buffer>();
  private readonly dummy = digest('no such client');

  constructor(clients: readonly ClientCredentials[]) {
    for (const client of clients) this.secrets.set(client.id, digest(client.secret));
  }

  get configured(): boolean {
    return this.secrets.size > 0;
  }

  /** The client id when the credentials are those of a listed client, undefined otherwise. */
  authenticate(credentials: ClientCredentials | undefined): string | undefined {
    if (!credentials) return undefined;
    const expected = this.secrets.get(credentials.id);
    const ok = timingSafeEqual(digest(credentials.secret), expected ?? this.dummy);
    return ok && expected !== undefined ? credentials.id : undefined;
  }
}

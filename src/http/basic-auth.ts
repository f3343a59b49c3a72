import type { FastifyRequest } from 'fastify';
import type { ClientCredentials } from '../services/client-authenticator.js';

const BASIC = /^basic\s+([A-Za-z0-9+/=]{1,1024})\s*$/i;

function formDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The HTTP Basic credentials of a request (RFC 7617), with id and secret form-decoded as RFC 6749 §2.3.1 asks.
 * `undefined` when there is no Basic header; `null` when there is one that cannot be read.
 */
export function basicCredentials(request: FastifyRequest): ClientCredentials | undefined | null {
  const header = request.headers.authorization;
  if (header === undefined || !/^basic(\s|$)/i.test(header.trim())) return undefined;
  const match = BASIC.exec(header.trim());
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return null;
  const id = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  return id === undefined || secret === undefined ? null : { id, secret };
}

import type { FastifyRequest } from 'fastify';
import { DomainError } from '../errors.js';

const BEARER = /^bearer(?:\s+(.*))?$/is;

/**
 * The access token of a request: `Authorization: Bearer <token>` (scheme matched case-insensitively), or
 * `fallback` (the seed's `{token}` body field) when no Authorization header is sent.
 */
export function bearerToken(request: FastifyRequest, fallback?: string): string {
  const header = request.headers.authorization;
  if (header === undefined || header.trim() === '') {
    if (fallback !== undefined && fallback !== '') return fallback;
    throw new DomainError('token_missing');
  }
  const match = BEARER.exec(header.trim());
  if (!match) throw new DomainError('invalid_token');
  const token = match[1]?.trim() ?? '';
  if (token === '') throw new DomainError('token_missing');
  // Anything after the token (a second word) makes the header invalid rather than silently ignored.
  if (/\s/.test(token)) throw new DomainError('invalid_token');
  return token;
}

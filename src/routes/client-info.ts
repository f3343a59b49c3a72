import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from '../domain/client-info.js';

/**
 * The caller as recorded on a session and in audit events; `request.ip` honours X-Forwarded-For only when
 * TRUST_PROXY is set. The request id is Keyward's own or a checked `X-Request-Id` (app.ts).
 */
export function clientInfo(request: FastifyRequest): ClientInfo {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof agent === 'string' ? agent : '', requestId: request.id };
}

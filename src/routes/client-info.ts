import type { FastifyRequest } from 'fastify';
import type { ClientInfo } from '../services/session-service.js';

/** The caller as recorded on a session; `request.ip` honours X-Forwarded-For only when TRUST_PROXY is set. */
export function clientInfo(request: FastifyRequest): ClientInfo {
  const agent = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof agent === 'string' ? agent : '' };
}

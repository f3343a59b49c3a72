import { LogController, type FastifyReply, type FastifyRequest } from 'fastify';

/**
 * Fastify's per-request log lines, one access line per request instead of two.
 *
 * Fastify writes `incoming request` (with the request) when a request arrives and `request completed` (with the
 * status and time) when it ends, both at `info`. At the default `LOG_LEVEL=info` each line is a JSON object built,
 * redacted and written to stdout, on every request: with pino's redaction paths the two of them cost about as much
 * as the rest of an authenticated request (docs/performance-log.md). Here `request completed` carries the
 * request too (method, path, host, client address: the `req` serializer of src/deps.ts, which drops query
 * strings), so it is a full access line on its own, and `incoming request` moves to `debug`, where it is still
 * there for tracing a request that never completes.
 */
export class RequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    if (this.isLogDisabled(request)) return;
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    if (this.isLogDisabled(request)) return;
    if (error) {
      reply.log.error(
        { req: request, res: reply, err: error, responseTime: reply.elapsedTime },
        'request errored',
      );
    } else {
      reply.log.info({ req: request, res: reply, responseTime: reply.elapsedTime }, 'request completed');
    }
  }
}

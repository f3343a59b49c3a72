import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ERRORS, nextTokenOf, type ErrorCode } from '../errors.js';

interface ValidationIssue {
  instancePath?: string;
  message?: string;
  keyword?: string;
  params?: Record<string, unknown>;
}

function fieldOf(issue: ValidationIssue): string {
  const path = (issue.instancePath ?? '').replace(/^\//, '').replace(/\//g, '.');
  if (issue.keyword === 'required' && typeof issue.params?.missingProperty === 'string') {
    return path ? `${path}.${issue.params.missingProperty}` : issue.params.missingProperty;
  }
  return path;
}

/** A one-line message naming the offending field, e.g. `password must be string`. */
function validationMessage(issues: ValidationIssue[], context: string | undefined): string {
  const issue = issues[0];
  if (!issue) return 'Invalid request';
  const field = fieldOf(issue);
  if (issue.keyword === 'required') return `${field} is required`;
  if (!field)
    return context === 'body' ? 'request body must be a JSON object' : `${context ?? 'request'} is invalid`;
  return `${field} ${issue.message ?? 'is invalid'}`;
}

function send(
  reply: FastifyReply,
  code: ErrorCode,
  message: string,
  extra: { token?: string | undefined } = {},
): void {
  const body: Record<string, string> = { error: message, code };
  if (extra.token !== undefined) body.token = extra.token;
  void reply.status(ERRORS[code].status).send(body);
}

const FASTIFY_CODES: Record<number, ErrorCode> = {
  400: 'invalid_json',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/**
 * Errors Fastify raises before routing, which bypass the error handler: a malformed percent-encoding in the URL
 * and a path parameter over `maxParamLength` (both found by fuzzing DELETE /sessions/:id) would otherwise get
 * Fastify's own body instead of the envelope. An over-long parameter is the same 400 the schema gives to an id
 * over its own limit, rather than Fastify's 414.
 */
export function sendFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (error.code === 'FST_ERR_BAD_URL') {
    send(reply, 'validation_failed', 'URL is not valid (malformed percent-encoding)');
    return;
  }
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    send(reply, 'validation_failed', 'a path parameter is too long');
    return;
  }
  request.log.error({ err: error }, 'unexpected framework error');
  send(reply, 'internal_error', ERRORS.internal_error.message);
}

/** One error envelope for everything: domain errors, validation, body parsing and the unexpected. */
export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | DomainError, request: FastifyRequest, reply: FastifyReply) => {
    if (error instanceof DomainError) {
      if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
      if (error.code === 'store_unavailable') request.log.warn({ err: error.cause }, 'store unavailable');
      // RFC 7662 §2.1 by way of RFC 6749 §5.2: a client that failed HTTP Basic authentication is told the scheme.
      if (error.code === 'invalid_client') void reply.header('www-authenticate', 'Basic realm="keyward"');
      send(reply, error.code, error.message, { token: error.nextToken });
      return;
    }
    if (error.validation) {
      send(reply, 'validation_failed', validationMessage(error.validation, error.validationContext));
      return;
    }
    const status = error.statusCode ?? 500;
    const mapped = FASTIFY_CODES[status];
    if (status >= 400 && status < 500) {
      // Fastify's own client errors (bad JSON, size, media type, content length): the catalogue message, except
      // for 400s that are not about JSON syntax, whose Fastify message says what was wrong with the request.
      const code = mapped ?? 'validation_failed';
      const isJsonSyntax = error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError;
      const message = status === 400 && !isJsonSyntax ? error.message : ERRORS[code].message;
      send(reply, status === 400 && !isJsonSyntax ? 'validation_failed' : code, message);
      return;
    }
    request.log.error({ err: error }, 'unexpected error');
    // The request may have consumed the client's token before it failed: the next one goes with the 500.
    send(reply, 'internal_error', ERRORS.internal_error.message, { token: nextTokenOf(error) });
  });

  app.setNotFoundHandler((_request, reply) => {
    send(reply, 'not_found', ERRORS.not_found.message);
  });
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { VNode } from 'preact';
import { render } from 'preact-render-to-string';
import { DomainError, ERRORS } from '../errors.js';
import type { NoticeKey } from './messages.js';
import type { SessionCookie } from './session-cookie.js';
import type { PageContext } from './views/layout.js';

/** What every group of pages shares, built once by the portal plugin. */
export interface PageKit {
  session: SessionCookie;
  secureCookies: boolean;
  /** The CSRF token and sign-in state for a page about to be rendered. */
  context(reply: FastifyReply, signedIn: boolean): PageContext;
  /** The access token for a signed-in request; otherwise undefined, and the reply is a redirect to sign in. */
  signedIn(request: FastifyRequest, reply: FastifyReply): Promise<string | undefined>;
  /** Route options that check the form's CSRF token before the handler runs. */
  protect: {
    preHandler: (request: FastifyRequest, reply: FastifyReply, next: () => void) => void;
  };
}

/** Field lengths above the JSON API's schema limits are cut, never passed on whole. */
const MAX_FIELD = 4096;

export function field(request: FastifyRequest, name: string): string {
  const body = request.body as Record<string, unknown> | undefined;
  const value = body?.[name];
  return typeof value === 'string' ? value.slice(0, MAX_FIELD) : '';
}

export function html(reply: FastifyReply, page: VNode, status = 200): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(`<!doctype html>\n${render(page)}`);
}

export function failure(reply: FastifyReply, error: DomainError): number {
  if (error.retryAfter !== undefined) void reply.header('retry-after', String(error.retryAfter));
  return ERRORS[error.code].status;
}

/** A DomainError a form shows next to its fields; a dead session is not one (the error handler signs out). */
export function formError(error: unknown): DomainError {
  if (error instanceof DomainError && error.code !== 'invalid_token' && error.code !== 'token_missing')
    return error;
  throw error;
}

export function done(reply: FastifyReply, path: string, notice?: NoticeKey): FastifyReply {
  return reply.redirect(notice === undefined ? path : `${path}?done=${notice}`, 303);
}

import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, {
  type FastifyInstance,
  type preValidationHookHandler,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RawServerDefault,
} from 'fastify';
import type { Config } from './config.js';
import type { Deps } from './deps.js';
import { DomainError } from './errors.js';
import { registerErrorHandler, sendFrameworkError } from './http/error-handler.js';
import { lingerAfterResponse } from './http/lingering-close.js';
import { registerOpenApi } from './http/openapi.js';
import { RequestLog } from './http/request-log.js';
import { portalPages } from './portal/pages.js';
import './http/route-config.js';
import { accountRoutes } from './routes/account-routes.js';
import { adminRoutes } from './routes/admin-routes.js';
import { authRoutes } from './routes/auth-routes.js';
import { mfaRoutes } from './routes/mfa-routes.js';
import { oauthRoutes } from './routes/oauth-routes.js';
import { opsRoutes } from './routes/ops-routes.js';
import { sessionRoutes } from './routes/session-routes.js';
import { userRoutes } from './routes/user-routes.js';

export const VERSION = '0.1.0';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function takesBearerToken(schema: unknown): boolean {
  const security = (schema as { security?: Record<string, unknown>[] } | undefined)?.security;
  return security?.some((requirement) => 'bearer' in requirement) ?? false;
}

/** HTTP wiring only: Fastify, schemas, the error envelope and the routes over the facades of `deps`. */
export async function buildApp(config: Config, deps: Deps): Promise<FastifyInstance> {
  const app = Fastify<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression>({
    loggerInstance: deps.logger,
    logController: new RequestLog(),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    // Slow clients cannot hold a connection forever (docs/deployment.md, Timeouts). Node checks the header and
    // request deadlines every connectionsCheckingInterval (30 s by default, far coarser than the deadlines).
    requestTimeout: config.http.requestTimeoutMs,
    keepAliveTimeout: config.http.keepAliveTimeoutMs,
    connectionTimeout: config.http.socketTimeoutMs,
    http: {
      headersTimeout: config.http.headersTimeoutMs,
      requestTimeout: config.http.requestTimeoutMs,
      connectionsCheckingInterval: 1000,
    },
    // During a graceful shutdown a request that still arrives on an open keep-alive connection is served (with
    // `Connection: close`, see server.ts) rather than refused with a body outside the error envelope.
    return503OnClosing: false,
    // Not `'x-request-id'`: Fastify would then take the header as is and never call genReqId, which is where a
    // client-chosen id is checked before it reaches the logs and the response.
    requestIdHeader: false,
    genReqId: (request) => {
      const given = request.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    ajv: {
      // Types are checked, never coerced: `"password": 12345678` is a 400, not a password.
      customOptions: { coerceTypes: false, removeAdditional: true, useDefaults: true, allErrors: false },
    },
    routerOptions: { maxParamLength: 200 },
    frameworkErrors: sendFrameworkError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  registerErrorHandler(app);

  // An empty body with a JSON content type is treated as no body (clients often send the header anyway);
  // everything else goes through Fastify's parser, which rejects prototype-poisoning keys.
  app.removeAllContentTypeParsers();
  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body.toString();
    if (text.trim() === '') {
      done(null, undefined);
      return;
    }
    void jsonParser(request, text, done);
  });

  // Routes whose body is optional (the token may come in the Authorization header instead) see `{}`. The hook
  // is attached to those routes only. Hooks on every request are synchronous, callback-style: an async hook
  // costs a promise and a microtask per request on the hot path.
  app.addHook('onRoute', (route) => {
    // Fastify answers HEAD on every GET route by running the GET handler. On a route that takes a bearer token
    // that would consume a single-use token and drop its successor with the body a HEAD answer never has.
    if (route.method === 'HEAD' && takesBearerToken(route.schema)) {
      route.handler = (_request, reply) => {
        void reply.header('allow', 'GET');
        throw new DomainError('method_not_allowed');
      };
      return;
    }
    if (route.config?.optionalBody !== true) return;
    const existing = route.preValidation;
    const emptyBody: preValidationHookHandler = (request, _reply, done) => {
      if (request.body === undefined) request.body = {};
      done();
    };
    route.preValidation = [...(Array.isArray(existing) ? existing : existing ? [existing] : []), emptyBody];
  });

  app.addHook('onSend', (request, reply, payload, done) => {
    void reply.header('x-request-id', request.id);
    const cacheControl = reply.getHeader('cache-control') ?? 'no-store';
    void reply.header('cache-control', cacheControl);
    // RFC 6749 §5.1: token answers carry Pragma beside Cache-Control, for HTTP/1.0 caches.
    if (cacheControl === 'no-store') void reply.header('pragma', 'no-cache');
    void reply.header('x-content-type-options', 'nosniff');
    // JSON is never a document to render or frame; /docs (Swagger UI) sets its own policy.
    if (!reply.hasHeader('content-security-policy')) {
      void reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
    }
    // Answered before the body was read to its end (413, or a refusal before the body mattered): the connection
    // cannot carry another request, and it must not reset the client before the client has read this answer.
    if (!request.raw.complete) {
      void reply.header('connection', 'close');
      lingerAfterResponse(request.raw.socket);
    }
    done(null, payload);
  });

  // Labelled by route template (`/sessions/:id`), never the raw URL, so that label values stay few.
  app.addHook('onResponse', (request, reply, done) => {
    deps.metrics.httpDuration.observe(
      {
        method: request.method,
        route: request.routeOptions.url ?? 'unmatched',
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
    done();
  });
  app.addHook('onError', async (_request, _reply, error) => {
    if (error instanceof DomainError && error.code === 'store_unavailable') deps.metrics.storeErrors.inc();
  });

  if (config.corsOrigins.length > 0) {
    await app.register(cors, { origin: config.corsOrigins, methods: ['GET', 'POST', 'PUT', 'DELETE'] });
  }
  await registerOpenApi(app, VERSION);

  await app.register(userRoutes, { users: deps.userFacade });
  await app.register(authRoutes, { auth: deps.authFacade });
  await app.register(sessionRoutes, { auth: deps.authFacade });
  await app.register(mfaRoutes, { mfa: deps.mfaFacade });
  await app.register(opsRoutes, { ops: deps.opsFacade });
  await app.register(accountRoutes, { accounts: deps.accountFacade });
  await app.register(adminRoutes, { admin: deps.adminFacade });
  await app.register(oauthRoutes, { oauth: deps.oauthFacade });
  if (config.portal.enabled) {
    await app.register(portalPages, {
      prefix: '/account',
      config,
      users: deps.userFacade,
      auth: deps.authFacade,
      email: {
        account: deps.accountFacade,
        resetTtlSec: config.mail.resetTtlSec,
        verifyTtlSec: config.mail.verificationTtlSec,
      },
      mfa: {
        facade: deps.mfaFacade,
        enabled: async (token: string) => (await deps.userFacade.get(token)).user.mfa_enabled,
      },
    });
  }

  return app;
}

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { OpsFacade } from '../facades/ops-facade.js';

const Check = Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]);
const ReadyResponse = Type.Object({
  status: Type.String(),
  checks: Type.Object({ database: Check, token_store: Check }),
});

/** Health, readiness and the JWKS. */
export const opsRoutes: FastifyPluginAsyncTypebox<{ ops: OpsFacade }> = async (app, { ops }) => {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Process alive',
        tags: ['ops'],
        response: { 200: Type.Object({ status: Type.String() }) },
      },
    },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        summary: 'Database and token store reachable',
        tags: ['ops'],
        response: { 200: ReadyResponse, 503: ReadyResponse },
      },
    },
    async (_request, reply) => {
      const readiness = await ops.readiness();
      return reply
        .status(readiness.ready ? 200 : 503)
        .send({ status: readiness.ready ? 'ok' : 'unavailable', checks: readiness.checks });
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics (text exposition format)',
        description:
          'Request latency, logins, password-hash time, tokens, refresh reuse, rate-limit hits, store errors. ' +
          'Expose it to your monitoring network only.',
        tags: ['ops'],
        produces: ['text/plain'],
      },
    },
    async (_request, reply) => {
      const { contentType, text } = await ops.metrics();
      return reply.type(contentType).send(text);
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      schema: {
        summary: 'Public keys that verify access tokens (RFC 7517)',
        tags: ['ops'],
        response: {
          200: Type.Object({ keys: Type.Array(Type.Record(Type.String(), Type.String())) }),
        },
      },
    },
    async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(ops.jwks()),
  );
};

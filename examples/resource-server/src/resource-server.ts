import {
  createVerifier,
  fastifyGuard,
  keywardFastify,
  requireRoles,
  type KeywardClaims,
} from '@keyward/verify';
import Fastify, { type FastifyInstance } from 'fastify';

export interface ResourceServerOptions {
  /** Keyward's base URL. */
  keywardUrl: string;
  issuer?: string;
  audience?: string;
  /** Ask Keyward's /introspect too (a revoked session then counts within a second). */
  introspection?: { clientId: string; clientSecret: string };
}

/** A tiny orders API: every route needs a Keyward token, the report needs role `admin`. */
export async function createResourceServer(options: ResourceServerOptions): Promise<FastifyInstance> {
  const verifier = createVerifier({
    jwksUrl: new URL('/.well-known/jwks.json', options.keywardUrl),
    issuer: options.issuer ?? 'keyward',
    audience: options.audience ?? 'keyward',
    introspection: options.introspection && {
      url: new URL('/introspect', options.keywardUrl),
      ...options.introspection,
      cacheSeconds: 1,
    },
  });
  const app = Fastify();
  await app.register(async (api) => {
    await api.register(keywardFastify, { verifier });
    const who = (request: unknown): KeywardClaims => (request as { keyward: KeywardClaims }).keyward;
    api.get('/orders', async (request) => ({
      owner: who(request).sub,
      orders: [{ id: 1, item: 'keyboard' }],
    }));
    api.get('/report', { onRequest: fastifyGuard(verifier, requireRoles('admin')) }, async (request) => ({
      for: who(request).sub,
      total: 1,
    }));
  });
  return app;
}

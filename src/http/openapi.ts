import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/** The OpenAPI 3 document (built from the route schemas) at /openapi.json and Swagger UI at /docs. */
export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Keyward',
        version,
        description:
          'Self-hosted authentication API: JWT access tokens that can really be revoked, sessions, refresh tokens.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          basic: { type: 'http', scheme: 'basic', description: 'An INTROSPECTION_CLIENTS id and secret' },
        },
      },
      tags: [
        { name: 'users', description: 'Accounts (the seed routes)' },
        { name: 'auth', description: 'Login, validation, refresh, logout' },
        { name: 'sessions', description: 'Session management' },
        { name: 'account', description: 'Email verification and password recovery' },
        { name: 'ops', description: 'Health, readiness, keys, metrics' },
        { name: 'admin', description: 'User administration (role admin)' },
        { name: 'oauth', description: 'RFC 7662 introspection and RFC 7009 revocation' },
      ],
    },
  });
  // Served from the package's own assets: no CDN.
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

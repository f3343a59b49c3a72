import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { KEYWARD_LOGO, KEYWARD_MARK } from './keyward-logo.js';

/**
 * Swagger UI's page loads only its own scripts, styles and the document, from this origin. Its React components
 * set `style` attributes, hence `'unsafe-inline'` for styles only (no script runs inline); images include the
 * data: URLs of its icons. Checked in Chromium (test/http/http-edges.test.ts): the UI renders the document with
 * no policy violation.
 */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

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
        { name: 'mfa', description: 'Second factor: TOTP and recovery codes' },
        { name: 'account', description: 'Email verification and password recovery' },
        { name: 'ops', description: 'Health, readiness, keys, metrics' },
        { name: 'admin', description: 'User administration (role admin)' },
        { name: 'oauth', description: 'RFC 7662 introspection and RFC 7009 revocation' },
      ],
    },
  });
  // Served from the package's own assets: no CDN. Keyward's name, logo and favicon, not the framework's.
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: DOCS_CSP,
    logo: { type: 'image/svg+xml', content: KEYWARD_LOGO, href: '/docs', target: '_self' },
    theme: {
      title: 'Keyward API',
      favicon: [
        { filename: 'keyward.svg', rel: 'icon', type: 'image/svg+xml', sizes: 'any', content: KEYWARD_MARK },
      ],
    },
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

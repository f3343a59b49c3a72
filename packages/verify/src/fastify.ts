import { asVerifyError, authenticate, challenge } from './authenticate.js';
import type { ClaimsCheck } from './roles.js';
import type { KeywardClaims, Verifier } from './verifier.js';

/** The parts of Fastify's request and reply the hook uses (no dependency on Fastify itself). */
export interface FastifyLikeRequest {
  headers: { authorization?: string | undefined };
  keyward?: KeywardClaims | null;
}
export interface FastifyLikeReply {
  code(status: number): FastifyLikeReply;
  header(name: string, value: string): FastifyLikeReply;
  send(body: unknown): unknown;
}

/**
 * A Fastify `onRequest`/`preHandler` hook for one route or one scope: verifies the bearer token, runs the checks
 * and sets `request.keyward`; answers `401`/`403`/`503` with `{"error","code"}` otherwise.
 */
export function fastifyGuard(
  verifier: Verifier,
  ...checks: ClaimsCheck[]
): (request: FastifyLikeRequest, reply: FastifyLikeReply) => Promise<void> {
  return async (request, reply) => {
    try {
      request.keyward = await authenticate(verifier, request.headers.authorization, ...checks);
    } catch (error) {
      const refusal = asVerifyError(error);
      const header = challenge(refusal);
      if (header) reply.header('WWW-Authenticate', header);
      await reply.code(refusal.status).send(refusal.toJSON());
    }
  };
}

export interface KeywardPluginOptions {
  verifier: Verifier;
  /** Checks every request of the scope must pass, e.g. `[requireRoles('reader')]`. */
  checks?: ClaimsCheck[];
}

/** Any Fastify instance (typed loosely: this package does not depend on Fastify's types). */
interface FastifyLikeInstance {
  decorateRequest: (...args: never[]) => unknown;
  addHook: (...args: never[]) => unknown;
}

type Register = (name: string, value: unknown) => unknown;

type KeywardPlugin = ((app: FastifyLikeInstance, options: KeywardPluginOptions) => Promise<void>) & {
  [key: symbol]: unknown;
};

/**
 * A Fastify plugin: every route of the scope it is registered in (and, like fastify-plugin, of its parent) requires
 * a valid Keyward token; the claims are on `request.keyward`.
 */
export const keywardFastify: KeywardPlugin = Object.assign(
  async (app: FastifyLikeInstance, options: KeywardPluginOptions) => {
    (app.decorateRequest as Register).call(app, 'keyward', null);
    (app.addHook as Register).call(
      app,
      'onRequest',
      fastifyGuard(options.verifier, ...(options.checks ?? [])),
    );
  },
  {
    // What fastify-plugin sets: the hook applies to the scope the plugin is registered in, not a child of it.
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: '@keyward/verify',
  },
);

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthFacade } from '../facades/auth-facade.js';
import { bearerToken } from '../http/bearer.js';
import { ListSessionsSchema, LogoutAllSchema, RevokeSessionSchema } from '../schemas/auth.js';
import { clientInfo } from './client-info.js';

/** Session management: list, revoke one, revoke all. */
export const sessionRoutes: FastifyPluginAsyncTypebox<{ auth: AuthFacade }> = async (app, { auth }) => {
  app.get('/sessions', { schema: ListSessionsSchema }, async (request) =>
    auth.listSessions(bearerToken(request)),
  );

  app.delete('/sessions/:id', { schema: RevokeSessionSchema }, async (request) =>
    auth.revokeSession(bearerToken(request), request.params.id, clientInfo(request)),
  );

  app.post('/logout_all', { schema: LogoutAllSchema }, async (request) =>
    auth.logoutAll(bearerToken(request), clientInfo(request)),
  );
};

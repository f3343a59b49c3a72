import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AuthFacade } from '../facades/auth-facade.js';
import { bearerToken } from '../http/bearer.js';
import { AuthenticateSchema, LogoutSchema, RefreshSchema, ValidateTokenSchema } from '../schemas/auth.js';
import { clientInfo } from './client-info.js';

/** The seed's authentication routes, plus refresh. */
export const authRoutes: FastifyPluginAsyncTypebox<{ auth: AuthFacade }> = async (app, { auth }) => {
  app.post('/authenticate_user', { schema: AuthenticateSchema }, async (request) =>
    auth.authenticate(request.body.username, request.body.password, clientInfo(request)),
  );

  app.post(
    '/validate_token',
    { schema: ValidateTokenSchema, config: { optionalBody: true } },
    async (request) => auth.validate(bearerToken(request, request.body.token)),
  );

  app.post('/logout', { schema: LogoutSchema, config: { optionalBody: true } }, async (request) =>
    auth.logout(bearerToken(request, request.body.token), clientInfo(request)),
  );

  app.post('/refresh_token', { schema: RefreshSchema }, async (request) =>
    auth.refresh(request.body.refresh_token, clientInfo(request)),
  );
};

import formbody from '@fastify/formbody';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { OAuthFacade } from '../facades/oauth-facade.js';
import { basicCredentials } from '../http/basic-auth.js';
import { IntrospectSchema, RevokeSchema } from '../schemas/oauth.js';
import { clientInfo } from './client-info.js';

/**
 * RFC 7662 `POST /introspect` and RFC 7009 `POST /revoke`. Both RFCs send form-encoded bodies: the form parser is
 * registered here, inside this plugin, so that every other route keeps accepting JSON only.
 */
export const oauthRoutes: FastifyPluginAsyncTypebox<{ oauth: OAuthFacade }> = async (app, { oauth }) => {
  await app.register(formbody);

  app.post('/introspect', { schema: IntrospectSchema }, async (request) =>
    oauth.introspect(basicCredentials(request), request.body.token),
  );

  app.post('/revoke', { schema: RevokeSchema }, async (request) =>
    oauth.revoke(
      basicCredentials(request),
      request.body.token,
      request.body.token_type_hint,
      clientInfo(request),
    ),
  );
};

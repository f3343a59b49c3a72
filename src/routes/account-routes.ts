import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AccountFacade } from '../facades/account-facade.js';
import { bearerToken } from '../http/bearer.js';
import {
  ForgotPasswordSchema,
  RequestVerificationSchema,
  ResetPasswordSchema,
  VerifyEmailSchema,
} from '../schemas/account.js';
import { clientInfo } from './client-info.js';

/** Email verification and password recovery (SPEC §9). */
export const accountRoutes: FastifyPluginAsyncTypebox<{ accounts: AccountFacade }> = async (
  app,
  { accounts },
) => {
  app.post(
    '/email/verification',
    { schema: RequestVerificationSchema, config: { optionalBody: true } },
    async (request, reply) =>
      reply.status(202).send(await accounts.requestVerification(bearerToken(request), clientInfo(request))),
  );

  app.post('/email/verify', { schema: VerifyEmailSchema }, async (request) =>
    accounts.verifyEmail(request.body.token, clientInfo(request)),
  );

  app.post('/password/forgot', { schema: ForgotPasswordSchema }, async (request, reply) =>
    reply.status(202).send(await accounts.forgotPassword(request.body.login, clientInfo(request))),
  );

  app.post('/password/reset', { schema: ResetPasswordSchema }, async (request) =>
    accounts.resetPassword(request.body.token, request.body.password, clientInfo(request)),
  );
};

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { MfaFacade } from '../facades/mfa-facade.js';
import { bearerToken } from '../http/bearer.js';
import {
  MfaConfirmSchema,
  MfaDisableSchema,
  MfaSetupSchema,
  MfaVerifySchema,
  RecoveryCodesSchema,
} from '../schemas/mfa.js';
import { clientInfo } from './client-info.js';

/** The second factor (SPEC §10): TOTP enrolment, the login's second step, disabling, recovery codes. */
export const mfaRoutes: FastifyPluginAsyncTypebox<{ mfa: MfaFacade }> = async (app, { mfa }) => {
  app.post('/mfa/totp/setup', { schema: MfaSetupSchema }, async (request) =>
    mfa.setup(bearerToken(request), request.body.current_password, clientInfo(request)),
  );

  app.post('/mfa/totp/confirm', { schema: MfaConfirmSchema }, async (request) =>
    mfa.confirm(bearerToken(request), request.body.code, clientInfo(request)),
  );

  app.post('/mfa/verify', { schema: MfaVerifySchema }, async (request) =>
    mfa.verify(
      request.body.mfa_token,
      { code: request.body.code, recoveryCode: request.body.recovery_code },
      clientInfo(request),
    ),
  );

  app.post('/mfa/totp/disable', { schema: MfaDisableSchema }, async (request) =>
    mfa.disable(
      bearerToken(request),
      request.body.current_password,
      { code: request.body.code, recoveryCode: request.body.recovery_code },
      clientInfo(request),
    ),
  );

  app.post('/mfa/recovery_codes', { schema: RecoveryCodesSchema }, async (request) =>
    mfa.regenerateRecoveryCodes(bearerToken(request), request.body.current_password, clientInfo(request)),
  );
};

export { VerifyError, type VerifyErrorCode } from './errors.js';
export {
  createVerifier,
  type IntrospectionOptions,
  type KeywardClaims,
  type Verifier,
  type VerifierOptions,
} from './verifier.js';
export { requireRoles, type ClaimsCheck } from './roles.js';
export { authenticate, bearerToken } from './authenticate.js';
export { expressMiddleware, type ExpressLikeRequest, type ExpressLikeResponse } from './express.js';
export {
  fastifyGuard,
  keywardFastify,
  type FastifyLikeReply,
  type FastifyLikeRequest,
  type KeywardPluginOptions,
} from './fastify.js';

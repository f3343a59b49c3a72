import { Type, type Static } from 'typebox';
import { BEARER_OR_BODY, errorResponses, Message, NextToken } from './common.js';
import { MfaRequiredResponse } from './mfa.js';

export const Credentials = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 256 }),
  password: Type.String({ minLength: 1, maxLength: 4096 }),
});
export type Credentials = Static<typeof Credentials>;

export const TokenBody = Type.Object({
  token: Type.Optional(
    Type.String({ description: 'The access token, when not sent as `Authorization: Bearer`.' }),
  ),
});
export type TokenBody = Static<typeof TokenBody>;

export const RefreshBody = Type.Object({ refresh_token: Type.String({ minLength: 1, maxLength: 1024 }) });
export type RefreshBody = Static<typeof RefreshBody>;

export const TokenResponse = Type.Object(
  {
    token: Type.String({ description: 'The access token (seed field name).' }),
    access_token: Type.String({ description: 'The same value as `token`.' }),
    token_type: Type.Literal('Bearer'),
    expires_in: Type.Integer({ description: 'The access token lifetime in seconds.' }),
    refresh_token: Type.String(),
  },
  { title: 'TokenResponse' },
);

export const AuthenticateSchema = {
  summary: 'Log in with username and password',
  description:
    'For a user with two-factor authentication, the answer is an `mfa_token` for `POST /mfa/verify` instead of ' +
    'tokens (only once the password is right).',
  tags: ['auth'],
  body: Credentials,
  response: {
    200: Type.Union([TokenResponse, MfaRequiredResponse]),
    ...errorResponses(400, 401, 413, 415, 429, 503),
  },
};

export const ValidateTokenSchema = {
  summary: 'Validate an access token and renew it (the presented token is consumed)',
  tags: ['auth'],
  security: BEARER_OR_BODY,
  body: TokenBody,
  response: {
    200: Type.Object({
      message: Message,
      token: NextToken,
      user_id: Type.Integer(),
      expires_in: Type.Integer(),
    }),
    ...errorResponses(400, 401, 413, 415, 503),
  },
};

export const LogoutSchema = {
  summary: 'Revoke the session of the presented token',
  tags: ['auth'],
  security: BEARER_OR_BODY,
  body: TokenBody,
  response: { 200: Type.Object({ message: Message }), ...errorResponses(400, 401, 413, 415, 503) },
};

export const RefreshSchema = {
  summary: 'Rotate a refresh token into a new access and refresh token',
  tags: ['auth'],
  body: RefreshBody,
  response: { 200: TokenResponse, ...errorResponses(400, 401, 413, 415, 503) },
};

export const LogoutAllSchema = {
  summary: 'Revoke every session of the current user, the current one included',
  tags: ['sessions'],
  security: [{ bearer: [] }],
  response: {
    200: Type.Object({ message: Message, revoked: Type.Integer() }),
    ...errorResponses(400, 401, 413, 415, 503),
  },
};

export const SessionView = Type.Object(
  {
    id: Type.String({ description: "Equals the access tokens' `sid` claim." }),
    created_at: Type.String({ format: 'date-time' }),
    last_used_at: Type.String({ format: 'date-time' }),
    user_agent: Type.String(),
    ip: Type.String(),
    current: Type.Boolean(),
  },
  { title: 'Session' },
);

export const ListSessionsSchema = {
  summary: "The current user's live sessions",
  tags: ['sessions'],
  security: [{ bearer: [] }],
  response: {
    200: Type.Object({ sessions: Type.Array(SessionView), token: NextToken }),
    ...errorResponses(401, 503),
  },
};

export const SessionParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });
export type SessionParams = Static<typeof SessionParams>;

export const RevokeSessionSchema = {
  summary: 'Revoke one of the current user’s sessions',
  tags: ['sessions'],
  security: [{ bearer: [] }],
  params: SessionParams,
  response: {
    200: Type.Object({ message: Message, token: NextToken }),
    ...errorResponses(400, 401, 404, 413, 415, 503),
  },
};

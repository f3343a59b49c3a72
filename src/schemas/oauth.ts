import { Type, type Static } from 'typebox';
import { errorResponses } from './common.js';

const TokenField = Type.String({ maxLength: 16384, description: 'The token (access or refresh).' });

export const IntrospectBody = Type.Object({
  token: TokenField,
  token_type_hint: Type.Optional(Type.String({ maxLength: 64 })),
});
export type IntrospectBody = Static<typeof IntrospectBody>;

export const RevokeBody = Type.Object({
  token: TokenField,
  token_type_hint: Type.Optional(
    Type.String({
      maxLength: 64,
      description: '`access_token` or `refresh_token`; only orders the look-ups.',
    }),
  ),
});
export type RevokeBody = Static<typeof RevokeBody>;

const IntrospectionResponse = Type.Object(
  {
    active: Type.Boolean(),
    token_type: Type.Optional(Type.Literal('access_token')),
    sub: Type.Optional(Type.String()),
    user_id: Type.Optional(Type.Integer()),
    sid: Type.Optional(Type.String()),
    roles: Type.Optional(Type.Array(Type.String())),
    iss: Type.Optional(Type.String()),
    aud: Type.Optional(Type.String()),
    iat: Type.Optional(Type.Integer()),
    exp: Type.Optional(Type.Integer()),
    jti: Type.Optional(Type.String()),
  },
  {
    title: 'Introspection',
    description: 'RFC 7662 §2.2: `{"active":false}` alone for anything not a live access token.',
  },
);

const FORM_OR_JSON = ['application/x-www-form-urlencoded', 'application/json'];

export const IntrospectSchema = {
  summary: 'RFC 7662 token introspection (HTTP Basic client authentication; never consumes the token)',
  tags: ['oauth'],
  security: [{ basic: [] }],
  consumes: FORM_OR_JSON,
  body: IntrospectBody,
  response: { 200: IntrospectionResponse, ...errorResponses(400, 401, 413, 415, 503) },
};

export const RevokeSchema = {
  summary:
    "RFC 7009 token revocation: a valid refresh or access token's session is revoked; 200 for any token",
  tags: ['oauth'],
  security: [{}, { basic: [] }] as Record<string, string[]>[],
  consumes: FORM_OR_JSON,
  body: RevokeBody,
  response: {
    200: Type.Object({}, { description: 'Empty: the answer is the same whatever the token was.' }),
    ...errorResponses(400, 401, 413, 415, 503),
  },
};

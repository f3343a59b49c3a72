import { Type, type Static } from 'typebox';

export const ErrorResponse = Type.Object(
  {
    error: Type.String({ description: 'Human-readable message (stable for the seed routes).' }),
    code: Type.String({ description: 'Stable snake_case error code.' }),
    token: Type.Optional(
      Type.String({
        description: 'The next access token, when the request had already consumed the presented one.',
      }),
    ),
  },
  { $id: 'ErrorResponse', title: 'Error' },
);
export type ErrorResponse = Static<typeof ErrorResponse>;

export const UserView = Type.Object(
  {
    id: Type.Integer(),
    username: Type.String({ description: 'As stored (NFKC form).' }),
    mfa_enabled: Type.Boolean({ description: 'Two-factor authentication (TOTP) is on.' }),
    email: Type.Union([Type.String(), Type.Null()], {
      description: 'Trimmed, domain lower-cased; null when the account has none.',
    }),
    email_verified: Type.Boolean({
      description: 'True once the current email was confirmed by a mailed token.',
    }),
    roles: Type.Array(Type.String(), {
      description: "The user's roles (SPEC §12), sorted; none by default.",
    }),
  },
  { title: 'User' },
);

export const Message = Type.String();
export const NextToken = Type.String({ description: 'The access token to use on the next request.' });

/** Error responses shared by every route, by status. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorResponse> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorResponse]));
}

/** Routes that read the token from the Authorization header or, failing that, from the body. */
export const BEARER_OR_BODY: Record<string, string[]>[] = [{ bearer: [] }, {}];

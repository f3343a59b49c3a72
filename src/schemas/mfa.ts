import { Type, type Static } from 'typebox';
import { errorResponses, Message, NextToken } from './common.js';

const CurrentPassword = Type.String({
  maxLength: 4096,
  description: "The account's password, checked again (403 when wrong).",
});
const Code = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'A 6-digit TOTP code from the authenticator app.',
});
const RecoveryCode = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'One of the recovery codes (case, dashes and spaces do not matter); each works once.',
});
const RecoveryCodes = Type.Array(Type.String(), {
  minItems: 10,
  maxItems: 10,
  description: 'Ten single-use recovery codes, shown this once: only their hashes are stored.',
});

export const MfaPasswordBody = Type.Object({ current_password: CurrentPassword });
export type MfaPasswordBody = Static<typeof MfaPasswordBody>;

export const MfaConfirmBody = Type.Object({ code: Code });
export type MfaConfirmBody = Static<typeof MfaConfirmBody>;

export const MfaVerifyBody = Type.Object({
  mfa_token: Type.String({ minLength: 1, maxLength: 256, description: 'From POST /authenticate_user.' }),
  code: Type.Optional(Code),
  recovery_code: Type.Optional(RecoveryCode),
});
export type MfaVerifyBody = Static<typeof MfaVerifyBody>;

export const MfaDisableBody = Type.Object({
  current_password: CurrentPassword,
  code: Type.Optional(Code),
  recovery_code: Type.Optional(RecoveryCode),
});
export type MfaDisableBody = Static<typeof MfaDisableBody>;

/** The answer of POST /authenticate_user for a user with a second factor: no access token yet. */
export const MfaRequiredResponse = Type.Object(
  {
    mfa_required: Type.Literal(true),
    mfa_token: Type.String({ description: 'Opaque; for POST /mfa/verify within `expires_in` seconds.' }),
    methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code')])),
    expires_in: Type.Integer({ description: 'Seconds the mfa_token lives (300).' }),
  },
  { title: 'MfaRequired' },
);

export const MfaSetupSchema = {
  summary: 'Start TOTP enrolment: a new secret and its otpauth:// URL (pending until confirmed)',
  tags: ['mfa'],
  security: [{ bearer: [] }],
  body: MfaPasswordBody,
  response: {
    200: Type.Object({
      secret: Type.String({ description: 'Base32 (RFC 6238: SHA-1, 6 digits, 30 s).' }),
      otpauth_url: Type.String({ description: 'Key Uri Format, for a QR code.' }),
      token: NextToken,
    }),
    // 429: a wrong current_password counts as a failed login for (username, IP).
    ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
  },
};

export const MfaConfirmSchema = {
  summary: 'Confirm TOTP enrolment with a code: two-factor authentication is on, recovery codes shown once',
  tags: ['mfa'],
  security: [{ bearer: [] }],
  body: MfaConfirmBody,
  response: {
    200: Type.Object({ message: Message, recovery_codes: RecoveryCodes, token: NextToken }),
    ...errorResponses(400, 401, 409, 413, 415, 503),
  },
};

export const MfaVerifySchema = {
  summary: "A login's second step: the mfa_token with a TOTP code or a recovery code",
  description:
    'Exactly one of `code` and `recovery_code`. A wrong code is `401 invalid_mfa_code`; after 5 wrong codes or ' +
    '300 s the mfa_token is dead (`401 invalid_mfa_token`). A TOTP code is accepted once.',
  tags: ['mfa'],
  body: MfaVerifyBody,
  response: {
    200: Type.Object(
      {
        token: Type.String(),
        access_token: Type.String(),
        token_type: Type.Literal('Bearer'),
        expires_in: Type.Integer(),
        refresh_token: Type.String(),
      },
      { title: 'TokenResponse' },
    ),
    ...errorResponses(400, 401, 413, 415, 429, 503),
  },
};

export const MfaDisableSchema = {
  summary: 'Turn two-factor authentication off (password and a TOTP or recovery code)',
  tags: ['mfa'],
  security: [{ bearer: [] }],
  body: MfaDisableBody,
  response: {
    200: Type.Object({ message: Message, token: NextToken }),
    ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
  },
};

export const RecoveryCodesSchema = {
  summary: 'Replace the recovery codes with ten new ones (the old ones stop working)',
  tags: ['mfa'],
  security: [{ bearer: [] }],
  body: MfaPasswordBody,
  response: {
    200: Type.Object({ recovery_codes: RecoveryCodes, token: NextToken }),
    ...errorResponses(400, 401, 403, 409, 413, 415, 429, 503),
  },
};

import { Type, type Static } from 'typebox';
import { errorResponses, Message, NextToken } from './common.js';

const MailToken = Type.String({
  minLength: 1,
  maxLength: 512,
  description: 'The token from the mail (its link, or its `Token:` line).',
});

export const EmptyBody = Type.Object({}, { description: 'No fields (the body may be left out).' });
export type EmptyBody = Static<typeof EmptyBody>;

export const VerifyEmailBody = Type.Object({ token: MailToken });
export type VerifyEmailBody = Static<typeof VerifyEmailBody>;

export const ForgotPasswordBody = Type.Object({
  login: Type.String({
    minLength: 1,
    maxLength: 512,
    description: 'The username or the email of the account.',
  }),
});
export type ForgotPasswordBody = Static<typeof ForgotPasswordBody>;

export const ResetPasswordBody = Type.Object({
  token: MailToken,
  password: Type.String({ maxLength: 4096, description: 'The new password (password policy of SPEC §4).' }),
});
export type ResetPasswordBody = Static<typeof ResetPasswordBody>;

export const RequestVerificationSchema = {
  summary: "Mail a verification link to the current account's email",
  description:
    'Answers 202 once the mail is queued (sending happens in the background). Over RATE_LIMIT_RECOVERY mails ' +
    'per account per window the mail is dropped and the answer is the same.',
  tags: ['account'],
  security: [{ bearer: [] }],
  body: EmptyBody,
  response: {
    202: Type.Object({ message: Message, token: NextToken }),
    // 400 no_email, 409 email_already_verified.
    ...errorResponses(400, 401, 409, 413, 415, 503),
  },
};

export const VerifyEmailSchema = {
  summary: 'Confirm an email with the token from the verification mail',
  tags: ['account'],
  body: VerifyEmailBody,
  response: {
    200: Type.Object({ message: Message }),
    // 400 invalid_verification_token; 429 over RATE_LIMIT_RECOVERY_IP.
    ...errorResponses(400, 413, 415, 429, 503),
  },
};

export const ForgotPasswordSchema = {
  summary: 'Ask for a password reset mail',
  description:
    'Always 202 with the same body, in the same time, whether or not the account exists: the mail goes only to ' +
    'a verified email, and is resolved and sent in the background.',
  tags: ['account'],
  body: ForgotPasswordBody,
  response: {
    202: Type.Object({ message: Message }),
    ...errorResponses(400, 413, 415, 429, 503),
  },
};

export const ResetPasswordSchema = {
  summary: 'Set a new password with the token from the reset mail',
  description: 'Revokes every session of the account and invalidates every other outstanding reset token.',
  tags: ['account'],
  body: ResetPasswordBody,
  response: {
    200: Type.Object({ message: Message }),
    // 400 invalid_reset_token, weak_password.
    ...errorResponses(400, 413, 415, 503),
  },
};

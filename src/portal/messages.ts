import { DomainError, type ErrorCode } from '../errors.js';

/** The sentence a person reads for each failure a form can meet (the JSON API's codes, in plain words). */
const SENTENCES: Partial<Record<ErrorCode, string>> = {
  invalid_credentials: 'That username and password do not match. Check both and try again.',
  wrong_current_password: 'Your current password is not right. Type it again.',
  username_taken: 'That username is taken. Choose another one.',
  current_password_required: 'Type your current password to make this change.',
  session_not_found: 'That session has already ended.',
  invalid_token: 'Your session has ended. Sign in again.',
  invalid_refresh_token: 'Your session has ended. Sign in again.',
  token_missing: 'Sign in to continue.',
  no_email: 'Your account has no email yet. Add one first.',
  email_taken: 'That email is used by another account. Choose another one.',
  email_already_verified: 'Your email is already verified.',
  invalid_verification_token:
    'That verification link is not valid any more. Send a new verification email from your account.',
  invalid_reset_token: 'That reset link is not valid any more. Ask for a new one.',
  invalid_mfa_code: 'That code is not right. Type the current code from your authenticator app.',
  mfa_code_rejected: 'That code is not right. Type the current code, or a recovery code you have not used.',
  invalid_mfa_token: 'That sign-in took too long or had too many wrong codes. Start again.',
  mfa_already_enabled: 'Two-factor authentication is already on.',
  mfa_not_enabled: 'Two-factor authentication is not on.',
  mfa_setup_required: 'That setup has ended. Start the two-factor setup again.',
  server_busy: 'We are busy right now. Wait a moment and try again.',
  store_unavailable: 'Something on our side is not answering. Wait a moment and try again.',
};

function sentence(text: string): string {
  const trimmed = text.trim();
  const capital = trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(capital) ? capital : `${capital}.`;
}

function wait(seconds: number): string {
  if (seconds < 90) return `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

/**
 * What to show next to a form for a failure. The password and username rules say what is wrong in their own
 * message (`password must be 8-1024 characters long`), which is kept; other codes get a fixed sentence.
 */
export function messageFor(error: DomainError): string {
  if (error.code === 'weak_password' || error.code === 'invalid_username') return sentence(error.message);
  if (error.code === 'rate_limited') {
    return error.retryAfter === undefined
      ? 'Too many attempts. Wait a while and try again.'
      : `Too many attempts. Wait ${wait(error.retryAfter)} and try again.`;
  }
  return SENTENCES[error.code] ?? sentence(error.message);
}

/** Short notices after a successful action, chosen by a fixed key in the redirect's query (never free text). */
export const NOTICES = {
  'signed-out': 'You are signed out.',
  'signed-out-everywhere': 'You are signed out of every session.',
  'password-changed': 'Your password is changed. Your other sessions are signed out.',
  'session-revoked': 'The session is revoked.',
  deleted: 'Your account is deleted.',
  'session-ended': 'Your session has ended. Sign in again.',
  'reset-sent':
    'If the account exists and has a verified email, a reset link is on its way. Check your inbox.',
  'password-reset': 'Your password is reset and every session is signed out. Sign in with the new password.',
  'email-verified': 'Your email is verified.',
  'verification-sent': 'A verification email is on its way. Open the link in it.',
  'email-changed': 'Your email is changed. Verify it with the link we sent.',
  'sign-in-expired': 'That sign-in took too long or had too many wrong codes. Start again.',
  'mfa-enabled': 'Two-factor authentication is on.',
  'mfa-disabled': 'Two-factor authentication is off. Signing in asks for your password only.',
} as const;

export type NoticeKey = keyof typeof NOTICES;

export function noticeFrom(query: unknown): string | undefined {
  const key = (query as { done?: unknown } | undefined)?.done;
  return typeof key === 'string' && Object.hasOwn(NOTICES, key) ? NOTICES[key as NoticeKey] : undefined;
}

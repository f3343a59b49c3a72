/** A rendered message: subject, plain text and HTML (every interpolated value escaped). */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
}

export interface TokenMailInput {
  username: string;
  /** PUBLIC_URL, without a trailing slash. */
  publicUrl: string;
  token: string;
  ttlSec: number;
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** A lifetime in words: "30 minutes", "24 hours". */
function lifetime(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} hour${seconds === 3600 ? '' : 's'}`;
  if (seconds % 60 === 0) return `${seconds / 60} minute${seconds === 60 ? '' : 's'}`;
  return `${seconds} seconds`;
}

/**
 * The one layout: a paragraph list, the link, and the bare token on a line of its own (`Token: …`) so that a
 * client of the JSON API can use it without the link.
 */
function tokenMail(subject: string, intro: string, link: string, token: string, outro: string): RenderedMail {
  const text = [intro, '', link, '', `Token: ${token}`, '', outro, ''].join('\n');
  const html = [
    '<!doctype html>',
    '<html><body>',
    `<p>${escapeHtml(intro)}</p>`,
    `<p><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>`,
    `<p>Token: <code>${escapeHtml(token)}</code></p>`,
    `<p>${escapeHtml(outro)}</p>`,
    '</body></html>',
    '',
  ].join('\n');
  return { subject, text, html };
}

export function passwordResetMail(input: TokenMailInput): RenderedMail {
  const link = `${input.publicUrl}/account/reset-password?token=${encodeURIComponent(input.token)}`;
  return tokenMail(
    'Reset your password',
    `Someone asked to reset the password of the account "${input.username}". To choose a new password, open this link within ${lifetime(input.ttlSec)}:`,
    link,
    input.token,
    'If you did not ask for this, ignore this message: your password stays as it is.',
  );
}

export function verificationMail(input: TokenMailInput): RenderedMail {
  const link = `${input.publicUrl}/account/verify-email?token=${encodeURIComponent(input.token)}`;
  return tokenMail(
    'Confirm your email address',
    `To confirm this email address for the account "${input.username}", open this link within ${lifetime(input.ttlSec)}:`,
    link,
    input.token,
    'If you did not ask for this, ignore this message.',
  );
}

export function testMail(): RenderedMail {
  const text = 'This is a test message from Keyward (keyward mail test). Mail delivery works.\n';
  return {
    subject: 'Keyward test message',
    text,
    html: `<!doctype html>\n<html><body><p>${escapeHtml(text.trim())}</p></body></html>\n`,
  };
}

import type { TotpUser } from '../protocol.js';
import { BENCH_PASSWORD, benchUser } from '../seed.js';
import { base32Bytes, currentStep, totpAt } from '../totp.js';

async function post(
  origin: string,
  path: string,
  body: object,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${origin}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function need(
  answer: { status: number; body: Record<string, unknown> },
  what: string,
  field: string,
): string {
  const value = answer.body[field];
  if (answer.status !== 200 || typeof value !== 'string') {
    throw new Error(`${what} answered ${answer.status}: ${JSON.stringify(answer.body.code ?? answer.body)}`);
  }
  return value;
}

/**
 * Turns TOTP on for the seeded users `first`… over HTTP as a user would (log in, `POST /mfa/totp/setup`,
 * `POST /mfa/totp/confirm` with the code of the current step), `parallel` at a time; `perLoop` users per loop.
 */
export async function enrolTotpUsers(
  origin: string,
  first: number,
  loops: number,
  perLoop: number,
  parallel: number,
): Promise<TotpUser[][]> {
  const all: TotpUser[] = [];
  let next = 0;
  const total = loops * perLoop;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next;
      next += 1;
      const username = benchUser(first + i);
      const login = await post(origin, '/authenticate_user', { username, password: BENCH_PASSWORD });
      const started = await post(
        origin,
        '/mfa/totp/setup',
        { current_password: BENCH_PASSWORD },
        need(login, `login of ${username}`, 'token'),
      );
      const secret = need(started, `TOTP setup of ${username}`, 'secret');
      const step = currentStep();
      const confirmed = await post(
        origin,
        '/mfa/totp/confirm',
        { code: totpAt(base32Bytes(secret), step) },
        need(started, `TOTP setup of ${username}`, 'token'),
      );
      need(confirmed, `TOTP confirm of ${username}`, 'token');
      all[i] = { username, password: BENCH_PASSWORD, secret, confirmedStep: step };
    }
  };
  await Promise.all(Array.from({ length: parallel }, () => worker()));
  return Array.from({ length: loops }, (_, loop) => all.slice(loop * perLoop, (loop + 1) * perLoop));
}

import type { SessionView } from '../../facades/auth-facade.js';
import {
  CardForm,
  CurrentPasswordField,
  CsrfField,
  FormError,
  Layout,
  NewPasswordField,
  Notice,
  type PageContext,
} from './layout.js';
import type { FormState } from './sign-in-pages.js';

/** What the overview shows; email and two-factor state are absent when this build has no such feature. */
export interface AccountSummary {
  username: string;
  email?: { address: string | null; verified: boolean } | undefined;
  mfaEnabled?: boolean | undefined;
}

export function OverviewPage({
  context,
  account,
  notice,
}: {
  context: PageContext;
  account: AccountSummary;
  notice?: string | undefined;
}) {
  const { email } = account;
  return (
    <Layout title="Your account" context={context}>
      <Notice message={notice} />
      <dl class="card facts">
        <dt>Username</dt>
        <dd>{account.username}</dd>
        {email === undefined ? null : (
          <>
            <dt>Email</dt>
            <dd>
              {email.address === null
                ? 'None'
                : `${email.address} (${email.verified ? 'verified' : 'not verified'})`}
            </dd>
          </>
        )}
        {account.mfaEnabled === undefined ? null : (
          <>
            <dt>Two-factor authentication</dt>
            <dd>{account.mfaEnabled ? 'On' : 'Off'}</dd>
          </>
        )}
      </dl>
      {email !== undefined && email.address !== null && !email.verified ? (
        <form method="post" action="/account/email/verification" class="card">
          <CsrfField context={context} />
          <p>Your email is not verified yet, so it cannot be used to reset your password.</p>
          <button type="submit" class="secondary">
            Send verification email
          </button>
        </form>
      ) : null}
      <ul class="actions">
        <li>
          <a href="/account/sessions">See where you are signed in</a>
        </li>
        <li>
          <a href="/account/password">Change your password</a>
        </li>
        {email === undefined ? null : (
          <li>
            <a href="/account/email">{email.address === null ? 'Add an email' : 'Change your email'}</a>
          </li>
        )}
        {account.mfaEnabled === undefined ? null : (
          <li>
            <a href="/account/two-factor">
              {account.mfaEnabled ? 'Two-factor authentication' : 'Set up two-factor authentication'}
            </a>
          </li>
        )}
        <li>
          <a href="/account/delete" class="danger">
            Delete your account
          </a>
        </li>
      </ul>
    </Layout>
  );
}

export function PasswordPage({ context, state }: { context: PageContext; state: FormState }) {
  return (
    <Layout title="Change password" context={context}>
      <CardForm action="/account/password" context={context} error={state.error} submit="Change password">
        <CurrentPasswordField invalid={state.error !== undefined} />
        <NewPasswordField
          invalid={state.error !== undefined}
          hint="At least 8 characters. Your other sessions are signed out."
        />
      </CardForm>
    </Layout>
  );
}

function describeAgent(agent: string): string {
  if (agent === '') return 'Unknown device';
  return agent.length > 120 ? `${agent.slice(0, 117)}...` : agent;
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

export function SessionsPage({
  context,
  sessions,
  notice,
  error,
}: {
  context: PageContext;
  sessions: SessionView[];
  notice?: string;
  error?: string;
}) {
  return (
    <Layout title="Sessions" context={context}>
      <Notice message={notice} />
      <FormError message={error} />
      <p>Everywhere you are signed in to this account. Revoke any you do not recognise.</p>
      <ul class="sessions">
        {sessions.map((session) => (
          <li class={session.current ? 'session current' : 'session'} key={session.id}>
            <div>
              <p class="agent">
                {describeAgent(session.user_agent)}
                {session.current ? <strong class="badge"> Current session</strong> : null}
              </p>
              <p class="meta" id={`session-${session.id}`}>
                {`From ${session.ip || 'an unknown address'} · signed in ${when(session.created_at)} · last used ${when(session.last_used_at)}`}
              </p>
            </div>
            {session.current ? (
              <form method="post" action="/account/sign-out">
                <CsrfField context={context} />
                <button type="submit" class="secondary">
                  Sign out
                </button>
              </form>
            ) : (
              <form method="post" action="/account/sessions/revoke">
                <CsrfField context={context} />
                <input type="hidden" name="session_id" value={session.id} />
                <button type="submit" class="secondary" aria-describedby={`session-${session.id}`}>
                  Revoke
                </button>
              </form>
            )}
          </li>
        ))}
      </ul>
      <form method="post" action="/account/sessions/sign-out-everywhere" class="card">
        <CsrfField context={context} />
        <p>Sign out of every session, this one included.</p>
        <button type="submit" class="danger">
          Sign out everywhere
        </button>
      </form>
    </Layout>
  );
}

export function DeletePage({ context, state }: { context: PageContext; state: FormState }) {
  return (
    <Layout title="Delete account" context={context}>
      <CardForm
        action="/account/delete"
        context={context}
        error={state.error}
        submit="Delete account"
        variant="danger"
      >
        <p>
          Deleting your account signs you out everywhere and removes your account for good. It cannot be
          undone.
        </p>
        <div class="check">
          <input
            type="checkbox"
            id="confirm"
            name="confirm"
            value="yes"
            required
            aria-invalid={state.error !== undefined ? 'true' : undefined}
          />
          <label for="confirm">I understand that my account will be deleted for good</label>
        </div>
      </CardForm>
    </Layout>
  );
}

export function ErrorPage({
  context,
  title,
  message,
}: {
  context: PageContext;
  title: string;
  message: string;
}) {
  return (
    <Layout title={title} context={context}>
      <p class="error" role="alert">
        {message}
      </p>
      <p>
        <a href="/account">Back to your account</a>
      </p>
    </Layout>
  );
}

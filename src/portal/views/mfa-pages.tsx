import { CardForm, CurrentPasswordField, Field, Layout, type PageContext } from './layout.js';
import type { FormState } from './sign-in-pages.js';

/** The second step of a sign-in: a code from the authenticator app, or one of the recovery codes. */
export function SignInCodePage({ context, state }: { context: PageContext; state: FormState }) {
  return (
    <Layout title="Two-factor authentication" context={context}>
      <CardForm action="/account/sign-in/code" context={context} error={state.error} submit="Verify">
        <Field
          label="Code"
          name="code"
          autocomplete="one-time-code"
          inputmode="numeric"
          required={false}
          invalid={state.error !== undefined}
          hint="The 6-digit code your authenticator app shows now."
        />
        <Field
          label="Recovery code"
          name="recovery_code"
          autocomplete="off"
          required={false}
          invalid={state.error !== undefined}
          hint="No phone at hand? Type one of your recovery codes here instead (each works once)."
        />
      </CardForm>
      <p class="aside">
        <a href="/account/sign-in">Start again</a>
      </p>
    </Layout>
  );
}

/** The two forms of the two-factor page when it is on; an error is shown next to the one that was sent. */
export type TwoFactorForm = 'recovery-codes' | 'disable';

/**
 * Two-factor state. When it is off: the first step of turning it on (the password again). When it is on: new
 * recovery codes (the password again) and turning it off (the password and a code). The two forms both have a
 * `Current password` field, so their inputs carry the form's name in their ids.
 */
export function TwoFactorPage({
  context,
  state,
  enabled,
  failed,
}: {
  context: PageContext;
  state: FormState;
  enabled: boolean;
  /** Which form the error belongs to (the page when it is on). */
  failed?: TwoFactorForm | undefined;
}) {
  const errorOf = (form: TwoFactorForm) => (failed === form ? state.error : undefined);
  return (
    <Layout title="Two-factor authentication" context={context}>
      {enabled ? (
        <>
          <p class="notice" role="status">
            Two-factor authentication is on. Signing in asks for a code from your authenticator app, or one of
            your recovery codes.
          </p>
          <h2 id="recovery-codes-title">Recovery codes</h2>
          <p>
            Used some of your recovery codes, or lost them? Get ten new ones. The old ones stop working at
            once.
          </p>
          <CardForm
            action="/account/two-factor/recovery-codes"
            context={context}
            error={errorOf('recovery-codes')}
            submit="Get new recovery codes"
            variant="secondary"
            labelledBy="recovery-codes-title"
          >
            <CurrentPasswordField
              invalid={errorOf('recovery-codes') !== undefined}
              id="recovery_current_password"
            />
          </CardForm>
          <h2 id="disable-title">Turn off two-factor authentication</h2>
          <p>Signing in will then ask for your password only.</p>
          <CardForm
            action="/account/two-factor/disable"
            context={context}
            error={errorOf('disable')}
            submit="Turn off two-factor authentication"
            variant="danger"
            labelledBy="disable-title"
          >
            <CurrentPasswordField invalid={errorOf('disable') !== undefined} id="disable_current_password" />
            <Field
              label="Code"
              name="code"
              id="disable_code"
              autocomplete="one-time-code"
              invalid={errorOf('disable') !== undefined}
              hint="The 6-digit code your authenticator app shows now, or one of your recovery codes."
            />
          </CardForm>
        </>
      ) : (
        <>
          <p>
            With two-factor authentication, signing in also asks for a 6-digit code from an authenticator app
            on your phone, so a stolen password alone is not enough.
          </p>
          <CardForm
            action="/account/two-factor"
            context={context}
            error={state.error}
            submit="Enable two-factor authentication"
          >
            <CurrentPasswordField invalid={state.error !== undefined} />
          </CardForm>
        </>
      )}
    </Layout>
  );
}

/**
 * The QR code and the secret of a pending enrolment, and the code that confirms it. The secret and the otpauth URL
 * travel back in hidden fields only so that a wrong code can show this page again; the server checks the code
 * against its own pending secret, never against these.
 */
export function TwoFactorConfirmPage({
  context,
  state,
  secret,
  otpauthUrl,
  qrDataUrl,
}: {
  context: PageContext;
  state: FormState;
  secret: string;
  otpauthUrl: string;
  qrDataUrl: string;
}) {
  return (
    <Layout title="Set up your authenticator app" context={context}>
      <ol class="steps">
        <li>
          <p>Scan this QR code with your authenticator app.</p>
          <img class="qr" src={qrDataUrl} alt="QR code of your two-factor secret, for an authenticator app" />
        </li>
        <li>
          <p>
            Or type this secret into the app: <code class="secret">{secret}</code>
          </p>
        </li>
        <li>
          <p>Type the 6-digit code the app shows, to finish.</p>
        </li>
      </ol>
      <CardForm action="/account/two-factor/confirm" context={context} error={state.error} submit="Verify">
        <input type="hidden" name="secret" value={secret} />
        <input type="hidden" name="otpauth_url" value={otpauthUrl} />
        <Field
          label="Code"
          name="code"
          autocomplete="one-time-code"
          inputmode="numeric"
          invalid={state.error !== undefined}
        />
      </CardForm>
    </Layout>
  );
}

/** Ten recovery codes, shown once: after setup, or in place of the old ones (`replaced`). */
export function RecoveryCodesPage({
  context,
  codes,
  replaced = false,
}: {
  context: PageContext;
  codes: string[];
  replaced?: boolean;
}) {
  return (
    <Layout title={replaced ? 'Your new recovery codes' : 'Save your recovery codes'} context={context}>
      <p class="notice" role="status">
        {replaced
          ? 'You have new recovery codes. The old ones no longer work.'
          : 'Two-factor authentication is on.'}
      </p>
      <p>
        If you lose your phone, each of these codes signs you in once. Keep them somewhere safe: this is the
        only time they are shown.
      </p>
      <ol class="card codes">
        {codes.map((code) => (
          <li key={code}>{code}</li>
        ))}
      </ol>
      <p>
        <a href="/account">I have saved them: back to my account</a>
      </p>
    </Layout>
  );
}

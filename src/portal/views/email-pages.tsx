import {
  CardForm,
  CurrentPasswordField,
  Field,
  Layout,
  NewPasswordField,
  Notice,
  type PageContext,
} from './layout.js';
import type { FormState } from './sign-in-pages.js';

export function ForgotPasswordPage({ context, state }: { context: PageContext; state: FormState }) {
  return (
    <Layout title="Forgot your password?" context={context}>
      <Notice message={state.notice} />
      <p>
        Type your username or email. If the account has a verified email, we send a link to choose a new
        password.
      </p>
      <CardForm
        action="/account/forgot-password"
        context={context}
        error={state.error}
        submit="Send reset link"
      >
        <Field
          label="Username or email"
          name="login"
          autocomplete="username"
          value={state.values?.login}
          invalid={state.error !== undefined}
        />
      </CardForm>
      <p class="aside">
        Remembered it? <a href="/account/sign-in">Sign in</a>
      </p>
    </Layout>
  );
}

/** The reset form. With the token from the mail link kept aside (not in the URL), only the new password is asked. */
export function ResetPasswordPage({
  context,
  state,
  hasToken,
}: {
  context: PageContext;
  state: FormState;
  hasToken: boolean;
}) {
  return (
    <Layout title="Choose a new password" context={context}>
      <CardForm
        action="/account/reset-password"
        context={context}
        error={state.error}
        submit="Reset password"
      >
        {hasToken ? null : (
          <Field
            label="Token"
            name="token"
            autocomplete="off"
            invalid={state.error !== undefined}
            hint="The token from the reset email (the line that starts with Token:)."
          />
        )}
        <NewPasswordField
          invalid={state.error !== undefined}
          hint="At least 8 characters. Every session of the account is signed out."
        />
      </CardForm>
    </Layout>
  );
}

export function VerifyEmailPage({
  context,
  state,
  hasToken,
}: {
  context: PageContext;
  state: FormState;
  hasToken: boolean;
}) {
  return (
    <Layout title="Verify your email" context={context}>
      <CardForm action="/account/verify-email" context={context} error={state.error} submit="Verify">
        {hasToken ? (
          <p>Confirm that this email address is yours.</p>
        ) : (
          <Field
            label="Token"
            name="token"
            autocomplete="off"
            invalid={state.error !== undefined}
            hint="The token from the verification email (the line that starts with Token:)."
          />
        )}
      </CardForm>
    </Layout>
  );
}

export function ChangeEmailPage({
  context,
  state,
  current,
}: {
  context: PageContext;
  state: FormState;
  current: string | null;
}) {
  return (
    <Layout title="Change email" context={context}>
      <p>
        {current === null
          ? 'Your account has no email yet.'
          : `Your email is ${current}. A new one must be verified before it can be used to reset your password.`}
      </p>
      <CardForm action="/account/email" context={context} error={state.error} submit="Save">
        <Field
          label="Email"
          name="email"
          type="email"
          autocomplete="email"
          value={state.values?.email}
          invalid={state.error !== undefined}
        />
        <CurrentPasswordField invalid={state.error !== undefined} />
      </CardForm>
    </Layout>
  );
}

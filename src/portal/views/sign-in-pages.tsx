import { CardForm, Field, Layout, Notice, type PageContext } from './layout.js';

export interface FormState {
  /** What the person typed, given back (never a password). */
  values?: Record<string, string>;
  error?: string;
  notice?: string;
}

export function SignUpPage({
  context,
  state,
  email = false,
}: {
  context: PageContext;
  state: FormState;
  /** Offer the optional Email field (when this build has email, SPEC §9). */
  email?: boolean;
}) {
  return (
    <Layout title="Create your account" context={context}>
      <CardForm action="/account/sign-up" context={context} error={state.error} submit="Sign up">
        <Field
          label="Username"
          name="username"
          autocomplete="username"
          value={state.values?.username}
          invalid={state.error !== undefined}
          hint="4 to 64 characters, no spaces."
        />
        {email ? (
          <Field
            label="Email"
            name="email"
            type="email"
            autocomplete="email"
            value={state.values?.email}
            invalid={state.error !== undefined}
            required={false}
            hint="Optional. Needed to reset a forgotten password."
          />
        ) : null}
        <Field
          label="Password"
          name="password"
          type="password"
          autocomplete="new-password"
          invalid={state.error !== undefined}
          hint="At least 8 characters. A long phrase is easiest to remember."
        />
      </CardForm>
      <p class="aside">
        Already have an account? <a href="/account/sign-in">Sign in</a>
      </p>
    </Layout>
  );
}

export function SignInPage({
  context,
  state,
  forgotPassword,
}: {
  context: PageContext;
  state: FormState;
  forgotPassword: boolean;
}) {
  return (
    <Layout title="Sign in" context={context}>
      <Notice message={state.notice} />
      <CardForm action="/account/sign-in" context={context} error={state.error} submit="Sign in">
        <Field
          label="Username"
          name="username"
          autocomplete="username"
          value={state.values?.username}
          invalid={state.error !== undefined}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autocomplete="current-password"
          invalid={state.error !== undefined}
        />
      </CardForm>
      <p class="aside">
        New here? <a href="/account/sign-up">Create an account</a>
      </p>
      {forgotPassword ? (
        <p class="aside">
          <a href="/account/forgot-password">Forgot your password?</a>
        </p>
      ) : null}
    </Layout>
  );
}

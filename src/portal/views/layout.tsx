import type { ComponentChildren } from 'preact';

export const PRODUCT = 'Keyward';

/** What every page knows: the CSRF token for its forms and whether someone is signed in. */
export interface PageContext {
  csrf: string;
  signedIn: boolean;
}

interface LayoutProps {
  title: string;
  context: PageContext;
  children: ComponentChildren;
}

/** The one layout: product name, navigation when signed in, the page's heading and content. */
export function Layout({ title, context, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} · ${PRODUCT}`}</title>
        <link rel="stylesheet" href="/account/static/portal.css" />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="site">
          <a class="brand" href="/account">
            {PRODUCT}
          </a>
          {context.signedIn ? (
            <nav aria-label="Account">
              <a href="/account">Overview</a>
              <a href="/account/sessions">Sessions</a>
              <a href="/account/password">Password</a>
              <form method="post" action="/account/sign-out" class="inline">
                <CsrfField context={context} />
                <button type="submit" class="link">
                  Sign out
                </button>
              </form>
            </nav>
          ) : (
            <nav aria-label="Account">
              <a href="/account/sign-in">Sign in</a>
              <a href="/account/sign-up">Sign up</a>
            </nav>
          )}
        </header>
        <main id="main">
          <h1>{title}</h1>
          {children}
        </main>
        <footer class="site">
          <p>{PRODUCT} account</p>
        </footer>
      </body>
    </html>
  );
}

export function CsrfField({ context }: { context: PageContext }) {
  return <input type="hidden" name="_csrf" value={context.csrf} />;
}

interface CardFormProps {
  /** Where it posts (a path under /account). */
  action: string;
  context: PageContext;
  /** The error of the last attempt, shown above the fields. */
  error: string | undefined;
  /** The submit button's text (the fixed names of SPEC §11). */
  submit: string;
  variant?: 'secondary' | 'danger';
  /** The id of the heading that names the form, on a page with more than one. */
  labelledBy?: string;
  children: ComponentChildren;
}

/** The portal's form: a card that posts with its CSRF token, the error above its fields, one submit button. */
export function CardForm({ action, context, error, submit, variant, labelledBy, children }: CardFormProps) {
  return (
    <form method="post" action={action} class="card" novalidate aria-labelledby={labelledBy}>
      <CsrfField context={context} />
      <FormError message={error} />
      {children}
      <button type="submit" class={variant}>
        {submit}
      </button>
    </form>
  );
}

/** A message about the form as a whole, placed just above its fields and announced to screen readers. */
export function FormError({ message }: { message: string | undefined }) {
  if (message === undefined) return null;
  return (
    <p class="error" role="alert" id="form-error">
      {message}
    </p>
  );
}

export function Notice({ message }: { message: string | undefined }) {
  if (message === undefined) return null;
  return (
    <p class="notice" role="status">
      {message}
    </p>
  );
}

interface FieldProps {
  label: string;
  name: string;
  /** The input's id when a page has two forms with the same field; the name otherwise. */
  id?: string;
  type?: 'text' | 'password' | 'email';
  autocomplete: string;
  value?: string;
  required?: boolean;
  invalid?: boolean;
  hint?: string;
  inputmode?: 'numeric' | 'text';
  autofocus?: boolean;
}

/** A labelled input; its id is the field name, so `<label for>` ties the label that tests and people read to it. */
export function Field(props: FieldProps) {
  const id = props.id ?? props.name;
  const hintId = props.hint === undefined ? undefined : `${id}-hint`;
  const describedBy = [props.invalid ? 'form-error' : undefined, hintId].filter(Boolean).join(' ');
  const attributes = {
    id,
    name: props.name,
    autocomplete: props.autocomplete,
    value: props.value,
    required: props.required ?? true,
    'aria-invalid': props.invalid ? ('true' as const) : undefined,
    'aria-describedby': describedBy === '' ? undefined : describedBy,
    inputMode: props.inputmode,
    autofocus: props.autofocus,
    spellcheck: false,
    autocapitalize: 'off' as const,
  };
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.hint === undefined ? null : (
        <p class="hint" id={hintId}>
          {props.hint}
        </p>
      )}
      {props.type === 'password' ? (
        <input type="password" {...attributes} />
      ) : props.type === 'email' ? (
        <input type="email" {...attributes} />
      ) : (
        <input type="text" {...attributes} />
      )}
    </div>
  );
}

/** The `Current password` field that every change of a signed-in account asks for. */
export function CurrentPasswordField({ invalid, id }: { invalid: boolean; id?: string }) {
  return (
    <Field
      label="Current password"
      name="current_password"
      id={id}
      type="password"
      autocomplete="current-password"
      invalid={invalid}
    />
  );
}

/** The `New password` field of a password change and of a reset; `hint` says what else the change does. */
export function NewPasswordField({ invalid, hint }: { invalid: boolean; hint: string }) {
  return (
    <Field
      label="New password"
      name="new_password"
      type="password"
      autocomplete="new-password"
      invalid={invalid}
      hint={hint}
    />
  );
}

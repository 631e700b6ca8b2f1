/**
 * @module App settings: the app's name and slug, and its auth config with each security-relevant switch
 * explained in plain words. Only the fields changed are sent; the API's refusal of a field shows beside it.
 */
import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, path } from "../api.ts";
import { ErrorNotice, Field, Loading, Notice, Switch } from "../components.tsx";
import { useApi } from "../hooks.ts";
import type { App, AuthConfig } from "../types.ts";

const asError = (err: unknown) =>
  err instanceof ApiError ? err : new ApiError(0, "CLIENT_ERROR", String(err));

/** A comma- or line-separated list as the API's array, and back. */
const toList = (text: string) =>
  text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
const fromList = (list: readonly string[]) => list.join("\n");

/** A number input's value as the API's number; empty or malformed goes as null so the API names the field. */
const toNumber = (text: string) => (text.trim() === "" || Number.isNaN(Number(text)) ? null : Number(text));

function AppForm({ app, onSaved }: { readonly app: App; readonly onSaved: (app: App) => void }) {
  const [displayName, setDisplayName] = useState(app.display_name);
  const [slug, setSlug] = useState(app.slug);
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const body: Record<string, string> = {};
    if (displayName !== app.display_name) body.display_name = displayName;
    if (slug !== app.slug) body.slug = slug;
    setSaved(false);
    setError(undefined);
    if (Object.keys(body).length === 0) return;
    setBusy(true);
    try {
      onSaved(await api<App>("PATCH", path("/v1/apps/{id}", { id: app.id }), body));
      setSaved(true);
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form onSubmit={submit} aria-labelledby="app-form-title">
      <h2 id="app-form-title">App</h2>
      <ErrorNotice error={error} />
      {saved && <Notice>Saved.</Notice>}
      <Field label="Display name" name="display_name" error={error}>
        {(id, describedBy, invalid) => (
          <input
            id={id}
            value={displayName}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            onInput={(e) => setDisplayName((e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <Field
        label="Slug"
        name="slug"
        error={error}
        hint="Part of every Consumer API path and of the token issuer (PUBLIC_URL/slug): changing it changes what SDKs must be configured with."
      >
        {(id, describedBy, invalid) => (
          <input
            id={id}
            value={slug}
            autoComplete="off"
            spellcheck={false}
            aria-describedby={describedBy}
            aria-invalid={invalid || undefined}
            onInput={(e) => setSlug((e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <button type="submit" disabled={busy}>
        Save app
      </button>
    </form>
  );
}

type Draft = Record<keyof AuthConfig, string | boolean>;

const LISTS = ["signup_allowed_email_domains", "allowed_redirect_origins", "mfa_required_roles"] as const;
const NUMBERS = [
  "password_min_length",
  "max_failed_login_attempts",
  "session_duration_minutes",
  "max_sessions",
] as const;

function draftOf(config: AuthConfig): Draft {
  const d = { ...config } as unknown as Draft;
  for (const k of LISTS) d[k] = fromList(config[k]);
  for (const k of NUMBERS) d[k] = String(config[k]);
  return d;
}

/** The fields that differ from what was loaded, in the API's types. */
function changes(config: AuthConfig, draft: Draft): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(draft) as (keyof AuthConfig)[]) {
    const v = draft[key];
    let value: unknown = v;
    if ((LISTS as readonly string[]).includes(key)) value = toList(String(v));
    else if ((NUMBERS as readonly string[]).includes(key)) value = toNumber(String(v));
    if (JSON.stringify(value) !== JSON.stringify(config[key])) out[key] = value;
  }
  return out;
}

function Section({ title, children }: { readonly title: string; readonly children: ComponentChildren }) {
  return (
    <fieldset>
      <legend>{title}</legend>
      {children}
    </fieldset>
  );
}

function AuthConfigForm({
  appId,
  config,
  onSaved,
}: {
  readonly appId: string;
  readonly config: AuthConfig;
  readonly onSaved: (c: AuthConfig) => void;
}) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(config));
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState<string[]>();
  const [busy, setBusy] = useState(false);
  useEffect(() => setDraft(draftOf(config)), [config]);
  const set = (key: keyof AuthConfig) => (value: string | boolean) =>
    setDraft((d) => ({ ...d, [key]: value }));
  const bool = (key: keyof AuthConfig) => draft[key] === true;
  const text = (key: keyof AuthConfig) => String(draft[key]);

  const submit = async (e: Event) => {
    e.preventDefault();
    const body = changes(config, draft);
    setError(undefined);
    setSaved(undefined);
    if (Object.keys(body).length === 0) {
      setSaved([]);
      return;
    }
    setBusy(true);
    try {
      const next = await api<AuthConfig>("PATCH", path("/v1/apps/{id}/auth-config", { id: appId }), body);
      onSaved(next);
      setSaved(Object.keys(body));
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  };

  const input = (key: keyof AuthConfig, label: string, hint: ComponentChildren, numeric = false) => (
    <Field label={label} name={key} error={error} hint={hint}>
      {(id, describedBy, invalid) => {
        const common = {
          id,
          name: key,
          value: text(key),
          "aria-describedby": describedBy,
          "aria-invalid": invalid || undefined,
          onInput: (e: Event) => set(key)((e.currentTarget as HTMLInputElement).value),
        };
        return numeric ? <input type="number" {...common} /> : <input type="text" {...common} />;
      }}
    </Field>
  );
  const list = (key: keyof AuthConfig, label: string, hint: ComponentChildren) => (
    <Field label={label} name={key} error={error} hint={hint}>
      {(id, describedBy, invalid) => (
        <textarea
          id={id}
          name={key}
          rows={3}
          value={text(key)}
          aria-describedby={describedBy}
          aria-invalid={invalid || undefined}
          onInput={(e) => set(key)((e.currentTarget as HTMLTextAreaElement).value)}
        />
      )}
    </Field>
  );
  const toggle = (key: keyof AuthConfig, label: string, hint: ComponentChildren) => (
    <Switch label={label} name={key} checked={bool(key)} onChange={set(key)} error={error} hint={hint} />
  );

  return (
    <form onSubmit={submit} aria-labelledby="auth-form-title">
      <h2 id="auth-form-title">Authentication</h2>
      <ErrorNotice error={error} />
      {saved && <Notice>{saved.length === 0 ? "Nothing changed." : `Saved: ${saved.join(", ")}.`}</Notice>}
      <Section title="Who may sign up and sign in">
        {toggle(
          "signup_enabled",
          "Anyone may sign up",
          "Off: new accounts come only from invites, the Admin API or an import. Existing users can still sign in.",
        )}
        {toggle(
          "signup_requires_pak",
          "Sign-up only through your backend",
          "On: the sign-up call needs a platform API key, so only your server (not a browser) can create accounts.",
        )}
        {list(
          "signup_allowed_email_domains",
          "Allowed email domains for sign-up",
          "One per line, e.g. example.com. Empty: any domain.",
        )}
        {input("signup_default_role", "Role given at sign-up", "The app role a new account starts with.")}
        {toggle(
          "signin_enabled",
          "Sign-in allowed",
          "Off: nobody can sign in to this app, which is how to close it without deleting anything.",
        )}
      </Section>
      <Section title="Permissions">
        {toggle(
          "enforce_app_permissions",
          "Enforce app permissions on the admin lane",
          <>
            On (recommended): a token may only call the app's admin routes (list users, assign roles…) when
            its role grants the permission. Off: <strong>any</strong> signed-in user's token passes those
            checks.
          </>,
        )}
      </Section>
      <Section title="Passwords">
        {input(
          "password_min_length",
          "Minimum length",
          "8 to 128. Length matters far more than character rules.",
          true,
        )}
        {toggle(
          "password_require_uppercase",
          "Require an uppercase letter",
          "Composition rules add little; kept for policies that demand them.",
        )}
        {toggle("password_require_number", "Require a digit", "As above.")}
        {toggle("password_require_symbol", "Require a symbol", "As above.")}
        {input(
          "max_failed_login_attempts",
          "Failed sign-ins before a lockout",
          "After this many wrong passwords in a row the account is locked for a while.",
          true,
        )}
      </Section>
      <Section title="Second factor">
        {toggle(
          "mfa_required",
          "Require a second factor for everyone",
          "On: every account must pass a second factor at sign-in; one without a factor enrols one before getting tokens.",
        )}
        {list(
          "mfa_required_roles",
          "Require it for these roles",
          "One role per line: only accounts holding one of them must use a second factor.",
        )}
      </Section>
      <Section title="Sessions and redirects">
        {input(
          "session_duration_minutes",
          "Session lifetime (minutes)",
          "1 to 43200 (30 days): after it the user signs in again.",
          true,
        )}
        {input(
          "max_sessions",
          "Sessions per user",
          "1 to 50: signing in beyond it ends the oldest session.",
          true,
        )}
        {list(
          "allowed_redirect_origins",
          "Allowed redirect origins",
          "Exact origins (https://app.example.com) that sign-in flows may send the browser back to; http only on localhost.",
        )}
        <Field
          label="Linking a social sign-in to an existing account"
          name="oauth_link_policy"
          error={error}
          hint="Confirm: the user proves they own the account first. Auto: linked when the email matches. Reject: never linked."
        >
          {(id, describedBy) => (
            <select
              id={id}
              value={text("oauth_link_policy")}
              aria-describedby={describedBy}
              onChange={(e) => set("oauth_link_policy")((e.currentTarget as HTMLSelectElement).value)}
            >
              <option value="confirm">Confirm</option>
              <option value="auto">Auto</option>
              <option value="reject">Reject</option>
            </select>
          )}
        </Field>
      </Section>
      <button type="submit" disabled={busy}>
        Save authentication settings
      </button>
    </form>
  );
}

export function AppSettingsPage({ appId }: { readonly appId: string }) {
  const loaded = useApi(
    () =>
      Promise.all([
        api<App>("GET", path("/v1/apps/{id}", { id: appId })),
        api<AuthConfig>("GET", path("/v1/apps/{id}/auth-config", { id: appId })),
      ]),
    [appId],
  );
  const [app, setApp] = useState<App>();
  const [config, setConfig] = useState<AuthConfig>();
  useEffect(() => {
    if (loaded.data) {
      setApp(loaded.data[0]);
      setConfig(loaded.data[1]);
    }
  }, [loaded.data]);
  if (loaded.error) return <ErrorNotice error={loaded.error} all />;
  if (!app || !config) return <Loading />;
  return (
    <div class="settings">
      <AppForm app={app} onSaved={setApp} />
      <AuthConfigForm appId={app.id} config={config} onSaved={setConfig} />
    </div>
  );
}

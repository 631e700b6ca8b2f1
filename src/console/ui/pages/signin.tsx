/** @module Sign-in: the platform session (an HttpOnly cookie the page never sees), then back to the page the user was on. */
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api } from "../api.ts";
import { ErrorNotice, Field } from "../components.tsx";

/** Only back into the console: `next` comes from the address bar. */
export function safeNext(next: string | undefined): string {
  return next && /^\/console(\/|\?|$)/.test(next) && !next.startsWith("/console/signin") ? next : "/console";
}

export function SignInPage() {
  const { route, query } = useLocation();
  const [identifier, setIdentifier] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const expired = Boolean(query.next);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      // The response's token is the cookie's twin: it is not kept anywhere in the page.
      await api("POST", "/v1/auth/signin", { identifier, password }, { allowUnauthorized: true });
      route(safeNext(query.next), true);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "CLIENT_ERROR", String(err)));
      setBusy(false);
    }
  };

  return (
    <main id="main" class="signin">
      <form class="card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Heimdall</h1>
        {expired && !error && (
          <p class="notice" role="status">
            Your session has ended. Sign in to go back to where you were.
          </p>
        )}
        <ErrorNotice error={error} />
        <Field label="Email or username" name="identifier" error={error}>
          {(id, describedBy, invalid) => (
            <input
              id={id}
              name="identifier"
              autoComplete="username"
              required
              value={identifier}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              onInput={(e) => setIdentifier((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field label="Password" name="password" error={error}>
          {(id, describedBy, invalid) => (
            <input
              id={id}
              name="password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p class="hint">
          On a first start, use the credentials the server printed (or HEIMDALL_BOOTSTRAP_EMAIL and
          HEIMDALL_BOOTSTRAP_PASSWORD).
        </p>
      </form>
    </main>
  );
}

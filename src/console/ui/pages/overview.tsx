/**
 * @module Workspace overview: the workspace's apps, a page at a time, each with its live figures (end users,
 * live sessions, sign-ins in the last 24 hours, signing-key states). The apps list has no server-side search,
 * so the search box filters the page shown (docs/console.md). A form creates an app in the workspace shown
 * (`POST /v1/apps`), with the API's refusal beside the field it names.
 */
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Field, Loading, Pager, SearchBox } from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
import { useAction } from "../parts.tsx";
import { useSession } from "../session.tsx";
import type { App, AppStats, KeyState, SigningKey } from "../types.ts";

const PAGE_SIZE = 24;
const KEY_STATES: readonly KeyState[] = ["active", "next", "retiring"];

function Figures({ app }: { readonly app: App }) {
  const figures = useApi(async () => {
    const [stats, keys] = await Promise.all([
      api<AppStats>("GET", path("/v1/apps/{id}/stats", { id: app.id })),
      api<{ data: SigningKey[] }>("GET", path("/v1/apps/{id}/keys", { id: app.id })),
    ]);
    return { stats, keys: keys.data };
  }, [app.id]);
  if (figures.error) return <ErrorNotice error={figures.error} />;
  if (!figures.data) return <Loading what="Counting" />;
  const { stats, keys } = figures.data;
  return (
    <>
      <dl class="figures">
        <div>
          <dt>End users</dt>
          <dd>{stats.end_users.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Live sessions</dt>
          <dd>{stats.active_sessions.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Sign-ins (24 h)</dt>
          <dd>
            {stats.sign_ins_24h.toLocaleString()}
            {stats.failed_sign_ins_24h > 0 && (
              <span class="muted"> ({stats.failed_sign_ins_24h.toLocaleString()} failed)</span>
            )}
          </dd>
        </div>
      </dl>
      <p class="key-states">
        <span class="muted">Keys: </span>
        {KEY_STATES.map((state) => {
          const n = keys.filter((k) => k.state === state).length;
          return n > 0 ? (
            <Badge key={state} tone={state}>
              {n} {state}
            </Badge>
          ) : null;
        })}
        {!keys.some((k) => k.state === "active") && <Badge tone="danger">no active key</Badge>}
      </p>
    </>
  );
}

function AppCard({ app }: { readonly app: App }) {
  return (
    <li class="card app-card">
      <h2>
        <a href={`/console/apps/${encodeURIComponent(app.id)}`}>{app.display_name}</a>
      </h2>
      <p class="muted">
        {app.slug} {app.status !== "active" && <Badge tone={app.status}>{app.status}</Badge>}
      </p>
      <Figures app={app} />
      <p class="links">
        <a href={`/console/apps/${encodeURIComponent(app.id)}/users`}>End users</a>
        <a href={`/console/apps/${encodeURIComponent(app.id)}/keys`}>Signing keys</a>
      </p>
    </li>
  );
}

/** Creates an app in the workspace shown, then opens it. */
function CreateApp({ workspaceId }: { readonly workspaceId: string | undefined }) {
  const { route } = useLocation();
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const action = useAction();
  return (
    <details class="card create-app">
      <summary>Create an app</summary>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const app = await api<App>("POST", "/v1/apps", {
              slug,
              display_name: name,
              ...(workspaceId ? { workspace_id: workspaceId } : {}),
            });
            route(`/console/apps/${encodeURIComponent(app.id)}`);
          });
        }}
      >
        <Field label="App name" name="display_name" error={action.error}>
          {(id, describedBy, invalid) => (
            <input
              id={id}
              value={name}
              required
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field
          label="Slug"
          name="slug"
          error={action.error}
          hint="The first segment of the app's Consumer API paths, e.g. /shop/v1/auth/signin."
        >
          {(id, describedBy, invalid) => (
            <input
              id={id}
              value={slug}
              required
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              onInput={(e) => setSlug((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={action.busy}>
          Create app
        </button>
      </form>
      <ErrorNotice error={action.error} />
    </details>
  );
}

export function OverviewPage() {
  const { workspace } = useSession();
  const [term, setTerm] = useState("");
  const list = useCursorList<App>(
    (cursor) =>
      api<Page<App>>("GET", path("/v1/apps", {}, { workspace_id: workspace?.id, limit: PAGE_SIZE, cursor })),
    [workspace?.id],
  );
  const needle = term.toLowerCase();
  const apps = (list.data?.data ?? []).filter(
    (a) => !needle || a.display_name.toLowerCase().includes(needle) || a.slug.includes(needle),
  );
  return (
    <>
      <h1>Apps{workspace ? ` in ${workspace.display_name}` : ""}</h1>
      <CreateApp workspaceId={workspace?.id} />
      <SearchBox
        label="Filter apps on this page"
        value={term}
        onSearch={setTerm}
        placeholder="name or slug"
      />
      <ErrorNotice error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : apps.length === 0 ? (
        <p class="empty">
          {term
            ? "No app on this page matches."
            : "No apps yet. Create one here, with the Admin API or with `heimdall seed apply`."}
        </p>
      ) : (
        <ul class="cards" aria-label="Apps">
          {apps.map((a) => (
            <AppCard key={a.id} app={a} />
          ))}
        </ul>
      )}
      <Pager list={list} label="Apps" />
    </>
  );
}

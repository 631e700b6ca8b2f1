/**
 * @module Workspace overview: the workspace's apps, a page at a time, each with its live figures (end users,
 * live sessions, sign-ins in the last 24 hours, signing-key states). The apps list has no server-side search,
 * so the search box filters the page shown (docs/console.md).
 */
import { useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Loading, Pager, SearchBox } from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
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
            : "No apps yet. Create one with the Admin API or `heimdall seed apply`."}
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

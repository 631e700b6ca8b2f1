/** @module The signed-in frame around every page but sign-in: skip link, header (workspace, who, sign out), the app's tabs, and `<main>`. */

import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { api } from "./api.ts";
import { ErrorNotice, Loading } from "./components.tsx";
import { useApi } from "./hooks.ts";
import { appPath, type ConsolePage, PAGES } from "./pages.ts";
import { SessionProvider, useSession } from "./session.tsx";
import type { App } from "./types.ts";

function Header() {
  const { me, workspaces, workspace, selectWorkspace } = useSession();
  const { route } = useLocation();
  const [busy, setBusy] = useState(false);
  const signOut = async () => {
    setBusy(true);
    try {
      await api("POST", "/v1/auth/logout", {});
    } finally {
      setBusy(false);
      route("/console/signin");
    }
  };
  return (
    <header class="topbar">
      <a class="brand" href="/console">
        Heimdall
      </a>
      {workspaces.length > 1 ? (
        <label class="workspace">
          <span class="visually-hidden">Workspace</span>
          <select
            value={workspace?.id}
            onChange={(e) => selectWorkspace((e.currentTarget as HTMLSelectElement).value)}
          >
            {workspaces.map((w) => (
              <option key={w.id} value={w.id}>
                {w.display_name}
              </option>
            ))}
          </select>
        </label>
      ) : (
        <span class="workspace">{workspace?.display_name}</span>
      )}
      <a class="platform-link" href="/console/workspace">
        Platform access
      </a>
      <span class="who" title={me.email ?? me.username}>
        {me.display_name ?? me.email ?? me.username}
      </span>
      <button type="button" class="secondary" onClick={signOut} disabled={busy}>
        Sign out
      </button>
    </header>
  );
}

/** The app's name and its tabs (every page in the table with a `tab`), the current one marked. */
function AppFrame({ appId, children }: { readonly appId: string; readonly children: ComponentChildren }) {
  const { path } = useLocation();
  const app = useApi(() => api<App>("GET", `/v1/apps/${encodeURIComponent(appId)}`), [appId]);
  return (
    <>
      <div class="app-heading">
        <p class="crumbs">
          <a href="/console">Apps</a> /
        </p>
        {app.data ? (
          <h1>
            {app.data.display_name} <span class="muted slug">{app.data.slug}</span>
          </h1>
        ) : app.error ? (
          <ErrorNotice error={app.error} />
        ) : (
          <Loading />
        )}
      </div>
      <nav class="tabs" aria-label="App sections">
        {PAGES.filter((p) => p.tab).map((p) => {
          const href = appPath(p, appId);
          const current =
            path === href ||
            ((p.path.endsWith("/users") || p.path.endsWith("/tenants")) && path.startsWith(`${href}/`));
          return (
            <a key={p.path} href={href} aria-current={current ? "page" : undefined}>
              {p.tab}
            </a>
          );
        })}
      </nav>
      {children}
    </>
  );
}

export function Shell({ page, ...props }: { readonly page: ConsolePage; readonly appId?: string }) {
  const Page = page.component;
  const body = <Page {...props} />;
  return (
    <SessionProvider>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <Header />
      <main id="main" class="page" tabIndex={-1}>
        {props.appId ? <AppFrame appId={props.appId}>{body}</AppFrame> : body}
      </main>
    </SessionProvider>
  );
}

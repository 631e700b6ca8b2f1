/**
 * @module One end user: profile, contacts, role and live sessions; suspend or reinstate, change the role,
 * end every session, and delete (typed confirmation). Each action is one Admin API call, audited there.
 */
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api, type Page, path } from "../api.ts";
import { Badge, ConfirmDialog, ErrorNotice, Field, Loading, Notice, Time } from "../components.tsx";
import { useApi } from "../hooks.ts";
import type { Contact, EndUser } from "../types.ts";

type Dialog = "suspend" | "reinstate" | "revoke" | "delete";

export function UserDetailPage({ appId, userId }: { readonly appId: string; readonly userId: string }) {
  const { route } = useLocation();
  const base = { id: appId, user: userId };
  const user = useApi(
    () => api<EndUser>("GET", path("/v1/apps/{id}/end-users/{user}", base)),
    [appId, userId],
  );
  const contacts = useApi(
    () => api<{ data: Contact[] }>("GET", path("/v1/apps/{id}/end-users/{user}/contacts", base)),
    [appId, userId],
  );
  const roles = useApi(
    () => api<Page<{ name: string }>>("GET", path("/v1/apps/{id}/roles", { id: appId }, { limit: 200 })),
    [appId],
  );
  const [dialog, setDialog] = useState<Dialog>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState<string>();
  const [role, setRole] = useState<string>();
  // The account as the last action returned it, so the page shows the change with its notice.
  const [fresh, setFresh] = useState<EndUser>();
  useEffect(() => setFresh(undefined), [appId, userId]);

  const run = async (what: string, call: () => Promise<unknown>, after?: () => void) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      const result = await call();
      const returned =
        result && typeof result === "object" && "status" in result ? (result as EndUser) : undefined;
      setFresh(returned);
      if (!returned) user.reload();
      setDone(what);
      after?.();
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "CLIENT_ERROR", String(err)));
    } finally {
      setBusy(false);
      setDialog(undefined);
    }
  };
  const setStatus = (status: "active" | "suspended") =>
    run(status === "active" ? "Reinstated." : "Suspended: every session ended.", () =>
      api("PATCH", path("/v1/apps/{id}/end-users/{user}/status", base), { status }),
    );

  if (user.error) return <ErrorNotice error={user.error} all />;
  if (!user.data) return <Loading />;
  const u = fresh ?? user.data;
  const currentRole = role ?? u.role ?? "";
  return (
    <section aria-labelledby="user-title">
      <p class="crumbs">
        <a href={`/console/apps/${encodeURIComponent(appId)}/users`}>End users</a> /
      </p>
      <h2 id="user-title">
        {u.username} <Badge tone={u.status}>{u.status}</Badge>
      </h2>
      <ErrorNotice error={error} all />
      {done && <Notice>{done}</Notice>}
      <dl class="props">
        <dt>Name</dt>
        <dd>{u.display_name ?? <span class="muted">—</span>}</dd>
        <dt>Email</dt>
        <dd>
          {u.email ?? <span class="muted">—</span>}{" "}
          {u.email &&
            (u.email_verified_at ? (
              <Badge tone="active">verified</Badge>
            ) : (
              <Badge tone="warn">not verified</Badge>
            ))}
        </dd>
        <dt>Live sessions</dt>
        <dd>{u.active_session_count}</dd>
        <dt>Last active</dt>
        <dd>
          <Time iso={u.last_used_at} />
        </dd>
        <dt>Joined</dt>
        <dd>
          <Time iso={u.joined_at ?? u.created_at} />
        </dd>
        <dt>Id</dt>
        <dd>
          <code>{u.id}</code>
        </dd>
      </dl>

      <h3>Contacts</h3>
      <ErrorNotice error={contacts.error} all />
      {contacts.data &&
        (contacts.data.data.length === 0 ? (
          <p class="empty">No contacts.</p>
        ) : (
          <ul class="plain">
            {contacts.data.data.map((c) => (
              <li key={c.id}>
                {c.type}: {c.value} {c.is_primary && <Badge tone="next">primary</Badge>}
                {c.verified_at ? (
                  <Badge tone="active">verified</Badge>
                ) : (
                  <Badge tone="warn">not verified</Badge>
                )}
              </li>
            ))}
          </ul>
        ))}

      <h3>Role</h3>
      <form
        class="inline"
        onSubmit={(e) => {
          e.preventDefault();
          if (currentRole && currentRole !== u.role)
            void run(`Role set to ${currentRole}.`, () =>
              api("PATCH", path("/v1/apps/{id}/end-users/{user}/role", base), { role_name: currentRole }),
            );
        }}
      >
        <Field label="App role" name="role_name" error={error}>
          {(id, describedBy, invalid) => (
            <select
              id={id}
              value={currentRole}
              aria-describedby={describedBy}
              aria-invalid={invalid || undefined}
              onChange={(e) => setRole((e.currentTarget as HTMLSelectElement).value)}
            >
              {(roles.data?.data ?? []).map((r) => (
                <option key={r.name} value={r.name}>
                  {r.name}
                </option>
              ))}
              {u.role && !roles.data?.data.some((r) => r.name === u.role) && (
                <option value={u.role}>{u.role}</option>
              )}
            </select>
          )}
        </Field>
        <button type="submit" class="secondary" disabled={busy || !currentRole || currentRole === u.role}>
          Change role
        </button>
      </form>

      <h3>Actions</h3>
      <div class="actions">
        {u.status === "active" ? (
          <button type="button" class="secondary" onClick={() => setDialog("suspend")} disabled={busy}>
            Suspend…
          </button>
        ) : (
          <button type="button" class="secondary" onClick={() => setDialog("reinstate")} disabled={busy}>
            Reinstate
          </button>
        )}
        <button type="button" class="secondary" onClick={() => setDialog("revoke")} disabled={busy}>
          End all sessions…
        </button>
        <button type="button" class="danger" onClick={() => setDialog("delete")} disabled={busy}>
          Delete…
        </button>
      </div>

      <ConfirmDialog
        open={dialog === "suspend"}
        title={`Suspend ${u.username}?`}
        action="Suspend"
        busy={busy}
        onConfirm={() => setStatus("suspended")}
        onCancel={() => setDialog(undefined)}
      >
        <p>They are signed out everywhere at once and cannot sign in until reinstated. Nothing is deleted.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "reinstate"}
        title={`Reinstate ${u.username}?`}
        action="Reinstate"
        busy={busy}
        onConfirm={() => setStatus("active")}
        onCancel={() => setDialog(undefined)}
      >
        <p>They can sign in again.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "revoke"}
        title="End every session?"
        action="End sessions"
        busy={busy}
        onConfirm={() =>
          run("Every session ended.", () =>
            api("POST", path("/v1/apps/{id}/end-users/{user}/sessions/revoke-all", base)),
          )
        }
        onCancel={() => setDialog(undefined)}
      >
        <p>
          Their refresh tokens stop working and access tokens are refused at once; they must sign in again.
        </p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "delete"}
        title={`Delete ${u.username}?`}
        action="Delete for good"
        danger
        confirmText={u.username}
        busy={busy}
        onConfirm={() =>
          run(
            "Deleted.",
            () => api("DELETE", path("/v1/apps/{id}/end-users/{user}", base)),
            () => route(`/console/apps/${encodeURIComponent(appId)}/users`),
          )
        }
        onCancel={() => setDialog(undefined)}
      >
        <p>
          The account, its contacts, sessions and factors are removed. This cannot be undone; audit rows
          remain.
        </p>
      </ConfirmDialog>
    </section>
  );
}

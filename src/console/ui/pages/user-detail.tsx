/**
 * @module One end user: profile, contacts, role, live sessions, tenants and MFA factors; suspend or
 * reinstate, change the role, end one session or every session, send a password reset, and delete (typed
 * confirmation). Each action is one Admin API call, audited there.
 */
import { useEffect, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiError, api, type Page, path } from "../api.ts";
import {
  Badge,
  ConfirmDialog,
  ErrorNotice,
  Field,
  Loading,
  Notice,
  TableWrap,
  Time,
} from "../components.tsx";
import { useApi } from "../hooks.ts";
import type { Contact, EndUser, EndUserFactor, EndUserSession, EndUserTenant } from "../types.ts";

type Dialog = "suspend" | "reinstate" | "revoke" | "delete" | "reset" | { session: string };

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
  const sessions = useApi(
    () => api<{ data: EndUserSession[] }>("GET", path("/v1/apps/{id}/end-users/{user}/sessions", base)),
    [appId, userId],
  );
  const tenants = useApi(
    () => api<{ data: EndUserTenant[] }>("GET", path("/v1/apps/{id}/end-users/{user}/tenants", base)),
    [appId, userId],
  );
  const factors = useApi(
    () => api<{ data: EndUserFactor[] }>("GET", path("/v1/apps/{id}/end-users/{user}/factors", base)),
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
      sessions.reload();
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

      <h3>Sessions</h3>
      <ErrorNotice error={sessions.error} all />
      {sessions.data &&
        (sessions.data.data.length === 0 ? (
          <p class="empty">No live sessions.</p>
        ) : (
          <TableWrap label="Live sessions">
            <table>
              <caption class="visually-hidden">Live sessions</caption>
              <thead>
                <tr>
                  <th scope="col">Started</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Address</th>
                  <th scope="col">Client</th>
                  <th scope="col">Signed in with</th>
                  <th scope="col">Tenant</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {sessions.data.data.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <Time iso={s.created_at} />
                    </td>
                    <td>
                      <Time iso={s.last_used_at} />
                    </td>
                    <td>{s.ip ?? <span class="muted">—</span>}</td>
                    <td>{s.user_agent ?? <span class="muted">—</span>}</td>
                    <td>{s.amr.join(", ")}</td>
                    <td>{s.tenant_id ? <code>{s.tenant_id}</code> : <span class="muted">app</span>}</td>
                    <td>
                      <button
                        type="button"
                        class="secondary"
                        disabled={busy}
                        aria-label={`End the session started ${new Date(s.created_at).toLocaleString()}`}
                        onClick={() => setDialog({ session: s.id })}
                      >
                        End…
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        ))}

      <h3>Tenants</h3>
      <ErrorNotice error={tenants.error} all />
      {tenants.data &&
        (tenants.data.data.length === 0 ? (
          <p class="empty">Not a member of any tenant.</p>
        ) : (
          <ul class="plain">
            {tenants.data.data.map((t) => (
              <li key={t.tenant_id}>
                <a
                  href={`/console/apps/${encodeURIComponent(appId)}/tenants/${encodeURIComponent(t.tenant_id)}`}
                >
                  {t.display_name}
                </a>{" "}
                as {t.role_name}
                {t.tenant_status !== "active" && <Badge tone="warn">{t.tenant_status}</Badge>}
              </li>
            ))}
          </ul>
        ))}

      <h3>MFA factors</h3>
      <ErrorNotice error={factors.error} all />
      {factors.data &&
        (factors.data.data.length === 0 ? (
          <p class="empty">No factors.</p>
        ) : (
          <ul class="plain">
            {factors.data.data.map((f) => (
              <li key={f.id}>
                {f.type}
                {f.label && ` (${f.label})`}{" "}
                {f.enabled ? <Badge tone="active">enabled</Badge> : <Badge tone="warn">pending</Badge>} since{" "}
                <Time iso={f.enabled_at ?? f.created_at} />
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
        <button
          type="button"
          class="secondary"
          onClick={() => setDialog("reset")}
          disabled={busy || !u.email || !u.email_verified_at || u.status !== "active"}
          aria-describedby="reset-hint"
        >
          Send password reset…
        </button>
        <button type="button" class="danger" onClick={() => setDialog("delete")} disabled={busy}>
          Delete…
        </button>
      </div>
      <p class="hint" id="reset-hint">
        A password reset is emailed to a verified address of an active account; the code is never shown here.
      </p>

      <ConfirmDialog
        open={typeof dialog === "object"}
        title="End this session?"
        action="End session"
        busy={busy}
        onConfirm={() => {
          if (typeof dialog !== "object") return;
          const session = dialog.session;
          void run("Session ended.", () =>
            api("DELETE", path("/v1/apps/{id}/end-users/{user}/sessions/{session}", { ...base, session })),
          );
        }}
        onCancel={() => setDialog(undefined)}
      >
        <p>Its refresh token stops working and its access tokens are refused at once.</p>
      </ConfirmDialog>
      <ConfirmDialog
        open={dialog === "reset"}
        title={`Email ${u.username} a password reset?`}
        action="Send reset"
        busy={busy}
        onConfirm={() =>
          run(`Password reset sent to ${u.email ?? "their email"}.`, () =>
            api("POST", path("/v1/apps/{id}/end-users/{user}/password-reset", base)),
          )
        }
        onCancel={() => setDialog(undefined)}
      >
        <p>
          A one-time code goes to {u.email}. Their password stays as it is until they use it; any earlier
          reset code stops working.
        </p>
      </ConfirmDialog>
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

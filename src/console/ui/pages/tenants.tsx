/** @module Tenants: the list (status filtered by the API, the name filtered on the page) and create; one tenant's settings and its members (add, change role, remove). */
import { useEffect, useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import {
  Badge,
  ErrorNotice,
  Field,
  Loading,
  Notice,
  Pager,
  SearchBox,
  TableWrap,
  Time,
  useId,
} from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
import { ConfirmButton, useAction } from "../parts.tsx";

interface Tenant {
  readonly id: string;
  readonly display_id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly status: "active" | "suspended" | "archived";
  readonly created_at: string;
}
interface Member {
  readonly id: string;
  readonly account_id: string;
  readonly role_name: string;
  readonly joined_at: string;
}

const tenantHref = (appId: string, tenantId: string) =>
  `/console/apps/${encodeURIComponent(appId)}/tenants/${encodeURIComponent(tenantId)}`;

function TextField(props: {
  label: string;
  name: string;
  value: string;
  set: (v: string) => void;
  error?: Parameters<typeof Field>[0]["error"];
  required?: boolean;
  hint?: string;
  type?: "text" | "email";
}) {
  return (
    <Field label={props.label} name={props.name} error={props.error} hint={props.hint}>
      {(id, d, bad) => (
        <input
          id={id}
          type={(props.type ?? "text") as "text"}
          aria-describedby={d}
          aria-invalid={bad || undefined}
          value={props.value}
          required={props.required}
          onInput={(e) => props.set((e.currentTarget as HTMLInputElement).value)}
        />
      )}
    </Field>
  );
}

export function TenantsPage({ appId }: { readonly appId: string }) {
  const [status, setStatus] = useState("");
  const [search, setSearch] = useState("");
  const statusId = useId("tenant-status");
  const list = useCursorList<Tenant>(
    (cursor) =>
      api<Page<Tenant>>("GET", path("/v1/apps/{id}/tenants", { id: appId }, { limit: 25, cursor, status })),
    [appId, status],
  );
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [made, setMade] = useState<Tenant>();
  const create = useAction();
  const term = search.toLowerCase();
  const tenants = (list.data?.data ?? []).filter(
    (t) => !term || t.display_name.toLowerCase().includes(term) || t.slug.includes(term),
  );
  return (
    <section aria-labelledby="tenants-title">
      <h2 id="tenants-title">Tenants</h2>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await create.run(async () => {
            const t = await api<Tenant>("POST", path("/v1/apps/{id}/tenants", { id: appId }), {
              display_name: name,
              ...(slug ? { slug } : {}),
            });
            setMade(t);
            setName("");
            setSlug("");
            list.first();
            list.reload();
          });
        }}
      >
        <TextField
          label="Tenant name"
          name="display_name"
          value={name}
          set={setName}
          error={create.error}
          required
        />
        <TextField
          label="Slug"
          name="slug"
          value={slug}
          set={setSlug}
          error={create.error}
          hint="Optional."
        />
        <button type="submit" disabled={create.busy}>
          Create tenant
        </button>
      </form>
      <ErrorNotice error={create.error} />
      {made && (
        <Notice>
          Created <a href={tenantHref(appId, made.id)}>{made.display_name}</a> ({made.slug}).
        </Notice>
      )}
      <div class="filters">
        <SearchBox label="Filter the tenants on this page by name" value={search} onSearch={setSearch} />
        <div class="field">
          <label for={statusId}>Status</label>
          <select
            id={statusId}
            value={status}
            onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}
          >
            <option value="">Any</option>
            <option value="active">Active</option>
            <option value="suspended">Suspended</option>
            <option value="archived">Archived</option>
          </select>
        </div>
      </div>
      <ErrorNotice error={list.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : tenants.length === 0 ? (
        <p class="empty">{search || status ? "No tenant matches." : "No tenants yet."}</p>
      ) : (
        <TableWrap label="Tenants">
          <table>
            <caption class="visually-hidden">Tenants</caption>
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Slug</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {tenants.map((t) => (
                <tr key={t.id}>
                  <td>
                    <a href={tenantHref(appId, t.id)}>{t.display_name}</a>
                  </td>
                  <td>
                    <code>{t.slug}</code>
                  </td>
                  <td>
                    <Badge tone={t.status}>{t.status}</Badge>
                  </td>
                  <td>
                    <Time iso={t.created_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="Tenants" />
    </section>
  );
}

function Members({ appId, tenantId }: { readonly appId: string; readonly tenantId: string }) {
  const base = path("/v1/apps/{id}/tenants/{tid}/members", { id: appId, tid: tenantId });
  const [search, setSearch] = useState("");
  const list = useCursorList<Member>(
    (cursor) => api<Page<Member>>("GET", path(base, {}, { limit: 25, cursor })),
    [base],
  );
  const [email, setEmail] = useState("");
  const [role, setRole] = useState("member");
  const add = useAction();
  const act = useAction();
  const members = (list.data?.data ?? []).filter(
    (m) => !search || m.account_id.includes(search) || m.role_name.includes(search),
  );
  return (
    <section aria-labelledby="members-title">
      <h3 id="members-title">Members</h3>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await add.run(() => api("POST", base, { email, role_name: role }));
          if (ok) {
            setEmail("");
            list.reload();
          }
        }}
      >
        <TextField
          label="Member email"
          name="email"
          type="email"
          value={email}
          set={setEmail}
          error={add.error}
          required
          hint="An existing end user with this email, or a new account for it."
        />
        <TextField
          label="Tenant role"
          name="role_name"
          value={role}
          set={setRole}
          error={add.error}
          required
        />
        <button type="submit" disabled={add.busy}>
          Add member
        </button>
      </form>
      <ErrorNotice error={add.error} />
      <SearchBox label="Filter the members on this page" value={search} onSearch={setSearch} />
      <ErrorNotice error={list.error ?? act.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : members.length === 0 ? (
        <p class="empty">No members.</p>
      ) : (
        <TableWrap label="Tenant members">
          <table>
            <caption class="visually-hidden">Tenant members</caption>
            <thead>
              <tr>
                <th scope="col">Account</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr key={m.id}>
                  <td>
                    <a
                      href={`/console/apps/${encodeURIComponent(appId)}/users/${encodeURIComponent(m.account_id)}`}
                    >
                      <code>{m.account_id}</code>
                    </a>
                  </td>
                  <td>
                    <RoleEditor
                      member={m}
                      onSave={(r) =>
                        act
                          .run(() =>
                            api("PATCH", `${base}/${encodeURIComponent(m.account_id)}`, { role_name: r }),
                          )
                          .then(list.reload)
                      }
                    />
                  </td>
                  <td>
                    <Time iso={m.joined_at} />
                  </td>
                  <td>
                    <ConfirmButton
                      label="Remove"
                      accessibleName={`Remove ${m.account_id}`}
                      title="Remove this member?"
                      action="Remove member"
                      onConfirm={() =>
                        act
                          .run(() => api("DELETE", `${base}/${encodeURIComponent(m.account_id)}`))
                          .then(list.reload)
                      }
                    >
                      <p>The account stays; it loses this tenant's role.</p>
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="Members" />
    </section>
  );
}

function RoleEditor({ member, onSave }: { member: Member; onSave: (role: string) => void }) {
  const [role, setRole] = useState(member.role_name);
  const id = useId("member-role");
  useEffect(() => setRole(member.role_name), [member.role_name]);
  return (
    <form
      class="inline compact"
      onSubmit={(e) => {
        e.preventDefault();
        onSave(role);
      }}
    >
      <label for={id} class="visually-hidden">
        Role of {member.account_id}
      </label>
      <input
        id={id}
        value={role}
        size={10}
        onInput={(e) => setRole((e.currentTarget as HTMLInputElement).value)}
      />
      {role !== member.role_name && (
        <button type="submit" class="secondary">
          Change role
        </button>
      )}
    </form>
  );
}

export function TenantPage({ appId, tenantId }: { readonly appId: string; readonly tenantId: string }) {
  const url = path("/v1/apps/{id}/tenants/{tid}", { id: appId, tid: tenantId });
  const tenant = useApi(() => api<Tenant>("GET", url), [url]);
  const [name, setName] = useState("");
  const [slug, setSlug] = useState("");
  const [status, setStatus] = useState("active");
  const [saved, setSaved] = useState(false);
  const save = useAction();
  const remove = useAction();
  useEffect(() => {
    if (!tenant.data) return;
    setName(tenant.data.display_name);
    setSlug(tenant.data.slug);
    setStatus(tenant.data.status);
  }, [tenant.data]);
  if (tenant.error) return <ErrorNotice error={tenant.error} all />;
  if (!tenant.data) return <Loading />;
  return (
    <section aria-labelledby="tenant-title">
      <p class="crumbs">
        <a href={`/console/apps/${encodeURIComponent(appId)}/tenants`}>Tenants</a> /
      </p>
      <h2 id="tenant-title">{tenant.data.display_name}</h2>
      <p class="muted">
        <code>{tenant.data.display_id}</code>
      </p>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          setSaved(false);
          const ok = await save.run(() => api("PATCH", url, { display_name: name, slug, status }));
          if (ok) {
            setSaved(true);
            tenant.reload();
          }
        }}
      >
        <TextField
          label="Tenant name"
          name="display_name"
          value={name}
          set={setName}
          error={save.error}
          required
        />
        <TextField label="Slug" name="slug" value={slug} set={setSlug} error={save.error} required />
        <Field label="Status" name="status" error={save.error}>
          {(id) => (
            <select
              id={id}
              value={status}
              onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}
            >
              <option value="active">Active</option>
              <option value="suspended">Suspended</option>
              <option value="archived">Archived</option>
            </select>
          )}
        </Field>
        <button type="submit" disabled={save.busy}>
          Save tenant
        </button>
      </form>
      <ErrorNotice error={save.error ?? remove.error} />
      {saved && <Notice>Saved.</Notice>}
      <div class="actions">
        <ConfirmButton
          label="Delete tenant"
          title={`Delete ${tenant.data.display_name}?`}
          action="Delete tenant"
          confirmText={tenant.data.slug}
          onConfirm={async () => {
            const ok = await remove.run(() => api("DELETE", url));
            if (ok) window.location.assign(`/console/apps/${encodeURIComponent(appId)}/tenants`);
          }}
        >
          <p>Its memberships go with it. The accounts stay.</p>
        </ConfirmButton>
      </div>
      <Members appId={appId} tenantId={tenantId} />
    </section>
  );
}

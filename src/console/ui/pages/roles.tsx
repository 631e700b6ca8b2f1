/** @module Roles and permissions: the app's roles a page at a time, custom roles created and deleted, a role's permissions edited as checkboxes over the catalogue, custom permissions created and deleted. */
import { useEffect, useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Field, Loading, Notice, Pager, SearchBox, TableWrap } from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
import { ConfirmButton, useAction } from "../parts.tsx";

interface Role {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly is_system: boolean;
}
interface Permission {
  readonly id: string;
  readonly app_id: string | null;
  readonly resource: string;
  readonly action: string;
  readonly description: string | null;
}
interface RoleDetail extends Role {
  readonly permissions: { resource: string; action: string }[];
}

const keyOf = (p: { resource: string; action: string }) => `${p.resource}.${p.action}`;

function RolePermissions({
  appId,
  role,
  catalogue,
}: {
  readonly appId: string;
  readonly role: Role;
  readonly catalogue: Permission[];
}) {
  const detail = useApi(
    () => api<RoleDetail>("GET", path("/v1/apps/{id}/roles/{role}", { id: appId, role: role.name })),
    [appId, role.name],
  );
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [saved, setSaved] = useState(false);
  const save = useAction();
  useEffect(() => {
    if (detail.data) setChosen(new Set(detail.data.permissions.map(keyOf)));
  }, [detail.data]);
  if (detail.error) return <ErrorNotice error={detail.error} all />;
  if (!detail.data) return <Loading />;
  const toggle = (k: string, on: boolean) => {
    setSaved(false);
    setChosen((s) => {
      const n = new Set(s);
      if (on) n.add(k);
      else n.delete(k);
      return n;
    });
  };
  return (
    <form
      onSubmit={async (e) => {
        e.preventDefault();
        const ok = await save.run(() =>
          api("PUT", path("/v1/apps/{id}/roles/{role}/permissions", { id: appId, role: role.name }), {
            permissions: [...chosen],
          }),
        );
        if (ok) {
          setSaved(true);
          detail.reload();
        }
      }}
    >
      <fieldset>
        <legend>Permissions of {role.name}</legend>
        <ul class="plain checks">
          {catalogue.map((p) => {
            const k = keyOf(p);
            const id = `perm-${role.id}-${k}`;
            return (
              <li key={k}>
                <input
                  type="checkbox"
                  id={id}
                  checked={chosen.has(k)}
                  onChange={(e) => toggle(k, (e.currentTarget as HTMLInputElement).checked)}
                />{" "}
                <label for={id}>
                  <code>{k}</code>
                  {p.description && <span class="muted"> — {p.description}</span>}
                </label>
              </li>
            );
          })}
        </ul>
      </fieldset>
      <ErrorNotice error={save.error} all />
      {saved && <Notice>Saved {chosen.size} permissions.</Notice>}
      <div class="actions">
        <button type="submit" disabled={save.busy}>
          Save permissions
        </button>
      </div>
    </form>
  );
}

export function RolesPage({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const [open, setOpen] = useState<string>();
  const list = useCursorList<Role>(
    (cursor) => api<Page<Role>>("GET", path("/v1/apps/{id}/roles", { id: appId }, { limit: 50, cursor })),
    [appId],
  );
  const perms = useApi(
    () => api<Permission[]>("GET", path("/v1/apps/{id}/permissions", { id: appId })),
    [appId],
  );
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useAction();
  const remove = useAction();
  const [resource, setResource] = useState("");
  const [permAction, setPermAction] = useState("");
  const [permDescription, setPermDescription] = useState("");
  const createPerm = useAction();
  const term = search.toLowerCase();
  const roles = (list.data?.data ?? []).filter(
    (r) => !term || r.name.includes(term) || (r.description ?? "").toLowerCase().includes(term),
  );
  const catalogue = perms.data ?? [];
  return (
    <section aria-labelledby="roles-title">
      <h2 id="roles-title">Roles</h2>
      <p class="hint">
        System roles come with every app; their permissions can be changed but they cannot be deleted.
      </p>
      <SearchBox label="Filter the roles on this page" value={search} onSearch={setSearch} />
      <ErrorNotice error={list.error ?? remove.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : roles.length === 0 ? (
        <p class="empty">No role matches.</p>
      ) : (
        <ul class="plain role-list">
          {roles.map((r) => (
            <li key={r.id} class="card">
              <h3>
                {r.name} {r.is_system && <Badge tone="next">system</Badge>}
              </h3>
              {r.description && <p>{r.description}</p>}
              <div class="actions">
                <button
                  type="button"
                  class="secondary"
                  aria-expanded={open === r.name}
                  onClick={() => setOpen(open === r.name ? undefined : r.name)}
                >
                  {open === r.name ? "Close permissions" : `Edit permissions of ${r.name}`}
                </button>
                {!r.is_system && (
                  <ConfirmButton
                    label="Delete"
                    accessibleName={`Delete role ${r.name}`}
                    title={`Delete the role ${r.name}?`}
                    action="Delete role"
                    onConfirm={() =>
                      remove
                        .run(() =>
                          api("DELETE", path("/v1/apps/{id}/roles/{role}", { id: appId, role: r.name })),
                        )
                        .then(list.reload)
                    }
                  >
                    <p>A role still held by a user or a tenant member cannot be deleted.</p>
                  </ConfirmButton>
                )}
              </div>
              {open === r.name && <RolePermissions appId={appId} role={r} catalogue={catalogue} />}
            </li>
          ))}
        </ul>
      )}
      <Pager list={list} label="Roles" />

      <h3>New role</h3>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await create.run(() =>
            api("POST", path("/v1/apps/{id}/roles", { id: appId }), {
              name,
              ...(description ? { description } : {}),
            }),
          );
          if (ok) {
            setName("");
            setDescription("");
            list.first();
            list.reload();
          }
        }}
      >
        <Field label="Name" name="name" error={create.error}>
          {(id, d, bad) => (
            <input
              id={id}
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={name}
              required
              onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field label="Description" name="description" error={create.error}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={description}
              onInput={(e) => setDescription((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={create.busy}>
          Create role
        </button>
      </form>
      <ErrorNotice error={create.error} />

      <h2 id="perms-title">Permissions</h2>
      <p class="hint">
        The catalogue: Heimdall's own permissions and the app's custom ones (which can be deleted).
      </p>
      <ErrorNotice error={perms.error} all />
      {perms.data && (
        <TableWrap label="Permission catalogue">
          <table>
            <caption class="visually-hidden">Permission catalogue</caption>
            <thead>
              <tr>
                <th scope="col">Permission</th>
                <th scope="col">Description</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {catalogue
                .filter((p) => !term || keyOf(p).includes(term))
                .map((p) => (
                  <tr key={p.id}>
                    <td>
                      <code>{keyOf(p)}</code> {p.app_id && <Badge tone="next">custom</Badge>}
                    </td>
                    <td>{p.description ?? <span class="muted">—</span>}</td>
                    <td>
                      {p.app_id && (
                        <ConfirmButton
                          label="Delete"
                          accessibleName={`Delete permission ${keyOf(p)}`}
                          title={`Delete ${keyOf(p)}?`}
                          action="Delete permission"
                          onConfirm={() =>
                            remove
                              .run(() =>
                                api(
                                  "DELETE",
                                  path("/v1/apps/{id}/permissions/{key}", { id: appId, key: keyOf(p) }),
                                ),
                              )
                              .then(perms.reload)
                          }
                        >
                          <p>Roles that grant it lose it.</p>
                        </ConfirmButton>
                      )}
                    </td>
                  </tr>
                ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <h3>New permission</h3>
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await createPerm.run(() =>
            api("POST", path("/v1/apps/{id}/permissions", { id: appId }), {
              resource,
              action: permAction,
              ...(permDescription ? { description: permDescription } : {}),
            }),
          );
          if (ok) {
            setResource("");
            setPermAction("");
            setPermDescription("");
            perms.reload();
          }
        }}
      >
        <Field label="Resource" name="resource" error={createPerm.error}>
          {(id, d, bad) => (
            <input
              id={id}
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={resource}
              required
              onInput={(e) => setResource((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field label="Action" name="action" error={createPerm.error}>
          {(id, d, bad) => (
            <input
              id={id}
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={permAction}
              required
              onInput={(e) => setPermAction((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <Field label="Permission description" name="description" error={createPerm.error}>
          {(id, d) => (
            <input
              id={id}
              aria-describedby={d}
              value={permDescription}
              onInput={(e) => setPermDescription((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={createPerm.busy}>
          Create permission
        </button>
      </form>
      <ErrorNotice error={createPerm.error} />
    </section>
  );
}

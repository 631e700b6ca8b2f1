/** @module Machine credentials: M2M clients (create with the secret shown once, rotate, scopes, deactivate, delete) and app API keys (create with the key shown once, revoke). */
import { Fragment } from "preact";
import { useState } from "preact/hooks";
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
} from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
import { ConfirmButton, SecretOnce, splitList, useAction } from "../parts.tsx";

interface M2mClient {
  readonly id: string;
  readonly client_id: string;
  readonly name: string;
  readonly is_active: boolean;
  readonly last_used_at: string | null;
  readonly created_at: string;
}
interface ApiKey {
  readonly id: string;
  readonly name: string;
  readonly key_prefix: string;
  readonly permissions: string[];
  readonly last_used_at: string | null;
  readonly expires_at: string | null;
  readonly created_at: string;
}

const matches = (term: string, ...values: string[]) =>
  !term || values.some((v) => v.toLowerCase().includes(term.toLowerCase()));

function Scopes({ appId, client, onDone }: { appId: string; client: M2mClient; onDone: () => void }) {
  const detail = useApi(
    () =>
      api<{ scopes: { resource: string; action: string }[] }>(
        "GET",
        path("/v1/apps/{id}/credentials/{cid}", { id: appId, cid: client.client_id }),
      ),
    [appId, client.client_id],
  );
  const [text, setText] = useState<string>();
  const save = useAction();
  if (detail.error) return <ErrorNotice error={detail.error} all />;
  if (!detail.data) return <Loading />;
  const value = text ?? detail.data.scopes.map((s) => `${s.resource}.${s.action}`).join(" ");
  return (
    <form
      class="inline"
      onSubmit={async (e) => {
        e.preventDefault();
        const ok = await save.run(() =>
          api("PUT", path("/v1/apps/{id}/credentials/{cid}/scopes", { id: appId, cid: client.client_id }), {
            permissions: splitList(value),
          }),
        );
        if (ok) onDone();
      }}
    >
      <Field
        label={`Scopes of ${client.name}`}
        name="permissions"
        error={save.error}
        hint="Permissions as resource.action, separated by spaces or commas."
      >
        {(id, d, bad) => (
          <input
            id={id}
            aria-describedby={d}
            aria-invalid={bad || undefined}
            value={value}
            onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          />
        )}
      </Field>
      <button type="submit" disabled={save.busy}>
        Save scopes
      </button>
      <ErrorNotice error={save.error} />
    </form>
  );
}

function M2mSection({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const list = useCursorList<M2mClient>(
    (cursor) =>
      api<Page<M2mClient>>("GET", path("/v1/apps/{id}/credentials", { id: appId }, { limit: 25, cursor })),
    [appId],
  );
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState("");
  const [secret, setSecret] = useState<{ label: string; clientId: string; value: string }>();
  const [editing, setEditing] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const create = useAction();
  const act = useAction();
  const clients = (list.data?.data ?? []).filter((c) => matches(search, c.name, c.client_id));
  const cpath = (c: M2mClient, tail = "") =>
    path(`/v1/apps/{id}/credentials/{cid}${tail}`, { id: appId, cid: c.client_id });
  return (
    <section aria-labelledby="m2m-title">
      <h2 id="m2m-title">M2M credentials</h2>
      <p class="hint">
        Client-credentials clients for servers: they exchange their id and secret at the app's token endpoint.
      </p>
      {secret && (
        <SecretOnce label={secret.label} value={secret.value} onDismiss={() => setSecret(undefined)}>
          <p class="hint">
            Client id: <code>{secret.clientId}</code>
          </p>
        </SecretOnce>
      )}
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await create.run(async () => {
            const made = await api<{ client_id: string; client_secret: string; name: string }>(
              "POST",
              path("/v1/apps/{id}/credentials", { id: appId }),
              { name, ...(scopes.trim() ? { scopes: splitList(scopes) } : {}) },
            );
            setSecret({
              label: `Client secret of ${made.name}`,
              clientId: made.client_id,
              value: made.client_secret,
            });
            setName("");
            setScopes("");
            list.first();
            list.reload();
          });
        }}
      >
        <Field label="Credential name" name="name" error={create.error}>
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
        <Field
          label="Scopes"
          name="scopes"
          error={create.error}
          hint="Optional: resource.action, space-separated."
        >
          {(id, d, bad) => (
            <input
              id={id}
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={scopes}
              onInput={(e) => setScopes((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={create.busy}>
          Create credential
        </button>
      </form>
      <ErrorNotice error={create.error} />
      <SearchBox label="Filter the credentials on this page" value={search} onSearch={setSearch} />
      <ErrorNotice error={list.error ?? act.error} all />
      {saved && <Notice>{saved}</Notice>}
      {list.loading && !list.data ? (
        <Loading />
      ) : clients.length === 0 ? (
        <p class="empty">{search ? "No credential matches." : "No M2M credentials yet."}</p>
      ) : (
        <TableWrap label="M2M credentials">
          <table>
            <caption class="visually-hidden">M2M credentials</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client id</th>
                <th scope="col">State</th>
                <th scope="col">Last used</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {clients.map((c) => (
                <Fragment key={c.id}>
                  <tr>
                    <td>{c.name}</td>
                    <td>
                      <code>{c.client_id}</code>
                    </td>
                    <td>
                      <Badge tone={c.is_active ? "active" : "deactivated"}>
                        {c.is_active ? "active" : "inactive"}
                      </Badge>
                    </td>
                    <td>
                      <Time iso={c.last_used_at} />
                    </td>
                    <td class="row-actions">
                      <button
                        type="button"
                        class="secondary"
                        aria-expanded={editing === c.id}
                        aria-label={`Scopes of ${c.name}`}
                        onClick={() => setEditing(editing === c.id ? undefined : c.id)}
                      >
                        Scopes
                      </button>
                      <ConfirmButton
                        label="Rotate secret"
                        accessibleName={`Rotate secret of ${c.name}`}
                        danger={false}
                        title={`Rotate the secret of ${c.name}?`}
                        action="Rotate"
                        onConfirm={() =>
                          act.run(async () => {
                            const r = await api<{ client_secret: string }>("POST", cpath(c, "/rotate"), {});
                            setSecret({
                              label: `New client secret of ${c.name}`,
                              clientId: c.client_id,
                              value: r.client_secret,
                            });
                          })
                        }
                      >
                        <p>The current secret stops working at once; the new one is shown once.</p>
                      </ConfirmButton>
                      <ConfirmButton
                        label={c.is_active ? "Deactivate" : "Activate"}
                        accessibleName={`${c.is_active ? "Deactivate" : "Activate"} ${c.name}`}
                        danger={c.is_active}
                        title={`${c.is_active ? "Deactivate" : "Activate"} ${c.name}?`}
                        action={c.is_active ? "Deactivate" : "Activate"}
                        onConfirm={() =>
                          act.run(() => api("PATCH", cpath(c), { is_active: !c.is_active })).then(list.reload)
                        }
                      >
                        <p>
                          {c.is_active
                            ? "It can no longer obtain tokens until activated again."
                            : "It can obtain tokens again."}
                        </p>
                      </ConfirmButton>
                      <ConfirmButton
                        label="Delete"
                        accessibleName={`Delete ${c.name}`}
                        title={`Delete ${c.name}?`}
                        action="Delete credential"
                        onConfirm={() => act.run(() => api("DELETE", cpath(c))).then(list.reload)}
                      >
                        <p>This cannot be undone; servers using it stop getting tokens.</p>
                      </ConfirmButton>
                    </td>
                  </tr>
                  {editing === c.id && (
                    <tr key={`${c.id}-scopes`}>
                      <td colSpan={5}>
                        <Scopes
                          appId={appId}
                          client={c}
                          onDone={() => {
                            setEditing(undefined);
                            setSaved(`Scopes of ${c.name} saved.`);
                          }}
                        />
                      </td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="M2M credentials" />
    </section>
  );
}

function ApiKeySection({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const list = useCursorList<ApiKey>(
    (cursor) =>
      api<Page<ApiKey>>("GET", path("/v1/apps/{id}/api-keys", { id: appId }, { limit: 25, cursor })),
    [appId],
  );
  const [name, setName] = useState("");
  const [permissions, setPermissions] = useState("");
  const [key, setKey] = useState<{ name: string; value: string }>();
  const create = useAction();
  const revoke = useAction();
  const keys = (list.data?.data ?? []).filter((k) => matches(search, k.name, k.key_prefix));
  return (
    <section aria-labelledby="apikeys-title">
      <h2 id="apikeys-title">API keys</h2>
      <p class="hint">App API keys call the app's Admin routes with fixed permissions.</p>
      {key && (
        <SecretOnce label={`API key ${key.name}`} value={key.value} onDismiss={() => setKey(undefined)} />
      )}
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await create.run(async () => {
            const made = await api<{ key: string; name: string }>(
              "POST",
              path("/v1/apps/{id}/api-keys", { id: appId }),
              { name, permissions: splitList(permissions) },
            );
            setKey({ name: made.name, value: made.key });
            setName("");
            setPermissions("");
            list.first();
            list.reload();
          });
        }}
      >
        <Field label="Key name" name="name" error={create.error}>
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
        <Field
          label="Permissions"
          name="permissions"
          error={create.error}
          hint="resource.action, space-separated."
        >
          {(id, d, bad) => (
            <input
              id={id}
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={permissions}
              onInput={(e) => setPermissions((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <button type="submit" disabled={create.busy}>
          Create API key
        </button>
      </form>
      <ErrorNotice error={create.error} />
      <SearchBox label="Filter the API keys on this page" value={search} onSearch={setSearch} />
      <ErrorNotice error={list.error ?? revoke.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : keys.length === 0 ? (
        <p class="empty">{search ? "No key matches." : "No API keys yet."}</p>
      ) : (
        <TableWrap label="API keys">
          <table>
            <caption class="visually-hidden">API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Permissions</th>
                <th scope="col">Last used</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr key={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.key_prefix}…</code>
                  </td>
                  <td>{k.permissions.join(", ")}</td>
                  <td>
                    <Time iso={k.last_used_at} />
                  </td>
                  <td>
                    <Time iso={k.expires_at} />
                  </td>
                  <td>
                    <ConfirmButton
                      label="Revoke"
                      accessibleName={`Revoke ${k.name}`}
                      title={`Revoke ${k.name}?`}
                      action="Revoke key"
                      onConfirm={() =>
                        revoke
                          .run(() =>
                            api("DELETE", path("/v1/apps/{id}/api-keys/{kid}", { id: appId, kid: k.id })),
                          )
                          .then(list.reload)
                      }
                    >
                      <p>Calls with this key are refused from now on. This cannot be undone.</p>
                    </ConfirmButton>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="API keys" />
    </section>
  );
}

export function CredentialsPage({ appId }: { readonly appId: string }) {
  return (
    <>
      <M2mSection appId={appId} />
      <ApiKeySection appId={appId} />
    </>
  );
}

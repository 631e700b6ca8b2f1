/** @module The workspace's platform access: its members, its platform API keys (create with the token shown once, revoke) and the managed policies they carry (list, create). */
import { useState } from "preact/hooks";
import { ApiError, api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Field, Loading, Pager, SearchBox, TableWrap, Time } from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";
import { ConfirmButton, SecretOnce, useAction } from "../parts.tsx";
import { useSession } from "../session.tsx";

interface Member {
  readonly id: string;
  readonly account_id: string;
  readonly username: string;
  readonly display_name: string | null;
  readonly primary_email: string | null;
  readonly role: string;
  readonly joined_at: string;
}
interface Policy {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly policy: { effect: string; actions: string[]; resources: string[] }[];
  readonly created_at: string;
}
interface Pak {
  readonly id: string;
  readonly name: string;
  readonly description: string | null;
  readonly token_prefix: string;
  readonly policies: { id: string; name: string }[];
  readonly last_used_at: string | null;
  readonly revoked_at: string | null;
  readonly expires_at: string | null;
  readonly created_at: string;
}

function Members({ ws }: { readonly ws: string }) {
  const [search, setSearch] = useState("");
  const list = useCursorList<Member>(
    (cursor) => api<Page<Member>>("GET", path("/v1/workspaces/{ws}/members", { ws }, { limit: 25, cursor })),
    [ws],
  );
  const term = search.toLowerCase();
  const rows = (list.data?.data ?? []).filter(
    (m) => !term || m.username.includes(term) || (m.primary_email ?? "").includes(term),
  );
  return (
    <section aria-labelledby="ws-members-title">
      <h2 id="ws-members-title">Members</h2>
      <p class="hint">
        People who sign in to this console. The platform API lists them; members are added with the CLI (
        <code>heimdall workspace</code> commands), not here.
      </p>
      <SearchBox label="Filter the members on this page" value={search} onSearch={setSearch} />
      <ErrorNotice error={list.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : (
        <TableWrap label="Workspace members">
          <table>
            <caption class="visually-hidden">Workspace members</caption>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Joined</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <tr key={m.id}>
                  <td>
                    {m.username}
                    {m.display_name && <span class="muted block">{m.display_name}</span>}
                  </td>
                  <td>{m.primary_email ?? <span class="muted">—</span>}</td>
                  <td>{m.role}</td>
                  <td>
                    <Time iso={m.joined_at} />
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

function Policies({
  ws,
  policies,
}: {
  readonly ws: string;
  readonly policies: ReturnType<typeof usePolicies>;
}) {
  const [name, setName] = useState("");
  const [statements, setStatements] = useState(
    JSON.stringify([{ effect: "allow", actions: ["heimdall.read"], resources: ["*"] }], null, 2),
  );
  const create = useAction();
  return (
    <section aria-labelledby="policies-title">
      <h2 id="policies-title">Policies</h2>
      <p class="hint">
        A platform API key carries one or more policies; each allows or denies actions on resources.
      </p>
      <ErrorNotice error={policies.error} all />
      {policies.data && (
        <TableWrap label="Managed policies">
          <table>
            <caption class="visually-hidden">Managed policies</caption>
            <thead>
              <tr>
                <th scope="col">Policy</th>
                <th scope="col">Statements</th>
              </tr>
            </thead>
            <tbody>
              {policies.data.data.map((p) => (
                <tr key={p.id}>
                  <td>
                    {p.name}
                    {p.description && <span class="muted block">{p.description}</span>}
                  </td>
                  <td>
                    <ul class="plain">
                      {p.policy.map((s, i) => (
                        <li key={i}>
                          <Badge tone={s.effect === "allow" ? "active" : "danger"}>{s.effect}</Badge>{" "}
                          <code>{s.actions.join(", ")}</code> on <code>{s.resources.join(", ")}</code>
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <h3>New policy</h3>
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const ok = await create.run(async () => {
            let policy: unknown;
            try {
              policy = JSON.parse(statements);
            } catch {
              throw new ApiError(400, "VALIDATION_ERROR", "The statements are not JSON.", [
                { field: "policy", reason: "must be a JSON array of statements" },
              ]);
            }
            await api("POST", path("/v1/workspaces/{ws}/policies", { ws }), { name, policy });
          });
          if (ok) {
            setName("");
            policies.reload();
          }
        }}
      >
        <Field label="Policy name" name="name" error={create.error}>
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
          label="Statements (JSON)"
          name="policy"
          error={create.error}
          hint='A list of {"effect": "allow"|"deny", "actions": [...], "resources": [...]}.'
        >
          {(id, d, bad) => (
            <textarea
              id={id}
              rows={6}
              class="mono"
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={statements}
              onInput={(e) => setStatements((e.currentTarget as HTMLTextAreaElement).value)}
            />
          )}
        </Field>
        <ErrorNotice error={create.error} />
        <button type="submit" disabled={create.busy}>
          Create policy
        </button>
      </form>
    </section>
  );
}

function usePolicies(ws: string) {
  return useApi(() => api<{ data: Policy[] }>("GET", path("/v1/workspaces/{ws}/policies", { ws })), [ws]);
}

function Paks({ ws, policies }: { readonly ws: string; readonly policies: Policy[] }) {
  const [search, setSearch] = useState("");
  const paks = useApi(() => api<Pak[]>("GET", path("/v1/workspaces/{ws}/api-keys", { ws })), [ws]);
  const [name, setName] = useState("");
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [token, setToken] = useState<{ name: string; value: string }>();
  const create = useAction();
  const revoke = useAction();
  const term = search.toLowerCase();
  const rows = (paks.data ?? []).filter(
    (k) => !term || k.name.toLowerCase().includes(term) || k.token_prefix.includes(term),
  );
  return (
    <section aria-labelledby="paks-title">
      <h2 id="paks-title">Platform API keys</h2>
      <p class="hint">
        Keys for scripts and CI calling the platform and Admin APIs (the API lists them all at once).
      </p>
      {token && (
        <SecretOnce
          label={`Platform API key ${token.name}`}
          value={token.value}
          onDismiss={() => setToken(undefined)}
        />
      )}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          await create.run(async () => {
            const made = await api<{ token: string; record: Pak }>(
              "POST",
              path("/v1/workspaces/{ws}/api-keys", { ws }),
              { name, policy_ids: [...chosen] },
            );
            setToken({ name: made.record.name, value: made.token });
            setName("");
            setChosen(new Set());
            paks.reload();
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
        <fieldset>
          <legend>Policies</legend>
          {create.error?.forField("policy_ids") && (
            <p class="field-error">{create.error.forField("policy_ids")}</p>
          )}
          <ul class="plain checks">
            {policies.map((p) => (
              <li key={p.id}>
                <input
                  type="checkbox"
                  id={`pak-policy-${p.id}`}
                  checked={chosen.has(p.id)}
                  onChange={(e) => {
                    const on = (e.currentTarget as HTMLInputElement).checked;
                    setChosen((s) => {
                      const n = new Set(s);
                      if (on) n.add(p.id);
                      else n.delete(p.id);
                      return n;
                    });
                  }}
                />{" "}
                <label for={`pak-policy-${p.id}`}>{p.name}</label>
              </li>
            ))}
          </ul>
        </fieldset>
        <ErrorNotice error={create.error} />
        <button type="submit" disabled={create.busy}>
          Create platform API key
        </button>
      </form>
      <SearchBox label="Filter the keys" value={search} onSearch={setSearch} />
      <ErrorNotice error={paks.error ?? revoke.error} all />
      {!paks.data ? (
        !paks.error && <Loading />
      ) : (
        <TableWrap label="Platform API keys">
          <table>
            <caption class="visually-hidden">Platform API keys</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Prefix</th>
                <th scope="col">Policies</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((k) => (
                <tr key={k.id}>
                  <td>
                    {k.name}
                    {k.description && <span class="muted block">{k.description}</span>}
                  </td>
                  <td>
                    <code>{k.token_prefix}…</code>
                  </td>
                  <td>{k.policies.map((p) => p.name).join(", ")}</td>
                  <td>
                    <Time iso={k.last_used_at} />
                  </td>
                  <td>
                    {k.revoked_at ? (
                      <Badge tone="deactivated">revoked</Badge>
                    ) : (
                      <Badge tone="active">active</Badge>
                    )}
                  </td>
                  <td>
                    {!k.revoked_at && (
                      <ConfirmButton
                        label="Revoke"
                        accessibleName={`Revoke ${k.name}`}
                        title={`Revoke ${k.name}?`}
                        action="Revoke key"
                        confirmText={k.name}
                        onConfirm={() =>
                          revoke
                            .run(() =>
                              api("DELETE", path("/v1/workspaces/{ws}/api-keys/{id}", { ws, id: k.id })),
                            )
                            .then(paks.reload)
                        }
                      >
                        <p>Scripts using this key are refused from now on. This cannot be undone.</p>
                      </ConfirmButton>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}

export function PlatformPage() {
  const { workspace } = useSession();
  const ws = workspace?.slug ?? "";
  const policies = usePolicies(ws);
  if (!workspace) return <Loading />;
  return (
    <>
      <h1>{workspace.display_name}: platform access</h1>
      <Members ws={ws} />
      <Paks ws={ws} policies={policies.data?.data ?? []} />
      <Policies ws={ws} policies={policies} />
    </>
  );
}

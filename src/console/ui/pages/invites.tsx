/** @module End-user invites: the list (filtered by status and exact email through the API), create with the code shown once, revoke. */
import { useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import {
  Badge,
  ErrorNotice,
  Field,
  Loading,
  Pager,
  SearchBox,
  TableWrap,
  Time,
  useId,
} from "../components.tsx";
import { useCursorList } from "../hooks.ts";
import { ConfirmButton, SecretOnce, useAction } from "../parts.tsx";

interface Invite {
  readonly id: string;
  readonly code: string;
  readonly email: string | null;
  readonly role_name: string | null;
  readonly max_uses: number | null;
  readonly use_count: number;
  readonly expires_at: string | null;
  readonly revoked_at: string | null;
  readonly created_at: string;
}

function stateOf(i: Invite): string {
  if (i.revoked_at) return "revoked";
  if (i.expires_at && Date.parse(i.expires_at) <= Date.now()) return "expired";
  if (i.max_uses !== null && i.use_count >= i.max_uses) return "exhausted";
  return "live";
}

export function InvitesPage({ appId }: { readonly appId: string }) {
  const [email, setEmail] = useState("");
  const [status, setStatus] = useState("");
  const statusId = useId("invite-status");
  const list = useCursorList<Invite>(
    (cursor) =>
      api<Page<Invite>>(
        "GET",
        path("/v1/apps/{id}/end-users/invites", { id: appId }, { limit: 25, cursor, email, status }),
      ),
    [appId, email, status],
  );
  const [to, setTo] = useState("");
  const [role, setRole] = useState("");
  const [hours, setHours] = useState("");
  const [code, setCode] = useState<{ email: string; code: string }>();
  const create = useAction();
  const revoke = useAction();
  const invites = list.data?.data ?? [];
  const field = (
    label: string,
    name: string,
    value: string,
    set: (v: string) => void,
    extra: object = {},
  ) => (
    <Field label={label} name={name} error={create.error}>
      {(id, d, bad) => (
        <input
          id={id}
          aria-describedby={d}
          aria-invalid={bad || undefined}
          value={value}
          onInput={(e) => set((e.currentTarget as HTMLInputElement).value)}
          {...extra}
        />
      )}
    </Field>
  );
  return (
    <section aria-labelledby="invites-title">
      <h2 id="invites-title">Invites</h2>
      <p class="hint">An invite lets one person sign up with its code even when sign-up is closed.</p>
      {code && (
        <SecretOnce
          label={`Invite code for ${code.email}`}
          value={code.code}
          onDismiss={() => setCode(undefined)}
        />
      )}
      <form
        class="inline"
        onSubmit={async (e) => {
          e.preventDefault();
          await create.run(async () => {
            const made = await api<Invite>("POST", path("/v1/apps/{id}/end-users/invites", { id: appId }), {
              email: to,
              ...(role ? { role_name: role } : {}),
              ...(hours ? { expires_in_hours: Number(hours) } : {}),
            });
            setCode({ email: made.email ?? to, code: made.code });
            setTo("");
            list.first();
            list.reload();
          });
        }}
      >
        {field("Invitee email", "email", to, setTo, { type: "email", required: true })}
        {field("Role", "role_name", role, setRole, { placeholder: "the sign-up default" })}
        {field("Expires in hours", "expires_in_hours", hours, setHours, { inputMode: "numeric" })}
        <button type="submit" disabled={create.busy}>
          Create invite
        </button>
      </form>
      <ErrorNotice error={create.error} />
      <div class="filters">
        <SearchBox label="Find invites by exact email" value={email} onSearch={setEmail} />
        <div class="field">
          <label for={statusId}>Status</label>
          <select
            id={statusId}
            value={status}
            onChange={(e) => setStatus((e.currentTarget as HTMLSelectElement).value)}
          >
            <option value="">Any</option>
            <option value="live">Live</option>
            <option value="revoked">Revoked</option>
            <option value="expired">Expired</option>
            <option value="exhausted">Used up</option>
          </select>
        </div>
      </div>
      <ErrorNotice error={list.error ?? revoke.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : invites.length === 0 ? (
        <p class="empty">{email || status ? "No invite matches." : "No invites yet."}</p>
      ) : (
        <TableWrap label="Invites">
          <table>
            <caption class="visually-hidden">Invites</caption>
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">State</th>
                <th scope="col">Uses</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invites.map((i) => {
                const state = stateOf(i);
                return (
                  <tr key={i.id}>
                    <td>{i.email ?? <span class="muted">—</span>}</td>
                    <td>{i.role_name ?? <span class="muted">default</span>}</td>
                    <td>
                      <Badge tone={state === "live" ? "active" : "deactivated"}>{state}</Badge>
                    </td>
                    <td>
                      {i.use_count}
                      {i.max_uses !== null && ` / ${i.max_uses}`}
                    </td>
                    <td>
                      <Time iso={i.expires_at} />
                    </td>
                    <td>
                      {state === "live" && (
                        <ConfirmButton
                          label="Revoke"
                          accessibleName={`Revoke the invite for ${i.email ?? i.id}`}
                          title="Revoke this invite?"
                          action="Revoke invite"
                          onConfirm={() =>
                            revoke
                              .run(() =>
                                api(
                                  "DELETE",
                                  path("/v1/apps/{id}/end-users/invites/{iid}", { id: appId, iid: i.id }),
                                ),
                              )
                              .then(list.reload)
                          }
                        >
                          <p>Its code stops working at once.</p>
                        </ConfirmButton>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="Invites" />
    </section>
  );
}

/** @module End users: the app's accounts a page at a time, searched by the API (`?search=`) and filtered by status. */
import { useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Loading, Pager, SearchBox, TableWrap, Time, useId } from "../components.tsx";
import { useCursorList } from "../hooks.ts";
import type { EndUser } from "../types.ts";

const PAGE_SIZE = 25;

export function UsersPage({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const [status, setStatus] = useState("");
  const statusId = useId("status");
  const list = useCursorList<EndUser>(
    (cursor) =>
      api<Page<EndUser>>(
        "GET",
        path("/v1/apps/{id}/end-users", { id: appId }, { limit: PAGE_SIZE, cursor, search, status }),
      ),
    [appId, search, status],
  );
  const users = list.data?.data ?? [];
  return (
    <section aria-labelledby="users-title">
      <h2 id="users-title">End users</h2>
      <div class="filters">
        <SearchBox
          label="Search users"
          value={search}
          onSearch={setSearch}
          placeholder="username, email or name"
        />
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
            <option value="deactivated">Deactivated</option>
          </select>
        </div>
      </div>
      <ErrorNotice error={list.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : users.length === 0 ? (
        <p class="empty">{search || status ? "No user matches." : "No end users yet."}</p>
      ) : (
        <TableWrap label="End users">
          <table>
            <caption class="visually-hidden">End users{search ? ` matching ${search}` : ""}</caption>
            <thead>
              <tr>
                <th scope="col">User</th>
                <th scope="col">Email</th>
                <th scope="col">Status</th>
                <th scope="col">Role</th>
                <th scope="col">Sessions</th>
                <th scope="col">Last active</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id}>
                  <td>
                    <a href={`/console/apps/${encodeURIComponent(appId)}/users/${encodeURIComponent(u.id)}`}>
                      {u.username}
                    </a>
                    {u.display_name && <span class="muted block">{u.display_name}</span>}
                  </td>
                  <td>
                    {u.email ?? <span class="muted">—</span>}
                    {u.email && !u.email_verified_at && <span class="muted block">not verified</span>}
                  </td>
                  <td>
                    <Badge tone={u.status}>{u.status}</Badge>
                  </td>
                  <td>{u.role ?? <span class="muted">—</span>}</td>
                  <td>{u.active_session_count}</td>
                  <td>
                    <Time iso={u.last_used_at} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="End users" />
    </section>
  );
}

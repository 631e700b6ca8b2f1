/** @module The app's audit log: newest first, filtered by action and actor through the API, cursor-paged, with the hash chain's verification status. */
import { useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Loading, Pager, SearchBox, TableWrap, Time } from "../components.tsx";
import { useApi, useCursorList } from "../hooks.ts";

interface AuditEntry {
  readonly id: string;
  readonly action: string;
  readonly resource_type: string | null;
  readonly resource_id: string | null;
  readonly actor_type: string | null;
  readonly actor_id: string | null;
  readonly details: Record<string, unknown> | null;
  readonly ip: string | null;
  readonly created_at: string;
}
type Verify = { ok: true; rows: number; pruned: number } | { ok: false; seq: number; reason: string };

function ChainStatus({ appId }: { readonly appId: string }) {
  const v = useApi(() => api<Verify>("GET", path("/v1/apps/{id}/audit-logs/verify", { id: appId })), [appId]);
  return (
    <div class="card chain" role="status" aria-live="polite">
      <strong>Hash chain: </strong>
      {v.error ? (
        <ErrorNotice error={v.error} all />
      ) : !v.data ? (
        <span>checking…</span>
      ) : v.data.ok ? (
        <>
          <Badge tone="active">intact</Badge> {v.data.rows} entries checked
          {v.data.pruned > 0 && `, ${v.data.pruned} pruned by retention before them`}.
        </>
      ) : (
        <>
          <Badge tone="danger">broken</Badge> at entry {v.data.seq}: {v.data.reason}.
        </>
      )}{" "}
      <button type="button" class="secondary" onClick={v.reload} disabled={v.loading}>
        Verify again
      </button>
    </div>
  );
}

export function AuditPage({ appId }: { readonly appId: string }) {
  const [action, setAction] = useState("");
  const [actor, setActor] = useState("");
  const list = useCursorList<AuditEntry>(
    (cursor) =>
      api<Page<AuditEntry>>(
        "GET",
        path("/v1/apps/{id}/audit-logs", { id: appId }, { limit: 50, cursor, action, actor_id: actor }),
      ),
    [appId, action, actor],
  );
  const rows = list.data?.data ?? [];
  return (
    <section aria-labelledby="audit-title">
      <h2 id="audit-title">Audit log</h2>
      <ChainStatus appId={appId} />
      <div class="filters">
        <SearchBox label="Action (exact)" value={action} onSearch={setAction} placeholder="user.suspended" />
        <SearchBox label="Actor id (exact)" value={actor} onSearch={setActor} />
      </div>
      <ErrorNotice error={list.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : rows.length === 0 ? (
        <p class="empty">{action || actor ? "No entry matches." : "No entries yet."}</p>
      ) : (
        <TableWrap label="Audit log entries">
          <table>
            <caption class="visually-hidden">Audit log entries</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Actor</th>
                <th scope="col">Resource</th>
                <th scope="col">Details</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <td>
                    <Time iso={r.created_at} />
                  </td>
                  <td>
                    <code>{r.action}</code>
                  </td>
                  <td>
                    {r.actor_type}
                    {r.actor_id && <code class="block">{r.actor_id}</code>}
                  </td>
                  <td>
                    {r.resource_type}
                    {r.resource_id && <code class="block">{r.resource_id}</code>}
                  </td>
                  <td>
                    {r.details && Object.keys(r.details).length > 0 && (
                      <details>
                        <summary>Details</summary>
                        <pre class="body">{JSON.stringify(r.details, null, 2)}</pre>
                      </details>
                    )}
                    {r.ip && <span class="muted block">{r.ip}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      <Pager list={list} label="Audit log" />
    </section>
  );
}

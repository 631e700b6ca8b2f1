/** @module The app's webhook: destination URL and event types, the signing secret shown after a save or rotation, the recent delivery attempts with their response bodies, and replay since a date. */
import { useEffect, useState } from "preact/hooks";
import { api, path } from "../api.ts";
import { Badge, ErrorNotice, Field, Loading, Notice, SearchBox, TableWrap, Time } from "../components.tsx";
import { useApi } from "../hooks.ts";
import { ConfirmButton, SecretOnce, useAction } from "../parts.tsx";
import { WEBHOOK_EVENT_TYPES } from "../webhook-events.ts";

interface Webhook {
  readonly url: string;
  readonly event_types: string[];
  readonly signing_secret_hint: string;
  readonly disabled_at: string | null;
  readonly disabled_reason: string | null;
  readonly consecutive_failures: number;
  readonly signing_secret?: string;
}
interface Attempt {
  readonly id: string;
  readonly event_id: string;
  readonly event_type: string;
  readonly attempt_number: number;
  readonly status_code: number | null;
  readonly error_message: string | null;
  readonly latency_ms: number | null;
  readonly attempted_at: string;
  readonly response_body: string | null;
}

const ATTEMPTS_SHOWN = 100;

function Attempts({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const attempts = useApi(
    () =>
      api<Attempt[]>("GET", path("/v1/apps/{id}/webhook/attempts", { id: appId }, { limit: ATTEMPTS_SHOWN })),
    [appId],
  );
  const rows = (attempts.data ?? []).filter(
    (a) =>
      !search ||
      a.event_type.includes(search) ||
      a.event_id.includes(search) ||
      String(a.status_code).includes(search),
  );
  return (
    <section aria-labelledby="attempts-title">
      <h3 id="attempts-title">Delivery attempts</h3>
      <p class="hint">
        The latest {ATTEMPTS_SHOWN} attempts, newest first (the API lists recent attempts without paging).
      </p>
      <div class="actions">
        <SearchBox
          label="Filter the attempts shown (event type, id or status)"
          value={search}
          onSearch={setSearch}
        />
        <button type="button" class="secondary" onClick={attempts.reload}>
          Refresh
        </button>
      </div>
      <ErrorNotice error={attempts.error} all />
      {!attempts.data ? (
        !attempts.error && <Loading />
      ) : rows.length === 0 ? (
        <p class="empty">No delivery attempts{search ? " match" : " yet"}.</p>
      ) : (
        <TableWrap label="Webhook delivery attempts">
          <table>
            <caption class="visually-hidden">Webhook delivery attempts</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Latency</th>
                <th scope="col">Error / response</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((a) => {
                const ok = a.status_code !== null && a.status_code >= 200 && a.status_code < 300;
                return (
                  <tr key={a.id}>
                    <td>
                      <Time iso={a.attempted_at} />
                    </td>
                    <td>
                      <code>{a.event_type}</code>
                      <span class="muted block">
                        attempt {a.attempt_number} · {a.event_id}
                      </span>
                    </td>
                    <td>
                      <Badge tone={ok ? "active" : "danger"}>{a.status_code ?? "no answer"}</Badge>
                    </td>
                    <td>{a.latency_ms === null ? <span class="muted">—</span> : `${a.latency_ms} ms`}</td>
                    <td>
                      {a.error_message && <span class="block">{a.error_message}</span>}
                      {a.response_body && (
                        <details>
                          <summary>Response body</summary>
                          <pre class="body">{a.response_body}</pre>
                        </details>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      )}
    </section>
  );
}

export function WebhookPage({ appId }: { readonly appId: string }) {
  const url = path("/v1/apps/{id}/webhook", { id: appId });
  const hook = useApi(() => api<Webhook | null>("GET", url), [url]);
  const [target, setTarget] = useState("");
  const [types, setTypes] = useState<Set<string>>(new Set());
  const [secret, setSecret] = useState<string>();
  const [since, setSince] = useState("");
  const [replayed, setReplayed] = useState<number>();
  const save = useAction();
  const act = useAction();
  const replay = useAction();
  useEffect(() => {
    if (hook.data) {
      setTarget(hook.data.url);
      setTypes(new Set(hook.data.event_types));
    }
  }, [hook.data]);
  if (hook.error) return <ErrorNotice error={hook.error} all />;
  if (hook.data === undefined) return <Loading />;
  const h = hook.data;
  return (
    <section aria-labelledby="webhook-title">
      <h2 id="webhook-title">Webhook</h2>
      <p class="hint">
        One HTTPS destination per app receives the events it subscribes to, signed with the secret below
        (Standard Webhooks headers).
      </p>
      {h ? (
        <dl class="props">
          <dt>Signing secret</dt>
          <dd>
            <code>…{h.signing_secret_hint}</code>
          </dd>
          <dt>State</dt>
          <dd>
            {h.disabled_at ? (
              <>
                <Badge tone="danger">disabled</Badge> {h.disabled_reason} (<Time iso={h.disabled_at} />) —
                save it to enable it again.
              </>
            ) : (
              <>
                <Badge tone="active">enabled</Badge>
                {h.consecutive_failures > 0 && ` · ${h.consecutive_failures} failures in a row`}
              </>
            )}
          </dd>
        </dl>
      ) : (
        <p class="empty">No webhook yet.</p>
      )}
      {secret && <SecretOnce label="Signing secret" value={secret} onDismiss={() => setSecret(undefined)} />}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          await save.run(async () => {
            const saved = await api<Webhook>("PUT", url, { url: target, event_types: [...types] });
            if (saved.signing_secret) setSecret(saved.signing_secret);
            hook.reload();
          });
        }}
      >
        <Field label="Destination URL" name="url" error={save.error}>
          {(id, d, bad) => (
            <input
              id={id}
              type="url"
              aria-describedby={d}
              aria-invalid={bad || undefined}
              value={target}
              required
              onInput={(e) => setTarget((e.currentTarget as HTMLInputElement).value)}
            />
          )}
        </Field>
        <fieldset>
          <legend>Event types</legend>
          {save.error?.forField("event_types") && (
            <p class="field-error">{save.error.forField("event_types")}</p>
          )}
          <ul class="plain checks columns">
            {WEBHOOK_EVENT_TYPES.map((t) => (
              <li key={t}>
                <input
                  type="checkbox"
                  id={`event-${t}`}
                  checked={types.has(t)}
                  onChange={(e) => {
                    const on = (e.currentTarget as HTMLInputElement).checked;
                    setTypes((s) => {
                      const n = new Set(s);
                      if (on) n.add(t);
                      else n.delete(t);
                      return n;
                    });
                  }}
                />{" "}
                <label for={`event-${t}`}>
                  <code>{t}</code>
                </label>
              </li>
            ))}
          </ul>
        </fieldset>
        <ErrorNotice error={save.error} />
        <div class="actions">
          <button type="submit" disabled={save.busy}>
            Save webhook
          </button>
        </div>
      </form>
      {h && (
        <div class="actions">
          <ConfirmButton
            label="Rotate secret"
            danger={false}
            title="Rotate the signing secret?"
            action="Rotate"
            onConfirm={() =>
              act.run(async () => {
                const r = await api<Webhook>("POST", `${url}/rotate-secret`, {});
                if (r.signing_secret) setSecret(r.signing_secret);
                hook.reload();
              })
            }
          >
            <p>Deliveries are signed with the new secret from now on; update the receiver.</p>
          </ConfirmButton>
          <ConfirmButton
            label="Delete webhook"
            title="Delete the webhook?"
            action="Delete webhook"
            onConfirm={() => act.run(() => api("DELETE", url)).then(hook.reload)}
          >
            <p>No more events are delivered. Pending deliveries are dropped.</p>
          </ConfirmButton>
        </div>
      )}
      <ErrorNotice error={act.error} all />
      {h && (
        <form
          class="inline"
          onSubmit={async (e) => {
            e.preventDefault();
            setReplayed(undefined);
            await replay.run(async () => {
              const iso = since ? new Date(since).toISOString() : "";
              const r = await api<{ queued: number }>("POST", `${url}/replay`, { since: iso });
              setReplayed(r.queued);
            });
          }}
        >
          <Field
            label="Replay events since"
            name="since"
            error={replay.error}
            hint="Events are kept 30 days."
          >
            {(id, d, bad) => (
              <input
                id={id}
                type="datetime-local"
                aria-describedby={d}
                aria-invalid={bad || undefined}
                value={since}
                required
                onInput={(e) => setSince((e.currentTarget as HTMLInputElement).value)}
              />
            )}
          </Field>
          <button type="submit" class="secondary" disabled={replay.busy}>
            Replay
          </button>
          <ErrorNotice error={replay.error} />
          {replayed !== undefined && <Notice>{replayed} deliveries queued.</Notice>}
        </form>
      )}
      {h && <Attempts appId={appId} />}
    </section>
  );
}

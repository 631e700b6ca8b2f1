/** @module The dev inbox: the app's email outbox read as an inbox — list and one message — with the delivered text (codes and links) in `EMAIL_MODE=log`, the masked copy otherwise. */
import { useState } from "preact/hooks";
import { api, type Page, path } from "../api.ts";
import { Badge, ErrorNotice, Loading, Pager, SearchBox, Time } from "../components.tsx";
import { useCursorList } from "../hooks.ts";

interface Message {
  readonly id: string;
  readonly to: string;
  readonly from: string;
  readonly subject: string;
  readonly text: string;
  readonly status: "pending" | "sent" | "failed";
  readonly attempts: number;
  readonly created_at: string;
  readonly sent_at: string | null;
  readonly last_error: string | null;
  readonly delivered_text: string | null;
}

const LINK = /(https?:\/\/[^\s<>"]+)/g;

/** The text with its links made clickable (text nodes only: nothing is parsed as HTML). */
function Body({ text }: { readonly text: string }) {
  const parts = text.split(LINK);
  return (
    <pre class="body mail-body">
      {parts.map((p, i) =>
        i % 2 === 1 ? (
          <a key={i} href={p} rel="noreferrer noopener" target="_blank">
            {p}
          </a>
        ) : (
          p
        ),
      )}
    </pre>
  );
}

export function InboxPage({ appId }: { readonly appId: string }) {
  const [search, setSearch] = useState("");
  const [openId, setOpenId] = useState<string>();
  const list = useCursorList<Message>(
    (cursor) => api<Page<Message>>("GET", path("/v1/apps/{id}/outbox", { id: appId }, { limit: 25, cursor })),
    [appId],
  );
  const term = search.toLowerCase();
  const messages = (list.data?.data ?? []).filter(
    (m) => !term || m.to.toLowerCase().includes(term) || m.subject.toLowerCase().includes(term),
  );
  const open = (list.data?.data ?? []).find((m) => m.id === openId);
  return (
    <section aria-labelledby="inbox-title">
      <h2 id="inbox-title">Dev inbox</h2>
      <p class="hint">
        Every email Heimdall sent for this app. With <code>EMAIL_MODE=log</code> (the default without SMTP)
        the delivered text — codes and links included — stays readable here for an hour after delivery, in
        memory only; with SMTP the codes are masked and only the recipient's mailbox has them.
      </p>
      <div class="actions">
        <SearchBox
          label="Filter the messages on this page (recipient or subject)"
          value={search}
          onSearch={setSearch}
        />
        <button type="button" class="secondary" onClick={list.reload}>
          Refresh
        </button>
      </div>
      <ErrorNotice error={list.error} all />
      {list.loading && !list.data ? (
        <Loading />
      ) : messages.length === 0 ? (
        <p class="empty">{search ? "No message matches." : "No email sent yet."}</p>
      ) : (
        <ul class="plain inbox">
          {messages.map((m) => (
            <li key={m.id} class={m.id === openId ? "selected" : ""}>
              <button
                type="button"
                class="inbox-row"
                aria-expanded={m.id === openId}
                aria-controls="inbox-message"
                onClick={() => setOpenId(m.id === openId ? undefined : m.id)}
              >
                <span class="inbox-subject">{m.subject}</span>
                <span class="muted">to {m.to}</span>
                <span class="muted">
                  <Time iso={m.sent_at ?? m.created_at} />
                </span>
                {m.status !== "sent" && (
                  <Badge tone={m.status === "failed" ? "danger" : "warn"}>{m.status}</Badge>
                )}
              </button>
            </li>
          ))}
        </ul>
      )}
      <Pager list={list} label="Messages" />
      {open && (
        <article id="inbox-message" class="card" aria-labelledby="message-subject">
          <h3 id="message-subject">{open.subject}</h3>
          <dl class="props">
            <dt>From</dt>
            <dd>{open.from}</dd>
            <dt>To</dt>
            <dd>{open.to}</dd>
            <dt>Status</dt>
            <dd>
              {open.status}
              {open.attempts > 1 && ` after ${open.attempts} attempts`}
              {open.last_error && ` — ${open.last_error}`}
            </dd>
          </dl>
          {open.delivered_text === null && (
            <p class="hint">
              The code is masked: this message was not delivered in log mode, or was delivered over an hour
              ago or before a restart.
            </p>
          )}
          <Body text={open.delivered_text ?? open.text} />
        </article>
      )}
    </section>
  );
}

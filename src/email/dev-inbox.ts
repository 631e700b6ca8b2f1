/**
 * @module The dev inbox (docs/console.md, "Dev inbox"): with `EMAIL_MODE=log`, the whole text of each message
 * the log transport "delivered", kept in memory so the console can show it with its code and link. Nothing
 * is written anywhere (the outbox row keeps only the masked copy), it is bounded in count and age, and it
 * is gone on restart. It is never built in SMTP mode, where codes leave only through the mail server.
 */
import type { Clock } from "../core/clock.ts";
import type { OutgoingEmail } from "./transport.ts";

/** Enough for a developer's session; an hour, after which a code has expired anyway. */
export const DEV_INBOX_MAX = 200;
export const DEV_INBOX_TTL_MS = 60 * 60 * 1000;

export interface DevInbox {
  /** Keeps a delivered message's text under its outbox id (the oldest goes past `DEV_INBOX_MAX`). */
  keep(message: Pick<OutgoingEmail, "id" | "text">): void;
  /** The delivered text, while it is young enough; otherwise undefined. */
  textOf(outboxId: string): string | undefined;
}

export function createDevInbox({
  clock,
  max = DEV_INBOX_MAX,
  ttlMs = DEV_INBOX_TTL_MS,
}: {
  clock: Clock;
  max?: number;
  ttlMs?: number;
}): DevInbox {
  // Insertion-ordered: the first key is the oldest.
  const kept = new Map<string, { text: string; at: number }>();
  const expire = () => {
    const cutoff = clock.now() - ttlMs;
    for (const [id, m] of kept) {
      if (m.at > cutoff && kept.size <= max) break;
      kept.delete(id);
    }
  };
  return {
    keep(m) {
      kept.delete(m.id);
      kept.set(m.id, { text: m.text, at: clock.now() });
      expire();
    },
    textOf(id) {
      expire();
      return kept.get(id)?.text;
    },
  };
}

/**
 * @module The one internal function that emits a domain event: a row in the `events` outbox, written in
 * the caller's transaction, so a change and its event commit or roll back together. Webhook delivery and
 * other readers consume the outbox; features never call them directly. `data` never holds secrets,
 * hashes or codes.
 */
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Db } from "../db/client.ts";

export interface DomainEvent {
  readonly type: string;
  readonly appId: string | null;
  readonly data: Record<string, unknown>;
}

export interface EventEmitter {
  /** Inserts the event; call inside the transaction of the change it reports. Returns the event id. */
  emit(event: DomainEvent): Promise<string>;
}

/** What else happens, in the same transaction, when an event is written (webhook deliveries are queued). */
export type EventSubscriber = (event: { id: string; appId: string | null; type: string }) => Promise<void>;

export function createEventEmitter({
  db,
  clock,
  subscribers = [],
}: {
  db: Db;
  clock: Clock;
  subscribers?: readonly EventSubscriber[];
}): EventEmitter {
  const { events } = db.tables;
  return {
    async emit({ type, appId, data }) {
      const id = newId(clock);
      await db.insert(events).values({ id, appId, type, data, createdAt: clock.now() });
      for (const subscriber of subscribers) await subscriber({ id, appId, type });
      return id;
    },
  };
}

/**
 * @module The webhook side of emitting an event: in the transaction that writes the event, a delivery row for
 * the app's destination when it is enabled and subscribed to the type. Committed together, so a change is
 * never delivered without having happened, nor lost after it did.
 */
import type { Clock } from "../core/clock.ts";
import { newId } from "../core/ids.ts";
import type { Db } from "../db/client.ts";
import { createWebhookStore } from "./store.ts";

export interface EmittedEvent {
  readonly id: string;
  readonly appId: string | null;
  readonly type: string;
}

export type EventFanout = (event: EmittedEvent) => Promise<void>;

export function createWebhookFanout({ db, clock }: { db: Db; clock: Clock }): EventFanout {
  const store = createWebhookStore(db);
  return async ({ id, appId, type }) => {
    if (appId === null) return;
    const config = await store.configOf(appId);
    // A disabled destination is owed nothing new; a replay re-sends what it missed (docs/webhooks.md).
    if (!config || config.disabledAt !== null) return;
    if (config.eventTypes.length > 0 && !config.eventTypes.includes(type)) return;
    const now = clock.now();
    await store.insertDelivery({
      id: newId(clock),
      appId,
      configId: config.id,
      eventId: id,
      status: "pending",
      attempts: 0,
      nextAttemptAt: now,
      lastAttemptAt: null,
      createdAt: now,
    });
  };
}

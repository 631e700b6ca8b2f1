/** @module The webhook event types the console offers as checkboxes: the server's own list. */
export { EVENT_TYPES as WEBHOOK_EVENT_TYPES } from "../../webhooks/event-types.ts";

/** @module Identifiers and opaque credentials: UUIDv7 row ids, CSPRNG tokens with a prefix. */
import { randomBytes } from "node:crypto";
import type { Clock } from "./clock.ts";

/** Time-ordered UUIDv7, so that `(created_at, id)` keyset pagination is stable. */
export function newId(clock: Clock): string {
  return Bun.randomUUIDv7("hex", clock.now());
}

/** `<prefix><base64url of `bytes` random bytes>`; default 32 bytes = 256 bits. */
export function randomToken(prefix: string, bytes = 32): string {
  return prefix + randomBytes(bytes).toString("base64url");
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

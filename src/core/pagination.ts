/** @module Keyset pagination (docs/decisions.md, "Wire and HTTP"): `?limit=&cursor=` parsing, opaque base64url cursors, the page envelope. */
import { validationError } from "./errors.ts";

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 200;

export interface Page<T> {
  data: T[];
  pagination: { has_more: boolean; next_cursor: string | null };
}

/** One query parameter as a string; a repeated parameter is ambiguous and refused. */
export function queryParam(query: Record<string, unknown>, name: string): string | undefined {
  const v = query[name];
  if (v === undefined || typeof v === "string") return v;
  throw validationError([{ field: name, reason: "must be given once" }]);
}

/** `limit` arrives as a query string; anything but an integer in 1..200 is a 400 rather than a silent clamp. */
export function parseLimit(raw: string | undefined): number {
  if (raw === undefined || raw === "") return DEFAULT_LIMIT;
  if (!/^\d{1,4}$/.test(raw))
    throw validationError([{ field: "limit", reason: `must be an integer between 1 and ${MAX_LIMIT}` }]);
  const n = Number(raw);
  if (n < 1 || n > MAX_LIMIT)
    throw validationError([{ field: "limit", reason: `must be an integer between 1 and ${MAX_LIMIT}` }]);
  return n;
}

export function encodeCursor(position: unknown): string {
  return Buffer.from(JSON.stringify(position), "utf8").toString("base64url");
}

/**
 * Decodes a cursor and lets `accept` check its shape. Cursors are opaque to clients, so any tampering
 * or a cursor from another list is a plain 400 on the `cursor` field.
 */
export function decodeCursor<T>(raw: string | undefined, accept: (v: unknown) => v is T): T | undefined {
  if (raw === undefined || raw === "") return undefined;
  const bad = () => validationError([{ field: "cursor", reason: "invalid cursor" }]);
  if (raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw bad();
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(raw, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (!accept(value)) throw bad();
  return value;
}

/** A row's place in a newest-first `(created_at, id)` ordering. */
export interface Position {
  c: number;
  i: string;
}

export const isPosition = (v: unknown): v is Position =>
  typeof v === "object" &&
  v !== null &&
  Number.isSafeInteger((v as Position).c) &&
  typeof (v as Position).i === "string" &&
  (v as Position).i.length <= 64;

/** Builds the envelope from `limit + 1` fetched items: the extra one only tells that another page exists. */
export function pageOf<R, T>(
  rows: R[],
  limit: number,
  position: (row: R) => unknown,
  toDto: (row: R) => T,
): Page<T> {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  const last = items.at(-1);
  return {
    data: items.map(toDto),
    pagination: {
      has_more: hasMore,
      next_cursor: hasMore && last !== undefined ? encodeCursor(position(last)) : null,
    },
  };
}

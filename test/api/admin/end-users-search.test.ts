/**
 * @module Listing correctness on a few thousand accounts, through both lanes: every page of every search and
 * filter, walked by cursor, equals a reference computed here (newest first without a search; by the
 * matching identifier with one), with no account missed or repeated. bench/end-users-1m.ts measures speed.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { tx } from "../../../src/db/client.ts";
import { createApp } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";
import { createM2mClient, type TestApp } from "../consumer/verify-fixtures.ts";

interface Seeded {
  id: string;
  username: string;
  email: string | null;
  secondary: string | null;
  status: "active" | "suspended" | "deactivated";
  createdAt: number;
}

const N = 2500;
const SYLLABLES = ["an", "ben", "car", "da", "el", "fi", "go", "ha", "in", "jo", "ka", "li"];
const DOMAINS = ["example.test", "mail.test", "zoë.test"];

let ctx: TestContext;
let app: TestApp;
let m2m: string;
const users: Seeded[] = [];

/** A small deterministic generator, so a failure reproduces. */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n) | 0;
  };
}

beforeAll(async () => {
  ctx = await createTestContext();
  app = await createApp(ctx, "search-app");
  const other = await createApp(ctx, "search-other");
  m2m = (await createM2mClient(ctx, app, ["user.list"])).token;
  const pick = rng(42);
  const base = ctx.clock.now() - N * 1000;
  const { endUserContacts, endUsers } = ctx.deps.db.tables;
  const userRows: (typeof endUsers.$inferInsert)[] = [];
  const contactRows: (typeof endUserContacts.$inferInsert)[] = [];
  const user = (id: string, appId: string, username: string, status: Seeded["status"], createdAt: number) =>
    userRows.push({
      id,
      appId,
      username,
      status,
      role: "member",
      failedLoginCount: 0,
      createdAt,
      updatedAt: createdAt,
    });
  const contact = (appId: string, userId: string, value: string, isPrimary: boolean, createdAt: number) =>
    contactRows.push({
      id: Bun.randomUUIDv7(),
      appId,
      userId,
      type: "email",
      value,
      isPrimary,
      verifiedAt: null,
      createdAt,
    });
  for (let i = 0; i < N; i++) {
    // Seven accounts share each millisecond, so the id breaks ties in the newest-first order.
    const createdAt = base + Math.floor(i / 7) * 1000;
    const id = Bun.randomUUIDv7("hex", createdAt + pick(1000));
    const username = `${SYLLABLES[pick(12)]}${SYLLABLES[pick(12)]}${["", ".", "_", "-"][pick(4)]}${i}`;
    const status = (["active", "active", "active", "suspended", "deactivated"] as const)[pick(5)]!;
    const kind = pick(10);
    // Mostly an email unlike the username, sometimes none, sometimes one that starts like another's username.
    const email =
      kind === 0
        ? null
        : `${kind < 3 ? username : `${SYLLABLES[pick(12)]}${pick(100)}x${i}`}@${DOMAINS[pick(3)]}`;
    const secondary = kind === 9 ? `${SYLLABLES[pick(12)]}-second${i}@example.test` : null;
    user(id, app.id, username, status, createdAt);
    if (email) contact(app.id, id, email, true, createdAt);
    if (secondary) contact(app.id, id, secondary, false, createdAt);
    users.push({ id, username, email, secondary, status, createdAt });
  }
  // Accounts of another app never show.
  for (let i = 0; i < 20; i++) user(Bun.randomUUIDv7(), other.id, `an${i}`, "active", base);
  // In batches: one statement's bound parameters stay under either engine's limit.
  await tx(ctx.deps.db, async () => {
    for (let i = 0; i < userRows.length; i += 500)
      await ctx.deps.db.insert(endUsers).values(userRows.slice(i, i + 500));
    for (let i = 0; i < contactRows.length; i += 500)
      await ctx.deps.db.insert(endUserContacts).values(contactRows.slice(i, i + 500));
  });
});

const bytes = (s: string) => Buffer.from(s);

/** What a listing must return, in order: the rule of src/users/admin-store.ts restated plainly. */
function reference(q: { search?: string; status?: string }): string[] {
  const p = q.search?.normalize("NFKC").trim().toLowerCase() || undefined;
  const rows = users.filter((u) => q.status === undefined || u.status === q.status);
  if (p === undefined) {
    return rows
      .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
      .map((u) => u.id);
  }
  return rows
    .flatMap((u) => {
      if (u.username.startsWith(p)) return [{ k: u.username, id: u.id }];
      if (u.email?.startsWith(p)) return [{ k: u.email, id: u.id }];
      return [];
    })
    .sort((a, b) => Buffer.compare(bytes(a.k), bytes(b.k)))
    .map((e) => e.id);
}

type Lane = "admin" | "consumer";

async function walk(lane: Lane, q: Record<string, string>, limit: number): Promise<string[]> {
  const seen: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 200; page++) {
    const query = { ...q, limit, cursor };
    const res =
      lane === "admin"
        ? await ctx.call("GET", "/v1/apps/{app_id}/end-users", { params: { app_id: app.id }, query })
        : await ctx.call("GET", "/{app_slug}/v1/admin/users", {
            params: { app_slug: app.slug },
            query,
            auth: { bearer: m2m },
          });
    expect(res.status).toBe(200);
    expect(res.body.data.length).toBeLessThanOrEqual(limit);
    seen.push(...res.body.data.map((u: { id: string }) => u.id));
    cursor = res.body.pagination.next_cursor ?? undefined;
    expect(res.body.pagination.has_more).toBe(cursor !== undefined);
    if (!cursor) return seen;
    expect(res.body.data.length).toBe(limit);
  }
  throw new Error("too many pages");
}

/** Queries; some are derived from the seeded data, which exists only once `beforeAll` ran. */
const CASES: [string, () => Record<string, string>][] = [
  ["everything", () => ({})],
  ["a status", () => ({ status: "suspended" })],
  ["a one-letter prefix", () => ({ search: "a" })],
  ["a common prefix", () => ({ search: "an" })],
  ["a prefix in upper case with blanks", () => ({ search: "  KA " })],
  ["a prefix with a separator", () => ({ search: "jo." })],
  ["a prefix that only emails start with", () => ({ search: "fi4" })],
  ["one exact username", () => ({ search: users[17]!.username })],
  [
    "one exact email on a non-ASCII domain",
    () => ({ search: users.find((u) => u.email?.endsWith("zoë.test"))!.email! }),
  ],
  ["a prefix and a status", () => ({ search: "li", status: "deactivated" })],
  ["a prefix of secondary emails only", () => ({ search: "an-second" })],
  ["no match", () => ({ search: "qqq" })],
];

describe.each(["admin", "consumer"] as const)("%s lane", (lane) => {
  test.each(CASES)("%s: every page, in order, nothing missed or repeated", async (_name, query) => {
    const q = query();
    const expected = reference(q);
    const got = await walk(lane, q, 37);
    expect(new Set(got).size).toBe(got.length);
    expect(got).toEqual(expected);
  });
});

test.each(CASES.slice(1))("a bulk selection by filter takes the same accounts: %s", async (_name, query) => {
  const q = query();
  const res = await ctx.call("POST", "/v1/apps/{app_id}/end-users/bulk-revoke-sessions", {
    params: { app_id: app.id },
    body: { selection: { mode: "filter", ...q } },
  });
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ affected_users: reference(q).length });
});

test("the seeded data exercises what the cases claim", () => {
  expect(reference({ search: "an" }).length).toBeGreaterThan(200);
  expect(reference({ search: "fi4" }).length).toBeGreaterThan(0);
  expect(reference({ search: users[17]!.username })).toContain(users[17]!.id);
  expect(users.some((u) => u.username.startsWith("an") && u.email?.startsWith("an"))).toBe(true);
  // Secondary emails are never searched.
  expect(users.some((u) => u.secondary?.startsWith("an-second"))).toBe(true);
  expect(reference({ search: "an-second" })).toEqual([]);
});

test("a cursor of a search does not continue a plain listing, nor the other way round", async () => {
  const search = await ctx.call("GET", "/v1/apps/{app_id}/end-users", {
    params: { app_id: app.id },
    query: { search: "an", limit: 5 },
  });
  const plain = await ctx.call("GET", "/v1/apps/{app_id}/end-users", {
    params: { app_id: app.id },
    query: { limit: 5 },
  });
  for (const [cursor, query] of [
    [search.body.pagination.next_cursor, {}],
    [plain.body.pagination.next_cursor, { search: "an" }],
  ] as const) {
    const res = await ctx.call("GET", "/v1/apps/{app_id}/end-users", {
      params: { app_id: app.id },
      query: { ...query, cursor },
    });
    expect(res.status).toBe(400);
    expect(res.body.details[0].field).toBe("cursor");
  }
});

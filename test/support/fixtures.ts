/** @module Shared test factories: an app through the Admin API, audit rows by any column, and workspaces, end users and sessions written directly. */
import { eq, type SQL, sql } from "drizzle-orm";
import { HeimdallError } from "../../src/core/errors.ts";
import { newId } from "../../src/core/ids.ts";
import type { WorkspaceRole } from "../../src/core/principal.ts";
import { tx } from "../../src/db/client.ts";
import { first, rows } from "../../src/db/query.ts";
import type { Auth, TestContext } from "./harness.ts";

/** What most tests need of an app: enough to build a path or a token. */
export interface TestApp {
  id: string;
  slug: string;
}

/** The Admin API's app body, as `POST /v1/apps` returns it. */
export interface AppBody extends TestApp {
  display_name: string;
  workspace_id: string;
  status: string;
  created_by: string;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}

/**
 * Creates an app through the Admin API (real keys, auth config and `app.created` row), by default with the
 * bootstrap PAK and its slug as display name; throws unless it answers 201.
 */
export async function createApp(
  ctx: TestContext,
  slug: string,
  opts: { auth?: Auth; display_name?: string; workspace_id?: string } = {},
): Promise<AppBody> {
  const body: Record<string, unknown> = { slug, display_name: opts.display_name ?? slug };
  if (opts.workspace_id) body.workspace_id = opts.workspace_id;
  const res = await ctx.call<AppBody>("POST", "/v1/apps", { body, auth: opts.auth });
  if (res.status !== 201) throw new Error(`create app ${slug} failed: ${res.status} ${res.text}`);
  return res.body;
}

/** One `audit_log` row as stored (snake_case columns), with `details` parsed (`{}` when there are none). */
export interface AuditRowView {
  seq: number;
  id: string;
  chain: string;
  app_id: string | null;
  workspace_id: string | null;
  action: string;
  actor_type: string;
  actor_id: string | null;
  resource_type: string | null;
  resource_id: string | null;
  ip: string | null;
  request_id: string | null;
  prev_hash: string;
  hash: string;
  /** Milliseconds since the epoch, as stored. */
  created_at: number;
  details: Record<string, unknown>;
}

/**
 * Which audit rows to read: every column given must match (`null` matches NULL, so `app_id: null` is the
 * platform rows); a column left out is not filtered, so the empty filter reads them all.
 */
export type AuditFilter = Partial<
  Pick<
    AuditRowView,
    "app_id" | "workspace_id" | "chain" | "action" | "actor_type" | "actor_id" | "resource_id"
  >
>;

// The filter's keys become column names in the SQL below, so only these may pass.
const AUDIT_FILTER_COLUMNS = new Set<string>([
  "app_id",
  "workspace_id",
  "chain",
  "action",
  "actor_type",
  "actor_id",
  "resource_id",
]);

/**
 * The audit rows matching `filter`, oldest first: the one audit-row query of the test tree. A bad filter throws
 * at once (not as a rejected promise), so a test sees it even where it forgot to await.
 */
export function auditRows(ctx: TestContext, filter: AuditFilter = {}): Promise<AuditRowView[]> {
  const where: SQL[] = [];
  for (const [column, value] of Object.entries(filter)) {
    // A column named with no value is a test bug (an unset id): reading every row would pass it silently.
    if (value === undefined) throw new Error(`auditRows: ${column} is undefined`);
    if (!AUDIT_FILTER_COLUMNS.has(column)) throw new Error(`auditRows cannot filter on ${column}`);
    where.push(
      value === null ? sql`${sql.identifier(column)} IS NULL` : sql`${sql.identifier(column)} = ${value}`,
    );
  }
  return readAuditRows(ctx, where);
}

async function readAuditRows(ctx: TestContext, where: SQL[]): Promise<AuditRowView[]> {
  const query = sql`SELECT * FROM audit_log${where.length ? sql` WHERE ${sql.join(where, sql` AND `)}` : sql``} ORDER BY seq`;
  type Raw = Omit<AuditRowView, "details" | "seq" | "created_at"> & {
    seq: number | string;
    created_at: number | string;
    details: unknown;
  };
  // PostgreSQL returns bigints as strings and jsonb parsed, SQLite numbers and JSON text. The writer stores
  // "no details" as JSON null; `{}` lets a test read a field without a null check.
  return (await rows<Raw>(ctx.deps.db, query)).map((r) => {
    const details = typeof r.details === "string" ? JSON.parse(r.details) : r.details;
    return {
      ...r,
      seq: Number(r.seq),
      created_at: Number(r.created_at),
      details: (details as Record<string, unknown> | null) ?? {},
    };
  });
}

/** A workspace written straight to the database; the bootstrap owner joins it only when `ownerRole` is given. */
export async function insertWorkspace(
  ctx: TestContext,
  slug: string,
  ownerRole?: WorkspaceRole,
): Promise<string> {
  const { workspaces } = ctx.deps.db.tables;
  const id = newId(ctx.clock);
  const now = ctx.clock.now();
  await ctx.deps.db
    .insert(workspaces)
    .values({ id, slug, displayName: slug, createdBy: ctx.ownerId, createdAt: now, updatedAt: now });
  if (ownerRole) await addMembership(ctx, id, ctx.ownerId, ownerRole);
  return id;
}

/** `userId` joins the workspace with `role`, written straight to the database. */
export async function addMembership(
  ctx: TestContext,
  workspaceId: string,
  userId: string,
  role: WorkspaceRole,
): Promise<void> {
  const { workspaceMembers } = ctx.deps.db.tables;
  await ctx.deps.db
    .insert(workspaceMembers)
    .values({ id: newId(ctx.clock), workspaceId, userId, role, createdAt: ctx.clock.now() });
}

/** The ids `insertEndUser` wrote. */
export interface InsertedEndUser {
  id: string;
  username: string;
  /** The primary email contact, when the user was given one. */
  emailContactId: string | null;
  /** The (secondary) phone contact, when the user was given one. */
  phoneContactId: string | null;
}

export interface InsertEndUserOptions {
  /** `null`: no email contact. */
  email?: string | null;
  emailVerified?: boolean;
  phone?: string | null;
  phoneVerified?: boolean;
  password?: string | null;
  displayName?: string | null;
  role?: string;
  status?: "active" | "suspended" | "deactivated";
}

/**
 * An end user written straight to the database, as an operator would provision it: active, role `member`,
 * a verified primary email `<username>@example.test`, no phone and no password unless told otherwise. The
 * password is hashed (argon2, slow) only when one is given.
 */
export async function insertEndUser(
  ctx: TestContext,
  app: TestApp,
  username: string,
  opts: InsertEndUserOptions = {},
): Promise<InsertedEndUser> {
  const now = ctx.clock.now();
  const id = newId(ctx.clock);
  const email = opts.email === undefined ? `${username}@example.test` : opts.email;
  const phone = opts.phone ?? null;
  const passwordHash = opts.password ? await ctx.deps.passwords.hash(opts.password) : null;
  const emailContactId = email ? newId(ctx.clock) : null;
  const phoneContactId = phone ? newId(ctx.clock) : null;
  const { endUserContacts, endUsers } = ctx.deps.db.tables;
  await tx(ctx.deps.db, async () => {
    await ctx.deps.db.insert(endUsers).values({
      id,
      appId: app.id,
      username,
      displayName: opts.displayName ?? null,
      passwordHash,
      role: opts.role ?? "member",
      status: opts.status ?? "active",
      createdAt: now,
      updatedAt: now,
    });
    const contact = (contactId: string, type: "email" | "phone", value: string, verified: boolean) =>
      ctx.deps.db.insert(endUserContacts).values({
        id: contactId,
        appId: app.id,
        userId: id,
        type,
        value,
        isPrimary: type === "email",
        verifiedAt: verified ? now : null,
        createdAt: now,
      });
    if (email && emailContactId) await contact(emailContactId, "email", email, opts.emailVerified !== false);
    if (phone && phoneContactId) await contact(phoneContactId, "phone", phone, opts.phoneVerified === true);
  });
  return { id, username, emailContactId, phoneContactId };
}

/**
 * A live session for `userId` and an access token bound to it, made in the store as sign-in would (password
 * amr, a week long unless `minutes` says otherwise). `role` is the token's role claim, `member` by default.
 */
export async function openSession(
  ctx: TestContext,
  app: TestApp,
  userId: string,
  opts: { role?: string; minutes?: number; ip?: string; userAgent?: string } = {},
): Promise<{ sessionId: string; refreshToken: string; token: string }> {
  const { session, refreshToken } = await tx(
    ctx.deps.db,
    async () =>
      await ctx.deps.sessions.create({
        appId: app.id,
        userId,
        amr: ["pwd"],
        durationMinutes: opts.minutes ?? 7 * 24 * 60,
        maxSessions: 5,
        meta: { ip: opts.ip ?? "203.0.113.7", userAgent: opts.userAgent ?? "test-client/1.0" },
      }),
  );
  const { token } = await ctx.deps.tokens.issueEndUser(app, {
    sub: userId,
    sid: session.id,
    role: opts.role ?? "member",
    amr: ["pwd"],
  });
  return { sessionId: session.id, refreshToken, token };
}

/** The `end_users` row, or undefined once it is gone. */
export function userRow(ctx: TestContext, id: string) {
  const { endUsers } = ctx.deps.db.tables;
  return first(ctx.deps.db.select().from(endUsers).where(eq(endUsers.id, id)).limit(1));
}

/** The `end_user_contacts` row, or undefined once it is gone. */
export function contactRow(ctx: TestContext, id: string) {
  const { endUserContacts } = ctx.deps.db.tables;
  return first(ctx.deps.db.select().from(endUserContacts).where(eq(endUserContacts.id, id)).limit(1));
}

/** The API error code a call fails with (a promise, or a function that may throw), or undefined when it succeeds. */
export async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    if (e instanceof HeimdallError) return e.code;
    throw e;
  }
  return undefined;
}

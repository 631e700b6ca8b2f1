/** @module Admin API test fixtures: direct-row apps, PAKs and members, policy statements, and audit assertions. */
import { expect } from "bun:test";
import { eq } from "drizzle-orm";
import { sha256Hex } from "../../../src/core/crypto.ts";
import { newId, randomToken } from "../../../src/core/ids.ts";
import type { PolicyStatement, WorkspaceRole } from "../../../src/core/principal.ts";
import { tx } from "../../../src/db/client.ts";
import { first } from "../../../src/db/query.ts";
import { addMembership, auditRows } from "../../support/fixtures.ts";
import type { TestContext } from "../../support/harness.ts";

/** An app row without keys: enough for listing, visibility and authorization checks. */
export async function insertBareApp(
  ctx: TestContext,
  workspaceId: string,
  slug: string,
  createdAt = ctx.clock.now(),
): Promise<string> {
  const { apps } = ctx.deps.db.tables;
  const id = newId(ctx.clock);
  await ctx.deps.db.insert(apps).values({
    id,
    workspaceId,
    slug,
    displayName: slug,
    createdBy: ctx.ownerId,
    createdAt,
    updatedAt: createdAt,
  });
  return id;
}

/** A PAK bound to one managed policy with `statements`; returns the token and the PAK id. */
export async function insertPak(
  ctx: TestContext,
  statements: PolicyStatement[],
  workspaceId = ctx.workspaceId,
): Promise<{ token: string; id: string }> {
  const token = randomToken("pcft_live_", 32);
  const id = newId(ctx.clock);
  const policyId = newId(ctx.clock);
  const now = ctx.clock.now();
  const { db } = ctx.deps;
  const { pakPolicies, paks, workspacePolicies } = db.tables;
  await tx(db, async () => {
    await db.insert(workspacePolicies).values({
      id: policyId,
      workspaceId,
      name: `p-${policyId}`,
      statements,
      createdAt: now,
      updatedAt: now,
    });
    await db.insert(paks).values({
      id,
      workspaceId,
      name: `pak-${id}`,
      tokenPrefix: token.slice(0, 14),
      tokenHash: sha256Hex(token),
      createdAt: now,
      updatedAt: now,
    });
    await db.insert(pakPolicies).values({ pakId: id, policyId });
  });
  return { token, id };
}

export const allow = (actions: string[], resources: string[] = ["*"]): PolicyStatement => ({
  effect: "allow",
  actions,
  resources,
});
export const deny = (actions: string[], resources: string[] = ["*"]): PolicyStatement => ({
  effect: "deny",
  actions,
  resources,
});

/** A platform user with a membership; sign in with `ctx.signIn(email, password)`. */
export async function insertMember(
  ctx: TestContext,
  email: string,
  role: WorkspaceRole,
  workspaceId = ctx.workspaceId,
): Promise<{ id: string; password: string }> {
  const { platformUsers } = ctx.deps.db.tables;
  const password = "a-long-enough-test-password";
  const id = newId(ctx.clock);
  const now = ctx.clock.now();
  await ctx.deps.db.insert(platformUsers).values({
    id,
    email,
    username: email.split("@")[0]!,
    passwordHash: await ctx.deps.passwords.hash(password),
    emailVerifiedAt: now,
    createdAt: now,
    updatedAt: now,
  });
  await addMembership(ctx, workspaceId, id, role);
  return { id, password };
}

export async function bootstrapPakId(ctx: TestContext): Promise<string> {
  const { paks } = ctx.deps.db.tables;
  const row = await first(
    ctx.deps.db
      .select({ id: paks.id })
      .from(paks)
      .where(eq(paks.tokenHash, sha256Hex(ctx.pak)))
      .limit(1),
  );
  if (!row) throw new Error("bootstrap PAK row not found");
  return row.id;
}

/** App-event rows only: platform rows such as the debounced `pak.used` come and go with the clock. */
export async function auditCount(ctx: TestContext): Promise<number> {
  return (await auditRows(ctx)).filter((r) => r.app_id !== null).length;
}

/** The newest audit row of an app must be `action` by `actorType`, and every chain must still verify. */
export async function expectLastAudit(
  ctx: TestContext,
  appId: string,
  action: string,
  actorType: string,
  actorId?: string,
) {
  const last = (await auditRows(ctx, { app_id: appId })).at(-1);
  expect(last?.action).toBe(action);
  expect(last?.actor_type).toBe(actorType);
  if (actorId !== undefined) expect(last?.actor_id).toBe(actorId);
  expect((await ctx.deps.audit.verify()).ok).toBe(true);
  return last!;
}

export function errCode(res: { body: unknown }): string | undefined {
  return (res.body as { code?: string } | null)?.code;
}

export function detailFields(res: { body: unknown }): string[] {
  return ((res.body as { details?: { field: string }[] } | null)?.details ?? []).map((d) => d.field);
}

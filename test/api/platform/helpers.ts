/** @module Platform-subset test helpers: extra users and workspaces, and audit-row readers. */
import { and, asc, eq } from "drizzle-orm";
import { newId } from "../../../src/core/ids.ts";
import type { WorkspaceRole } from "../../../src/core/principal.ts";
import { auditLog, workspaceMembers, workspaces } from "../../../src/db/schema.ts";
import type { TestContext } from "../../support/harness.ts";

export const USER_PASSWORD = "another long enough password";

/** A platform user in the default workspace with `role`, signed in; returns its id and cookie. */
export async function userWithRole(
  ctx: TestContext,
  email: string,
  role: WorkspaceRole,
): Promise<{ id: string; cookie: string }> {
  const created = await ctx.deps.provisioning.createUser({ email, password: USER_PASSWORD, role });
  return { id: created.user.id, cookie: await ctx.signIn(email, USER_PASSWORD) };
}

/** A workspace written straight to the database; the bootstrap owner joins it only when `ownerRole` is given. */
export function insertWorkspace(ctx: TestContext, slug: string, ownerRole?: WorkspaceRole): string {
  const id = newId(ctx.clock);
  const now = ctx.clock.now();
  ctx.deps.db
    .insert(workspaces)
    .values({ id, slug, displayName: slug, createdBy: ctx.ownerId, createdAt: now, updatedAt: now })
    .run();
  if (ownerRole) {
    ctx.deps.db
      .insert(workspaceMembers)
      .values({ id: newId(ctx.clock), workspaceId: id, userId: ctx.ownerId, role: ownerRole, createdAt: now })
      .run();
  }
  return id;
}

export function auditRows(ctx: TestContext, action: string) {
  return ctx.deps.db
    .select()
    .from(auditLog)
    .where(eq(auditLog.action, action))
    .orderBy(asc(auditLog.seq))
    .all();
}

export function auditRowsFor(ctx: TestContext, action: string, resourceId: string) {
  return ctx.deps.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.action, action), eq(auditLog.resourceId, resourceId)))
    .orderBy(asc(auditLog.seq))
    .all();
}

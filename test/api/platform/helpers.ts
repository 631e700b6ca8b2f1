/** @module Platform-subset test helpers: extra platform users with a role, signed in. */
import type { WorkspaceRole } from "../../../src/core/principal.ts";
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

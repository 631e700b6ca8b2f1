/**
 * @module Seed plan, accounts (docs/seed.md): the file's users compared with the app's accounts by email and
 * written as `heimdall users import` writes them, in one step. A seed file never deletes an account.
 */
import type { ImportLine, ImportRecord } from "../users/import.ts";
import {
  type AppPlanContext,
  adder,
  type Op,
  type SeedDeps,
  SeedPlanError,
  type Step,
  same,
  show,
} from "./plan-context.ts";
import type { SeedUser } from "./schema.ts";
import type { SeedUserRow } from "./store.ts";

/** The accounts' steps; a role the app will not have after the apply is a problem at its path. */
export async function planUsers(c: AppPlanContext, rolesAfter: ReadonlySet<string>): Promise<Step[]> {
  const { deps, store, meta, at, app, existing, problems } = c;
  const slug = app.slug;
  const steps: Step[] = [];
  const add = adder(steps);
  const accounts = existing ? await store.users(existing.id) : [];
  const byEmail = new Map<string, SeedUserRow>(accounts.filter((u) => u.email).map((u) => [u.email!, u]));
  const records: ImportLine[] = [];
  for (const [i, user] of (app.users ?? []).entries()) {
    if (user.role !== undefined && !rolesAfter.has(user.role))
      problems.push(`${at}.users[${i}].role: unknown role "${user.role}"`);
    const planned = await planUser(deps, slug, user, byEmail.get(user.email));
    if (!planned) continue;
    records.push({ line: i, record: planned.record });
    for (const line of planned.lines) add(planned.op, line, () => {});
  }
  if (records.length) {
    steps[steps.length - 1]!.run = async () => {
      const appId = (await deps.apps.find(slug))!.id;
      const result = await deps.userImport.importRecords(appId, records, { source: "seed", meta });
      if (result.errors.length)
        throw new SeedPlanError(result.errors.map((e) => `${at}.users[${e.line}]: ${e.error}`));
    };
  }

  return steps;
}

/**
 * One account's record for the import and its plan lines, or null when nothing differs. A password from the
 * environment is compared with the stored hash (argon2 verify) and hashed here, before the transaction.
 */
async function planUser(
  deps: SeedDeps,
  slug: string,
  user: SeedUser,
  current: SeedUserRow | undefined,
): Promise<{ op: Op; lines: string[]; record: ImportRecord } | null> {
  const who = `${slug}/${user.email}`;
  const record: ImportRecord = { email: user.email };
  if (user.username !== undefined) record.username = user.username;
  if (user.display_name !== undefined) record.display_name = user.display_name;
  if (user.role !== undefined) record.role = user.role;
  if (user.email_verified !== undefined) record.email_verified = user.email_verified;
  if (!current) {
    if (user.password_hash !== undefined) record.password_hash = user.password_hash;
    if (user.password !== undefined) record.password_hash = await deps.passwords.hash(user.password);
    return { op: "+", lines: [`+ user ${who}`], record };
  }
  const lines: string[] = [];
  const diff = (field: string, before: unknown, after: unknown) => {
    if (after !== undefined && !same(before, after))
      lines.push(`~ user ${who} ${field}: ${show(before)} → ${show(after)}`);
  };
  diff("username", current.username, user.username);
  diff("display_name", current.displayName, user.display_name);
  diff("role", current.role, user.role);
  diff("email_verified", current.emailVerified, user.email_verified);
  if (user.password_hash !== undefined && user.password_hash !== current.passwordHash) {
    record.password_hash = user.password_hash;
    lines.push(`~ user ${who} password_hash`);
  }
  if (
    user.password !== undefined &&
    (current.passwordHash === null || !(await deps.passwords.verify(current.passwordHash, user.password)))
  ) {
    record.password_hash = await deps.passwords.hash(user.password);
    lines.push(`~ user ${who} password (from ${user.password_env})`);
  }
  return lines.length ? { op: "~", lines, record } : null;
}

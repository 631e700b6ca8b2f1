/**
 * @module Seed plan, tenants (docs/seed.md): an app's organisations by slug and their members by email, through
 * the tenant service as the Admin API uses it. A file without `tenants` leaves them alone, even with --prune;
 * a tenant without `members` keeps the members it has.
 */
import { TENANT_OWNER_ROLE } from "../tenants/service.ts";
import { type AppPlanContext, adder, type Step, same, show } from "./plan-context.ts";
import type { SeedTenantRow } from "./store.ts";

type MemberChange = { promotes: boolean; line: string; run: Step["run"] };

/** The tenants' steps; a member role the app will not have, or an email no account holds, is a problem at its path. */
export async function planTenants(c: AppPlanContext, rolesAfter: ReadonlySet<string>): Promise<Step[]> {
  const { deps, store, principal: p, meta, at, app, existing, prune, problems } = c;
  if (app.tenants === undefined) return [];
  const slug = app.slug;
  const steps: Step[] = [];
  const add = adder(steps);
  // Resolved when the step runs: a new app, or a tenant created a step earlier, has no id at plan time.
  const scope = async () => await deps.tenants.forPlatform(p, slug, "heimdall.update");
  const tenantRef = async (tenantSlug: string) =>
    (await store.tenantId((await deps.apps.find(slug))!.id, tenantSlug))!;
  const accountOf = async (email: string) =>
    existing ? await store.accountByEmail(existing.id, email) : undefined;
  const fileEmails = new Set((app.users ?? []).map((u) => u.email));
  const current = existing ? await store.tenants(existing.id) : [];
  const bySlug = new Map<string, SeedTenantRow>(current.map((t) => [t.slug, t]));

  for (const [i, tenant] of app.tenants.entries()) {
    const where = `${at}.tenants[${i}]`;
    const who = `${slug}/${tenant.slug}`;
    for (const [j, m] of (tenant.members ?? []).entries()) {
      if (!rolesAfter.has(m.role)) problems.push(`${where}.members[${j}].role: unknown role "${m.role}"`);
      if (!fileEmails.has(m.email) && (await accountOf(m.email)) === undefined)
        problems.push(
          `${where}.members[${j}].email: no account of ${slug} has the email ${m.email}, and the file's users do not list it`,
        );
    }
    const addMember = (m: { email: string; role: string }) =>
      add("+", `+ tenant_member ${who} ${m.email} (${m.role})`, async () => {
        await deps.tenants.addMember(
          await scope(),
          await tenantRef(tenant.slug),
          { email: m.email, role_name: m.role },
          meta,
        );
      });

    const row = bySlug.get(tenant.slug);
    if (!row) {
      add("+", `+ tenant ${who}`, async () => {
        const s = await scope();
        const created = await deps.tenants.create(
          s,
          { slug: tenant.slug, display_name: tenant.display_name, metadata: tenant.metadata },
          meta,
        );
        if (tenant.status !== undefined && tenant.status !== created.status)
          await deps.tenants.update(s, created.id, { status: tenant.status }, meta);
      });
      for (const m of tenant.members ?? []) addMember(m);
      continue;
    }

    // The tenant's own fields: one line each, one update for all of them.
    const patch: {
      display_name?: string;
      status?: SeedTenantRow["status"];
      metadata?: Record<string, unknown>;
    } = {};
    const field = <K extends keyof typeof patch>(
      k: K,
      before: unknown,
      after: (typeof patch)[K] | undefined,
    ) => {
      if (after === undefined || same(before, after)) return;
      patch[k] = after;
      add("~", `~ tenant ${who} ${k}: ${show(before)} → ${show(after)}`, () => {});
    };
    field("display_name", row.displayName, tenant.display_name);
    field("status", row.status, tenant.status);
    field("metadata", row.metadata, tenant.metadata);
    if (Object.keys(patch).length)
      steps[steps.length - 1]!.run = async () =>
        void (await deps.tenants.update(await scope(), row.id, patch, meta));

    if (tenant.members === undefined) continue;
    // Members: new ones first, then role changes (promotions to owner before the rest), then removals, so a
    // tenant handed from one owner to another never passes through having none (the service refuses that).
    const currentByUser = new Map(row.members.map((m) => [m.userId, m]));
    const listedUsers = new Set<string>();
    const changes: MemberChange[] = [];
    for (const m of tenant.members) {
      const userId = await accountOf(m.email);
      const held = userId === undefined ? undefined : currentByUser.get(userId);
      if (userId !== undefined) listedUsers.add(userId);
      if (!held) {
        addMember(m);
      } else if (held.role !== m.role) {
        changes.push({
          promotes: m.role === TENANT_OWNER_ROLE,
          line: `~ tenant_member ${who} ${m.email} role: ${show(held.role)} → ${show(m.role)}`,
          run: async () => {
            await deps.tenants.updateMemberRole(
              await scope(),
              row.id,
              held.userId,
              { role_name: m.role },
              meta,
            );
          },
        });
      }
    }
    changes.sort((a, b) => Number(b.promotes) - Number(a.promotes));
    for (const ch of changes) add("~", ch.line, ch.run);
    if (prune)
      for (const m of row.members)
        if (!listedUsers.has(m.userId))
          add("-", `- tenant_member ${who} ${m.email ?? m.userId} (${m.role})`, async () => {
            await deps.tenants.removeMember(await scope(), row.id, m.userId, meta);
          });
  }

  // Deleting an organisation takes its memberships with it: the line says so, loudly.
  if (prune)
    for (const t of current)
      if (!app.tenants.some((x) => x.slug === t.slug))
        add(
          "-",
          `- tenant ${slug}/${t.slug} — DELETES the organisation and its ${t.members.length} membership(s)`,
          async () => await deps.tenants.remove(await scope(), t.id, meta),
        );
  return steps;
}

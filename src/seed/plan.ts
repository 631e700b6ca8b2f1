/**
 * @module Seed plan (docs/seed.md): compares one app of a validated seed file with what the workspace holds and
 * returns the changes, each a plan line (`+ role demo/billing`) and the service call that makes it. Reads only;
 * problems that need the database (unknown references, names that are not unique) are collected by path.
 */
import { AUTH_CONFIG_DEFAULTS, type AuthConfig, type AuthConfigPatch } from "../apps/auth-config.ts";
import { sha256Hex } from "../core/crypto.ts";
import type { NotificationSettingsPatch } from "../email/model.ts";
import { SYSTEM_PERMISSION_KEYS, SYSTEM_ROLE_PERMISSIONS, SYSTEM_ROLES } from "../rbac/catalog.ts";
import { ROLE_DESCRIPTIONS } from "../rbac/seed.ts";
import { type AppPlanContext, adder, groupBy, type Step, same, show, sorted } from "./plan-context.ts";
import { planTenants } from "./plan-tenants.ts";
import { planUsers } from "./plan-users.ts";
import { planWebhook } from "./plan-webhook.ts";
import type { SeedRoleRow } from "./store.ts";

export {
  type AppPlanContext,
  type SeedDeps,
  SeedPlanError,
  type SeedSecret,
  type Step,
} from "./plan-context.ts";

export async function planApp(c: AppPlanContext): Promise<Step[]> {
  const { deps, store, principal: p, meta, at, app, existing, prune, problems } = c;
  const slug = app.slug;
  const steps: Step[] = [];
  const add = adder(steps);
  const scope = async () => await deps.roles.forPlatform(p, slug, "heimdall.update");

  // The app itself.
  if (!existing) {
    add("+", `+ app ${slug}`, async () => {
      await deps.apps.create(p, { slug, display_name: app.display_name, workspace_id: p.workspaceId }, meta);
    });
    if (app.metadata !== undefined && Object.keys(app.metadata).length > 0)
      add("~", `~ app ${slug} metadata: {} → ${show(app.metadata)}`, async () => {
        await deps.apps.update(p, slug, { metadata: app.metadata }, meta);
      });
  } else {
    const patch: { display_name?: string; metadata?: Record<string, unknown> } = {};
    if (app.display_name !== existing.displayName) {
      patch.display_name = app.display_name;
      add(
        "~",
        `~ app ${slug} display_name: ${show(existing.displayName)} → ${show(app.display_name)}`,
        () => {},
      );
    }
    if (app.metadata !== undefined && !same(app.metadata, existing.metadata ?? {})) {
      patch.metadata = app.metadata;
      add("~", `~ app ${slug} metadata: ${show(existing.metadata ?? {})} → ${show(app.metadata)}`, () => {});
    }
    if (Object.keys(patch).length)
      steps[steps.length - 1]!.run = async () => void (await deps.apps.update(p, slug, patch, meta));
  }

  // What exists now (nothing for a new app: its system roles come with it).
  const currentPermissions = existing ? await store.customPermissions(existing.id) : [];
  // A new app starts with the catalogue's system roles (rbac/seed.ts); owner's rows are never compared.
  const currentRoles: SeedRoleRow[] = existing
    ? await store.roles(existing.id)
    : SYSTEM_ROLES.map((name) => ({
        name,
        description: ROLE_DESCRIPTIONS[name],
        isSystem: true,
        permissions: sorted([...SYSTEM_ROLE_PERMISSIONS[name]]),
      }));
  const roleByName = new Map(currentRoles.map((r) => [r.name, r]));
  const permissionByKey = new Map(currentPermissions.map((r) => [r.key, r]));
  const listedPermissions = new Set((app.permissions ?? []).map((x) => x.name));
  const listedRoles = new Set((app.roles ?? []).map((r) => r.name));
  // After the apply: permissions and roles the app will have, for checking references.
  const permissionsAfter = new Set([
    ...SYSTEM_PERMISSION_KEYS,
    ...listedPermissions,
    ...(prune ? [] : currentPermissions.map((x) => x.key)),
  ]);
  const rolesAfter = new Set([
    ...SYSTEM_ROLES,
    ...listedRoles,
    ...(prune ? [] : currentRoles.map((r) => r.name)),
  ]);

  // Custom permissions (identity: the key; the Admin API cannot change one, so a new description is refused).
  for (const [i, perm] of (app.permissions ?? []).entries()) {
    const current = permissionByKey.get(perm.name);
    if (!current) {
      const [resource, action] = perm.name.split(".") as [string, string];
      add("+", `+ permission ${slug}/${perm.name}`, async () => {
        await deps.roles.createPermission(
          await scope(),
          { resource, action, description: perm.description },
          meta,
        );
      });
    } else if (perm.description !== undefined && perm.description !== (current.description ?? undefined)) {
      problems.push(
        `${at}.permissions[${i}].description: differs from the existing permission's (${show(current.description)}); ` +
          "a permission cannot be changed once created: delete it (or --prune it away) first",
      );
    }
  }

  // Roles (identity: the name); system roles may be listed to change their description or permissions.
  for (const [i, role] of (app.roles ?? []).entries()) {
    role.permissions?.forEach((key, j) => {
      if (!permissionsAfter.has(key))
        problems.push(`${at}.roles[${i}].permissions[${j}]: unknown permission "${key}"`);
    });
    const current = roleByName.get(role.name);
    if (!current) {
      add("+", `+ role ${slug}/${role.name}`, async () => {
        await deps.roles.createRole(
          await scope(),
          { name: role.name, description: role.description ?? undefined },
          meta,
        );
      });
      if (role.permissions?.length)
        add(
          "~",
          `~ role ${slug}/${role.name} permissions: [] → ${show(sorted(role.permissions))}`,
          async () => {
            await deps.roles.setRolePermissions(
              await scope(),
              role.name,
              { permissions: role.permissions! },
              meta,
            );
          },
        );
      continue;
    }
    if (role.description !== undefined && role.description !== current.description) {
      const after = role.description;
      add(
        "~",
        `~ role ${slug}/${role.name} description: ${show(current.description)} → ${show(after)}`,
        async () => {
          await deps.roles.updateRole(await scope(), role.name, { description: after }, meta);
        },
      );
    }
    if (role.permissions !== undefined && role.name !== "owner") {
      const want = sorted([...new Set(role.permissions)]);
      if (!same(want, current.permissions)) {
        add(
          "~",
          `~ role ${slug}/${role.name} permissions: ${show(current.permissions)} → ${show(want)}`,
          async () => {
            await deps.roles.setRolePermissions(await scope(), role.name, { permissions: want }, meta);
          },
        );
      }
    }
  }

  // Auth config: only the fields the file sets.
  if (app.auth_config) {
    const signupRole = app.auth_config.signup_default_role;
    if (signupRole !== undefined && !rolesAfter.has(signupRole))
      problems.push(`${at}.auth_config.signup_default_role: unknown role "${signupRole}"`);
    const current: AuthConfig = existing
      ? await deps.apps.authConfigOf(existing.id)
      : { ...AUTH_CONFIG_DEFAULTS };
    const patch: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(app.auth_config)) {
      if (v === undefined || same(v, current[k as keyof AuthConfig])) continue;
      patch[k] = v;
      add(
        "~",
        `~ app ${slug} auth_config.${k}: ${show(current[k as keyof AuthConfig])} → ${show(v)}`,
        () => {},
      );
    }
    if (Object.keys(patch).length)
      // Awaited: a signing_alg change generates its key before it writes.
      steps[steps.length - 1]!.run = async () => {
        await deps.apps.updateAuthConfig(p, slug, patch as AuthConfigPatch, meta);
      };
  }

  // Notification settings: only the fields the file sets.
  if (app.notification_settings) {
    const current: Record<string, unknown> = existing
      ? { ...(await deps.email.getSettings(p, existing.id)) }
      : {
          notifications_via_envoi: false,
          default_sender_address: null,
          verification_template_name: null,
          welcome_template_name: null,
          password_reset_template_name: null,
          web_origin: null,
        };
    const patch: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(app.notification_settings)) {
      if (v === undefined || same(v, current[k])) continue;
      patch[k] = v;
      add("~", `~ app ${slug} notification_settings.${k}: ${show(current[k])} → ${show(v)}`, () => {});
    }
    if (Object.keys(patch).length)
      steps[steps.length - 1]!.run = async () =>
        void (await deps.email.updateSettings(p, slug, patch as NotificationSettingsPatch, meta));
  }

  // M2M clients (identity: the name).
  const clients = existing ? await store.m2mClients(existing.id) : [];
  const clientsByName = groupBy(clients, (x) => x.name);
  for (const [i, client] of (app.m2m_clients ?? []).entries()) {
    const found = clientsByName.get(client.name) ?? [];
    if (found.length > 1) {
      problems.push(
        `${at}.m2m_clients[${i}].name: ${found.length} clients of ${slug} are named "${client.name}"; rename or delete all but one`,
      );
      continue;
    }
    const row = found[0];
    const scopes = client.scopes;
    if (!row) {
      add("+", `+ m2m ${slug}/${client.name}`, async () => {
        const created = await deps.m2m.create(
          p,
          slug,
          { name: client.name, scopes },
          meta,
          client.client_secret ? { secret: client.client_secret } : undefined,
        );
        if (!client.client_secret)
          c.secrets.push({
            kind: "m2m",
            app: slug,
            name: client.name,
            client_id: created.client_id,
            secret: created.client_secret,
          });
        if (client.is_active === false)
          await deps.m2m.update(p, slug, created.client_id, { is_active: false }, meta);
      });
      continue;
    }
    if (scopes !== undefined && !same(scopes, row.scopes))
      add("~", `~ m2m ${slug}/${client.name} scopes: ${show(row.scopes)} → ${show(scopes)}`, async () => {
        await deps.m2m.setScopes(p, slug, row.clientId, { permissions: scopes }, meta);
      });
    if (client.is_active !== undefined && client.is_active !== row.isActive)
      add("~", `~ m2m ${slug}/${client.name} is_active: ${row.isActive} → ${client.is_active}`, async () => {
        await deps.m2m.update(p, slug, row.clientId, { is_active: client.is_active }, meta);
      });
    if (client.client_secret !== undefined && sha256Hex(client.client_secret) !== row.secretHash)
      add("~", `~ m2m ${slug}/${client.name} client_secret (from ${client.client_secret_env})`, async () => {
        await deps.m2m.rotateSecret(p, slug, row.clientId, {}, meta, { secret: client.client_secret! });
      });
  }

  // App API keys (identity: the name). Their permissions and expiry cannot change: a different one is replaced.
  const keys = existing ? await store.apiKeys(existing.id) : [];
  const keysByName = groupBy(keys, (x) => x.name);
  for (const [i, key] of (app.api_keys ?? []).entries()) {
    const found = keysByName.get(key.name) ?? [];
    if (found.length > 1) {
      problems.push(
        `${at}.api_keys[${i}].name: ${found.length} API keys of ${slug} are named "${key.name}"; rename or delete all but one`,
      );
      continue;
    }
    const row = found[0];
    const wantPermissions = [...new Set(key.permissions)];
    const wantExpiry = key.expires_at ? Date.parse(key.expires_at) : null;
    const create = async () => {
      const created = await deps.apiKeys.create(
        p,
        slug,
        { name: key.name, permissions: wantPermissions, expires_at: key.expires_at },
        meta,
      );
      c.secrets.push({ kind: "api_key", app: slug, name: key.name, secret: created.key });
    };
    const samePermissions = row !== undefined && same(sorted(wantPermissions), sorted(row.permissions));
    if (!row) {
      add("+", `+ api_key ${slug}/${key.name}`, create);
    } else if (!samePermissions || wantExpiry !== (row.expiresAt ?? null)) {
      add(
        "~",
        `~ api_key ${slug}/${key.name} replaced (a new key): ${[
          samePermissions ? null : `permissions ${show(row.permissions)} → ${show(wantPermissions)}`,
          wantExpiry === (row.expiresAt ?? null)
            ? null
            : `expires_at ${show(row.expiresAt === null ? null : new Date(row.expiresAt).toISOString())} → ${show(key.expires_at ?? null)}`,
        ]
          .filter((x) => x !== null)
          .join(", ")}`,
        async () => {
          await deps.apiKeys.remove(p, slug, row.id, meta);
          await create();
        },
      );
    }
  }

  // Accounts (identity: the email), then tenants and their members (which may name those accounts), then the
  // webhook: a destination the apply creates is sent the events of later changes only, not of its own seeding.
  steps.push(...(await planUsers(c, rolesAfter)));
  steps.push(...(await planTenants(c, rolesAfter)));
  steps.push(...(await planWebhook(c)));

  // Prune: what the file does not list, within this app.
  if (prune && existing) {
    const listedKeys = new Set((app.api_keys ?? []).map((k) => k.name));
    for (const k of keys)
      if (!listedKeys.has(k.name))
        add("-", `- api_key ${slug}/${k.name}`, async () => await deps.apiKeys.remove(p, slug, k.id, meta));
    const listedClients = new Set((app.m2m_clients ?? []).map((k) => k.name));
    for (const k of clients)
      if (!listedClients.has(k.name))
        add("-", `- m2m ${slug}/${k.name}`, async () => await deps.m2m.remove(p, slug, k.clientId, meta));
    for (const r of currentRoles)
      if (!r.isSystem && !listedRoles.has(r.name))
        add(
          "-",
          `- role ${slug}/${r.name}`,
          async () => await deps.roles.deleteRole(await scope(), r.name, meta),
        );
    for (const x of currentPermissions)
      if (!listedPermissions.has(x.key))
        add(
          "-",
          `- permission ${slug}/${x.key}`,
          async () => await deps.roles.deletePermission(await scope(), x.key, meta),
        );
  }
  return steps;
}

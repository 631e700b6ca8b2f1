/**
 * @module Seed export (docs/seed.md, "Export"): a workspace's apps written in the seed file format, so that
 * applying the export to an empty data dir rebuilds them. Deterministic (sorted everywhere, no ids or times)
 * so that two exports diff cleanly in git. Secrets are never exported (a webhook's signing secret neither):
 * applying generates new ones.
 */
import { stringify as stringifyToml } from "smol-toml";
import type { AppService } from "../apps/service.ts";
import type { Clock } from "../core/clock.ts";
import type { LocalOperatorPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EmailService } from "../email/service.ts";
import { SEED_VERSION, type SeedFormat } from "./schema.ts";
import { createSeedStore } from "./store.ts";

export interface SeedExportDeps {
  db: Db;
  clock: Clock;
  apps: Pick<AppService, "authConfigOf">;
  email: Pick<EmailService, "getSettings">;
}

export interface ExportOptions {
  workspaceId: string;
  /** One app by slug; all apps of the workspace when absent. */
  app?: string;
  /** Include accounts with their password hashes. */
  withUsers?: boolean;
}

export interface SeedExport {
  /** The seed document (JSON-shaped; `null` marks a value set to nothing). */
  document: Record<string, unknown>;
  /** Things left out, for stderr (accounts without an email, expired API keys). */
  warnings: string[];
}

/** No such app in the workspace. */
export class ExportAppNotFound extends Error {
  constructor(readonly slug: string) {
    super(`no app with slug "${slug}" in this workspace`);
    this.name = "ExportAppNotFound";
  }
}

const NOTIFICATION_FIELDS = [
  "notifications_via_envoi",
  "default_sender_address",
  "verification_template_name",
  "welcome_template_name",
  "password_reset_template_name",
  "web_origin",
] as const;

export async function exportSeed(deps: SeedExportDeps, opts: ExportOptions): Promise<SeedExport> {
  const store = createSeedStore(deps.db);
  const principal: LocalOperatorPrincipal = { kind: "local", workspaceId: opts.workspaceId };
  const warnings: string[] = [];
  let rows = await store.appsOf(opts.workspaceId);
  if (opts.app !== undefined) {
    rows = rows.filter((a) => a.slug === opts.app);
    if (rows.length === 0) throw new ExportAppNotFound(opts.app);
  }
  const now = deps.clock.now();
  const apps = await Promise.all(
    rows.map(async (app) => {
      const settings = (await deps.email.getSettings(principal, app.id)) as unknown as Record<
        string,
        unknown
      >;
      const out: Record<string, unknown> = { slug: app.slug, display_name: app.displayName };
      if (app.metadata && Object.keys(app.metadata).length) out.metadata = app.metadata;
      out.auth_config = { ...(await deps.apps.authConfigOf(app.id)) };
      out.notification_settings = Object.fromEntries(NOTIFICATION_FIELDS.map((k) => [k, settings[k]]));
      out.permissions = (await store.customPermissions(app.id)).map((p) =>
        p.description === null ? { name: p.key } : { name: p.key, description: p.description },
      );
      // Every role, system ones included: that their sets equal the catalogue's is then the apply's business,
      // and an operator who re-bound `admin` gets that back.
      out.roles = (await store.roles(app.id)).map((r) =>
        r.name === "owner"
          ? { name: r.name, description: r.description }
          : { name: r.name, description: r.description, permissions: r.permissions },
      );
      out.m2m_clients = (await store.m2mClients(app.id)).map((c) => ({
        name: c.name,
        scopes: c.scopes,
        is_active: c.isActive,
      }));
      out.api_keys = (await store.apiKeys(app.id)).flatMap((k) => {
        if (k.expiresAt !== null && k.expiresAt <= now) {
          warnings.push(`api key ${app.slug}/${k.name} has expired; left out`);
          return [];
        }
        return [
          k.expiresAt === null
            ? { name: k.name, permissions: k.permissions }
            : { name: k.name, permissions: k.permissions, expires_at: new Date(k.expiresAt).toISOString() },
        ];
      });
      if (opts.withUsers) {
        out.users = (await store.users(app.id)).flatMap((u) => {
          if (u.email === null) {
            warnings.push(`account ${app.slug}/${u.username} has no email address; left out`);
            return [];
          }
          const user: Record<string, unknown> = { email: u.email, username: u.username };
          if (u.displayName !== null) user.display_name = u.displayName;
          user.role = u.role;
          user.email_verified = u.emailVerified;
          if (u.passwordHash !== null) user.password_hash = u.passwordHash;
          return [user];
        });
      }
      // Members name accounts by email, so they come with the accounts (--with-users); without them a tenant
      // has no `members`, which on apply leaves its members as they are.
      out.tenants = (await store.tenants(app.id)).map((t) => {
        const tenant: Record<string, unknown> = {
          slug: t.slug,
          display_name: t.displayName,
          status: t.status,
        };
        if (Object.keys(t.metadata).length) tenant.metadata = t.metadata;
        if (opts.withUsers)
          tenant.members = t.members.flatMap((m) => {
            if (m.email !== null) return [{ email: m.email, role: m.role }];
            warnings.push(`a member of tenant ${app.slug}/${t.slug} has no email address; left out`);
            return [];
          });
        return tenant;
      });
      const hook = await store.webhook(app.id);
      out.webhook = hook ? { url: hook.url, event_types: hook.eventTypes } : null;
      return out;
    }),
  );
  return { document: { version: SEED_VERSION, apps }, warnings };
}

/** Drops `null` values (TOML has none: a key left out leaves the value as it is on apply). */
function withoutNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutNulls);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => [k, withoutNulls(x)]),
    );
  return v;
}

const TOML_HEADER = [
  "# Heimdall seed file (docs/seed.md), written by `heimdall export`.",
  "# No secrets: applying it creates M2M client secrets, API keys and webhook signing secrets anew and prints them once.",
  "",
];

/** The document as text in the format asked for; TOML carries a header comment saying what it is. */
export function formatSeed(document: Record<string, unknown>, format: SeedFormat): string {
  if (format === "json") return `${JSON.stringify(document, null, 2)}\n`;
  return `${TOML_HEADER.join("\n")}${stringifyToml(withoutNulls(document) as Record<string, unknown>)}\n`;
}

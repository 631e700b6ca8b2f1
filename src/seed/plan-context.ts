/**
 * @module What the parts of the seed plan share (docs/seed.md): the services an apply reads and writes, a plan
 * step (its line and the call that makes it), the secrets an apply makes, and the context one app is planned in.
 */
import type { ApiKeyService } from "../api-keys/service.ts";
import type { AppDirectory } from "../apps/directory.ts";
import type { AppRow } from "../apps/model.ts";
import type { AppService } from "../apps/service.ts";
import type { Clock } from "../core/clock.ts";
import type { CallMeta, LocalOperatorPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EmailService } from "../email/service.ts";
import type { KeyService } from "../keys/service.ts";
import type { M2mClientService } from "../m2m/service.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import type { PermissionResolver } from "../rbac/resolver.ts";
import type { RoleService } from "../roles/service.ts";
import type { TenantService } from "../tenants/service.ts";
import type { UserImportService } from "../users/import.ts";
import type { WebhookService } from "../webhooks/service.ts";
import type { SeedApp } from "./schema.ts";
import type { SeedStore } from "./store.ts";

/** What applying reads and writes: the services the Admin API uses, and the caches to drop after a rollback. */
export interface SeedDeps {
  db: Db;
  clock: Clock;
  apps: Pick<AppService, "create" | "update" | "find" | "authConfigOf" | "updateAuthConfig">;
  roles: Pick<
    RoleService,
    | "forPlatform"
    | "createRole"
    | "updateRole"
    | "deleteRole"
    | "setRolePermissions"
    | "createPermission"
    | "deletePermission"
  >;
  m2m: Pick<M2mClientService, "create" | "update" | "setScopes" | "rotateSecret" | "remove">;
  apiKeys: Pick<ApiKeyService, "create" | "remove">;
  email: Pick<EmailService, "getSettings" | "updateSettings">;
  passwords: Pick<PasswordHasher, "hash" | "verify">;
  directory: Pick<AppDirectory, "invalidate">;
  permissions: Pick<PermissionResolver, "invalidate">;
  keys: Pick<KeyService, "invalidate">;
  /** Writes the file's accounts inside this transaction, as `heimdall users import` does. */
  userImport: Pick<UserImportService, "importRecords">;
  tenants: Pick<
    TenantService,
    "forPlatform" | "create" | "update" | "remove" | "addMember" | "removeMember" | "updateMemberRole"
  >;
  webhooks: Pick<WebhookService, "put" | "remove" | "rotateSecret" | "secretMatches">;
}

/** A secret made by this apply, shown once. */
export interface SeedSecret {
  kind: "m2m" | "api_key" | "webhook";
  app: string;
  name: string;
  /** The M2M client's public id. */
  client_id?: string;
  secret: string;
}

/** The file cannot be applied to this workspace (a reference or a name that does not resolve): every problem, by path. */
export class SeedPlanError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(
      `${problems.length} problem(s) applying the seed file:\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
    this.name = "SeedPlanError";
  }
}

export type Op = "+" | "~" | "-";

export interface Step {
  op: Op;
  line: string;
  run: () => void | Promise<void>;
}

export const show = (v: unknown) => (v === undefined ? "(unset)" : JSON.stringify(v));
export const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
export const sorted = (xs: readonly string[]) => [...xs].sort();

export interface AppPlanContext {
  deps: SeedDeps;
  store: SeedStore;
  principal: LocalOperatorPrincipal;
  meta: CallMeta;
  at: string;
  app: SeedApp;
  existing: AppRow | undefined;
  prune: boolean;
  secrets: SeedSecret[];
  problems: string[];
}

/** Adds a step to a list: `add("+", "+ role demo/billing", () => …)`. */
export const adder =
  (steps: Step[]) =>
  (op: Op, line: string, run: Step["run"]): void => {
    steps.push({ op, line, run });
  };

export function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

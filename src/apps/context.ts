/** @module What the app service's concerns (`service.ts`, `auth-config-rules.ts`) share: its interface, deps and context. */
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { Page } from "../core/pagination.ts";
import type { CallMeta, PlatformPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { KeyService } from "../keys/service.ts";
import type { AuthConfig, AuthConfigPatch } from "./auth-config.ts";
import type { AppDirectory } from "./directory.ts";
import type { AppDto, AppRow, AppStatus, CreateAppInput, PlatformStatsDto, UpdateAppInput } from "./model.ts";
import type { AppStore } from "./store.ts";

export interface AppServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  keys: Pick<
    KeyService,
    "generateKeyMaterial" | "insertInitialKeys" | "scheduleAlgorithm" | "invalidate" | "deleteApp"
  >;
  /** Invalidated after every app write, so the Consumer surface never serves a stale slug or status. */
  directory: Pick<AppDirectory, "invalidate">;
  /** Warns when an operator turns the admin lane's permission checks off. */
  log: Logger;
  /** The app's MFA factors: their sealed secrets are destroyed with it (the cascade would leave them). */
  mfa: { forgetApp(appId: string): Promise<void> };
  /** `app.slug_changed` when an update renames the app (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

export interface ListAppsQuery {
  limit?: string;
  cursor?: string;
  workspace_id?: string;
}

/** Every Admin action an app route maps to (docs/architecture.md, "Lanes"). */
export type AppAction =
  | "heimdall.read"
  | "heimdall.create"
  | "heimdall.update"
  | "heimdall.delete"
  | "heimdall.rotate-secret"
  | "heimdall.audit.read";

export interface AppService {
  list(p: PlatformPrincipal, query: ListAppsQuery): Promise<Page<AppDto>>;
  create(p: PlatformPrincipal, input: CreateAppInput, meta: CallMeta): Promise<AppDto>;
  get(p: PlatformPrincipal, ref: string): Promise<AppDto>;
  update(p: PlatformPrincipal, ref: string, input: UpdateAppInput, meta: CallMeta): Promise<AppDto>;
  setStatus(p: PlatformPrincipal, ref: string, status: AppStatus, meta: CallMeta): Promise<AppDto>;
  remove(p: PlatformPrincipal, ref: string, meta: CallMeta): Promise<void>;
  getAuthConfig(p: PlatformPrincipal, ref: string): Promise<AuthConfig>;
  /** Async only for a `signing_alg` change, whose key is generated off the event loop before the write. */
  updateAuthConfig(
    p: PlatformPrincipal,
    ref: string,
    patch: AuthConfigPatch,
    meta: CallMeta,
  ): Promise<AuthConfig>;
  stats(p: PlatformPrincipal, query: { workspace_id?: string }): Promise<PlatformStatsDto>;
  /**
   * Resolves `{app_id}` (UUID or slug) and checks `action` for the caller; the row on success.
   * Other Admin modules (keys, audit, …) use it so every route hides and refuses alike.
   */
  authorizeApp(p: PlatformPrincipal, ref: string, action: AppAction): Promise<AppRow>;
  /** The app by UUID or slug, no access check (Consumer routing, CLI). */
  find(ref: string): Promise<AppRow | undefined>;
  /** The effective auth config of an app (defaults filled in), for the Consumer API. */
  authConfigOf(appId: string): Promise<AuthConfig>;
  /** Drops expired slug aliases (scheduled cleanup). */
  purgeAliases(): Promise<number>;
  /**
   * Apps whose stored `enforce_app_permissions: false` predates the secure default and was never an
   * operator's choice: stored as `true` from now on, each with a system-actor audit row. Idempotent.
   */
  adoptSecureDefault(): Promise<AppRow[]>;
  /** Apps whose operator turned `enforce_app_permissions` off, oldest first. */
  unenforcedApps(): Promise<AppRow[]>;
}

/** What `service.ts` hands its concerns: the deps, the one store, and the access and archive checks. */
export interface AppContext {
  deps: AppServiceDeps;
  store: AppStore;
  authorizeApp: AppService["authorizeApp"];
  /** Refuses a write to an archived app. */
  writable(app: AppRow): void;
}

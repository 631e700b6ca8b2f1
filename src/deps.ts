/** @module The one composition root: builds db, vault, keys, audit and every service from a Config. */

import { type ApiKeyService, createApiKeyService } from "./api-keys/service.ts";
import { type AppDirectory, createAppDirectory } from "./apps/directory.ts";
import { type AppService, createAppService } from "./apps/service.ts";
import { type AppStatsService, createAppStatsService } from "./apps/stats.ts";
import { createDenialRecorder, type DenialRecorder } from "./audit/denials.ts";
import { type AuditReader, createAuditReader } from "./audit/reader.ts";
import { type AuditRetention, createAuditRetention } from "./audit/retention.ts";
import { type AuditWriter, createAuditWriter } from "./audit/writer.ts";
import { createMfaSigninService, type MfaSigninService } from "./auth/mfa-service.ts";
import { type AuthService, createAuthService } from "./auth/service.ts";
import { createTenantScopeService, type TenantScopeService } from "./auth/tenant-scope.ts";
import { type BackupJob, createBackupJob } from "./backup/scheduled.ts";
import { type CodeService, createCodeService } from "./codes/service.ts";
import type { Config } from "./config/index.ts";
import { type Clock, DAY, HOUR, MINUTE, systemClock } from "./core/clock.ts";
import { createLogger, type Logger } from "./core/logger.ts";
import { type ChangeFeed, createChangeFeed } from "./db/changes.ts";
import { type Db, migrate, openDatabase, tx } from "./db/client.ts";
import { createLease, type Lease } from "./db/lease.ts";
import { migratePostgres, openPostgresDatabase } from "./db/postgres.ts";
import { createDevInbox } from "./email/dev-inbox.ts";
import { createEmailService, type EmailService } from "./email/service.ts";
import { createMailTransport, type MailEcho } from "./email/transport.ts";
import { createEventEmitter, type EventEmitter } from "./events/emit.ts";
import { createProviderClients } from "./federation/clients.ts";
import { createProviderConfigService, type ProviderConfigService } from "./federation/config-service.ts";
import { createFederationService, type FederationService } from "./federation/service.ts";
import { createIdempotency, type Idempotency } from "./http/idempotency.ts";
import { Metrics } from "./http/metrics.ts";
import { createInviteService, type InviteService } from "./invites/service.ts";
import { createKeyService, type KeyService } from "./keys/service.ts";
import { createM2mGrant, type M2mGrant } from "./m2m/grant.ts";
import { createM2mClientService, type M2mClientService } from "./m2m/service.ts";
import { createMeService, type MeService } from "./me/service.ts";
import { createMfaService, type MfaService } from "./mfa/service.ts";
import { createPasswordHasher, type PasswordHasher } from "./passwords/hasher.ts";
import { createRateLimiter, type RateLimiter } from "./ratelimit/limiter.ts";
import { createSharedRateLimiter } from "./ratelimit/shared.ts";
import { createEnforcementRegistry, type EnforcementRegistry } from "./rbac/enforced.ts";
import { createPermissionResolver, type PermissionResolver } from "./rbac/resolver.ts";
import { backfillAppRoles, seedSystemPermissions } from "./rbac/seed.ts";
import { createRoleService, type RoleService } from "./roles/service.ts";
import { createMemoryReducer } from "./scheduler/memory-reducer.ts";
import { createScheduler, type Scheduler } from "./scheduler/scheduler.ts";
import { createSessionService, type SessionService } from "./sessions/service.ts";
import { createTenantService, type TenantService } from "./tenants/service.ts";
import { createTokenService, type TokenService } from "./tokens/service.ts";
import { createUserBulkService, type UserBulkService } from "./users/bulk.ts";
import { createUserContactService, type UserContactService } from "./users/contact-admin.ts";
import { createUserImportService, type UserImportService } from "./users/import.ts";
import { createUserRules } from "./users/scope.ts";
import { createUserAdminService, type UserAdminService } from "./users/service.ts";
import { loadMasterKeys } from "./vault/master-key.ts";
import { createServerSecrets, type ServerSecrets } from "./vault/server-secrets.ts";
import { createVault, type Vault } from "./vault/vault.ts";
import { type ConsumerResolver, createConsumerResolver } from "./verify/consumer-resolver.ts";
import { createTokenInspector, type TokenInspector } from "./verify/inspect.ts";
import { createVerifyService, type VerifyService } from "./verify/service.ts";
import { createWebhookDelivery, type WebhookDelivery } from "./webhooks/delivery.ts";
import { createWebhookFanout } from "./webhooks/fanout.ts";
import { createWebhookService, type WebhookService } from "./webhooks/service.ts";
import type { TargetPolicy } from "./webhooks/targets.ts";
import { createPlatformAuth, type PlatformAuth } from "./workspaces/auth.ts";
import { createPakService, type PakService } from "./workspaces/paks.ts";
import { createPolicyService, type PolicyService } from "./workspaces/policies.ts";
import { createProvisioningService, type ProvisioningService } from "./workspaces/provisioning.ts";
import { createPlatformSessionService, type PlatformSessionService } from "./workspaces/sessions.ts";
import { createWorkspaceService, type WorkspaceService } from "./workspaces/workspaces.ts";

export interface Deps {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly db: Db;
  readonly metrics: Metrics;
  readonly vault: Vault;
  readonly secrets: ServerSecrets;
  readonly passwords: PasswordHasher;
  readonly auth: AuthService;
  readonly mfa: MfaService;
  /** The sign-in's MFA challenge, its completion and step-up. */
  readonly mfaSignin: MfaSigninService;
  /** The tenant an end-user session acts in: sign-in's check, `switch-tenant`, refresh, `/auth/me/tenants`. */
  readonly tenantScope: TenantScopeService;
  readonly keys: KeyService;
  readonly tokens: TokenService;
  readonly sessions: SessionService;
  readonly audit: AuditWriter;
  /** The one way a feature emits a domain event (the `events` outbox, in the caller's transaction). */
  readonly events: EventEmitter;
  readonly auditRetention: AuditRetention;
  /** The Admin API's read of an app's audit log. */
  readonly auditReader: AuditReader;
  /** Writes `access.denied` rows for the error mapper, debounced per caller and route. */
  readonly denials: DenialRecorder;
  readonly platformAuth: PlatformAuth;
  /** Bootstrap, `heimdall user create` and `heimdall pak create`: provisioning without a session. */
  readonly provisioning: ProvisioningService;
  /** Operator sign-in, logout, sessions and profile (end users' sessions are `sessions`). */
  readonly platformSessions: PlatformSessionService;
  readonly workspaces: WorkspaceService;
  /** Platform API keys through the API. */
  readonly paks: PakService;
  /** A workspace's managed policies, the statements PAKs are bound to (app roles are `roles`). */
  readonly policies: PolicyService;
  readonly apps: AppService;
  /** One app's live figures (the console's overview). */
  readonly appStats: AppStatsService;
  readonly directory: AppDirectory;
  readonly idempotency: Idempotency;
  readonly rateLimiter: RateLimiter;
  readonly scheduler: Scheduler;
  /** Which instance runs the leader-only jobs (several instances on PostgreSQL; always this one on SQLite). */
  readonly lease: Lease;
  /** Other instances' writes to cached tables, delivered to this instance's caches (PostgreSQL). */
  readonly changes: ChangeFeed;
  /** Scheduled backups (`backup_dir`); null when they are off. */
  readonly backups: BackupJob | null;
  readonly permissions: PermissionResolver;
  /** Permissions the Consumer routes check, filled in as the routes are mounted. */
  readonly enforcement: EnforcementRegistry;
  /** Roles and permissions administration, shared by the Admin API and the Consumer admin lane. */
  readonly roles: RoleService;
  readonly apiKeys: ApiKeyService;
  readonly m2m: M2mClientService;
  readonly m2mGrant: M2mGrant;
  readonly email: EmailService;
  readonly codes: CodeService;
  /** End-user accounts, for the Admin API and the Consumer admin lane. */
  readonly users: UserAdminService;
  /** End users' contacts and resend-verification, for the Admin API. */
  readonly userContacts: UserContactService;
  /** The Admin API's bulk end-user operations. */
  readonly userBulk: UserBulkService;
  /** `heimdall users import` and the seed file's users: accounts with existing password hashes, idempotent by email. */
  readonly userImport: UserImportService;
  /** End-user invites: the Admin API's create, list and revoke, and the Consumer's accept. */
  readonly invites: InviteService;
  /** Tenants (organisations inside an app) and their memberships, for both surfaces and the seed file. */
  readonly tenants: TenantService;
  /** The signed-in EndUser's own account (`/me*`). */
  readonly me: MeService;
  /** "What is this access token right now?", for introspection, `/verify`, `/authorize*` and the admin lane. */
  readonly inspector: TokenInspector;
  readonly verifier: VerifyService;
  /** The Consumer lanes' app, EndUser and admin-lane caller, asked by the guards of `http/consumer.ts`. */
  readonly consumerResolver: ConsumerResolver;
  /** An app's webhook destination on the Admin API. */
  readonly webhooks: WebhookService;
  /** Sends due webhook deliveries (the `webhooks.deliver` job). */
  readonly webhookDelivery: WebhookDelivery;
  /** Federated sign-in providers of an app on the Admin API (secrets sealed), and their read for sign-in. */
  readonly providerConfigs: ProviderConfigService;
  /** Federated sign-in: the redirect and native flows, the code exchange and linking. */
  readonly federation: FederationService;
}

export interface BuildOptions {
  clock?: Clock;
  log?: Logger;
  /** An already-open database (tests pass `:memory:`); otherwise `config.dbFile` is opened. */
  db?: Db;
  /**
   * Skip the migrations and the catalogue seeding: for read-only CLI commands beside a running server,
   * which must not change the schema under it (the caller checks that none are pending).
   */
  readOnly?: boolean;
  /** In email log mode, also hand each message to this (`heimdall dev` prints it readably); serve has none. */
  mailEcho?: MailEcho;
}

/**
 * Wires everything. The caller has already checked the data directory (see `cli/serve.ts`):
 * the master key file exists and is private. Migrations are applied here.
 */
export async function buildDeps(config: Config, opts: BuildOptions = {}): Promise<Deps> {
  const clock = opts.clock ?? systemClock;
  const log = opts.log ?? createLogger(config.logLevel);
  const db =
    opts.db ?? (config.databaseUrl ? openPostgresDatabase(config.databaseUrl) : openDatabase(config.dbFile));
  if (!opts.readOnly) {
    if (db.engine === "postgres") await migratePostgres(db);
    else migrate(db);
    // Catalogue rows the code defines: inserted once, and apps from before roles existed catch up.
    await tx(db, async () => {
      await seedSystemPermissions(db, clock);
      await backfillAppRoles(db, clock);
    });
  }
  const metrics = new Metrics();
  const vault = createVault({ db, keys: loadMasterKeys(config.masterKeyFile), clock });
  const secrets = createServerSecrets({ db, vault, clock });
  const audit = createAuditWriter({ db, clock });
  // Every event an app's webhook subscribes to gets a delivery row in the transaction that writes it.
  const events = createEventEmitter({ db, clock, subscribers: [createWebhookFanout({ db, clock })] });
  const auditRetention = createAuditRetention({ db, clock, retentionDays: config.auditRetentionDays });
  const keys = createKeyService({
    db,
    vault,
    clock,
    rsaBits: config.rsaBits,
    log,
    audit: async (e) => {
      await audit.record({
        appId: e.appId,
        action: e.action,
        resourceType: "signing_key",
        resourceId: (e.details?.new_kid as string | undefined) ?? null,
        actor: e.actor ?? { type: "system", id: null },
        details: e.details,
        meta: e.meta,
      });
    },
  });
  const tokens = createTokenService({ keys, config, clock });
  const sessions = createSessionService({ db, clock, secrets, audit });
  const platformAuth = createPlatformAuth({ db, clock, config, log, audit });
  const passwords = createPasswordHasher({
    priority: config.hashPriority,
    concurrency: config.hashThreads,
  });
  // One process counts in memory; several instances on PostgreSQL count in the database, so a limit is a total.
  const rateLimiter: RateLimiter =
    db.engine === "postgres" ? createSharedRateLimiter({ db, clock }) : createRateLimiter({ db, clock });
  const provisioning = createProvisioningService({ db, clock, audit, passwords, vault });
  const platformSessions = createPlatformSessionService({ db, clock, audit, passwords, rateLimiter });
  const workspaces = createWorkspaceService({ db, audit });
  const paks = createPakService({ db, clock, audit });
  const policies = createPolicyService({ db, clock, audit });
  const directory = createAppDirectory({ db, clock });
  // The MFA service is built later (it needs the user rules); the app service only calls it on a delete.
  const apps = createAppService({
    db,
    clock,
    audit,
    keys,
    directory,
    log,
    mfa: { forgetApp: async (appId) => await mfa.forgetApp(appId) },
    events,
  });
  const appStats = createAppStatsService({ db, clock, apps });
  const auditReader = createAuditReader({ db, apps, verify: async (chain) => await audit.verify(chain) });
  const denials = createDenialRecorder({ db, clock, audit });
  const idempotency = createIdempotency({ db, clock, vault });
  const apiKeys = createApiKeyService({ db, clock, audit, apps });
  const m2m = createM2mClientService({ db, clock, audit, apps, events });
  const m2mGrant = createM2mGrant({ db, clock, audit, tokens, rateLimiter });
  const permissions = createPermissionResolver({ db, clock });
  const enforcement = createEnforcementRegistry();
  const roles = createRoleService({ db, clock, audit, apps, permissions, enforcement, events });
  const tenants = createTenantService({ db, clock, audit, events, apps });
  // Log mode only: delivered texts kept in memory for the console's dev inbox (never in SMTP mode).
  const devInbox = config.emailMode === "log" ? createDevInbox({ clock }) : undefined;
  const email = createEmailService({
    db,
    clock,
    log,
    config,
    audit,
    apps,
    transport: createMailTransport(
      config,
      log,
      devInbox
        ? (m) => {
            devInbox.keep(m);
            opts.mailEcho?.(m);
          }
        : opts.mailEcho,
    ),
    vault,
    devInbox,
  });
  const codes = createCodeService({
    db,
    clock,
    audit,
    secrets,
    rateLimiter,
    passwords,
    sessions,
    apps,
    email,
    events,
  });
  const userRules = createUserRules({ db, clock, audit, permissions });
  const mfa = createMfaService({ db, clock, audit, events, vault, secrets, rules: userRules });
  const me = createMeService({
    db,
    clock,
    audit,
    sessions,
    passwords,
    rateLimiter,
    apps,
    email,
    mfa,
    events,
  });
  const inspector = createTokenInspector({ db, tokens, sessions });
  const verifier = createVerifyService({ inspector, permissions, clients: m2mGrant });
  const consumerResolver = createConsumerResolver({
    directory,
    tokens,
    sessions,
    apiKeys,
    permissions,
    inspector,
  });
  const users = createUserAdminService({
    db,
    clock,
    rules: userRules,
    apps,
    passwords,
    sessions,
    email,
    mfa,
    events,
  });
  const userContacts = createUserContactService({ db, clock, rules: userRules, email, codes });
  const userBulk = createUserBulkService({ db, clock, rules: userRules, mfa, events });
  const userImport = createUserImportService({ db, clock, audit, apps, passwords, sessions });
  const tenantScope = createTenantScopeService({ db, audit, sessions, tokens });
  const mfaSignin = createMfaSigninService({
    db,
    clock,
    audit,
    events,
    apps,
    sessions,
    tokens,
    rateLimiter,
    mfa,
    tenantScope,
  });
  const auth = createAuthService({
    db,
    clock,
    audit,
    apps,
    passwords,
    sessions,
    tokens,
    rateLimiter,
    mfa,
    mfaSignin,
    log,
    tenantScope,
    events,
  });
  const invites = createInviteService({
    db,
    clock,
    audit,
    events,
    apps,
    passwords,
    sessions,
    tokens,
    rateLimiter,
    email,
  });
  const webhookPolicy: TargetPolicy = {
    allowHttp: config.webhookAllowHttp,
    allowPrivate: config.webhookAllowPrivate,
    publicUrl: config.publicUrl,
    listenPort: config.port,
  };
  const webhooks = createWebhookService({ db, clock, audit, vault, apps, policy: webhookPolicy });
  const providerClients = createProviderClients({ clock, log });
  const providerConfigs = createProviderConfigService({
    db,
    clock,
    audit,
    vault,
    apps,
    onChange: (appId, provider) => providerClients.forget(appId, provider),
  });
  const federation = createFederationService({
    db,
    clock,
    audit,
    events,
    apps,
    providers: providerConfigs,
    clients: providerClients,
    secrets,
    sessions,
    tokens,
    rateLimiter,
    mfa,
    mfaSignin,
    log,
    publicUrl: config.publicUrl,
  });
  const webhookDelivery = createWebhookDelivery({ db, clock, vault, audit, log, policy: webhookPolicy });
  // Scheduled backups copy the SQLite file; a PostgreSQL store is backed up by PostgreSQL's own tools.
  if (config.backupDir && db.engine === "postgres")
    log.warn("backup_dir ignored: the store is PostgreSQL; back it up with pg_dump or the service's backups");
  const backups =
    config.backupDir && db.engine === "sqlite"
      ? createBackupJob({
          db,
          clock,
          log,
          schedule: {
            dir: config.backupDir,
            intervalMs: config.backupIntervalHours * HOUR,
            keep: config.backupKeep,
          },
        })
      : null;
  // Several instances on PostgreSQL: one leads the jobs that must run once (rotation, cleanup, retention), and
  // every instance drops its caches when another commits a change to what they hold (docs/operations.md).
  const lease = createLease(db, { name: "scheduler", ttlMs: config.schedulerLeaseMs });
  const changes = createChangeFeed({ db, log });
  changes.onChange((table) => {
    if (table === "apps" || table === "app_slug_aliases") directory.invalidate();
    else if (table === "roles" || table === "role_permissions" || table === "permissions")
      permissions.invalidateAll();
    else if (table === "signing_keys")
      void keys.load().catch((err) => log.warn("signing keys reload failed", { err }));
  });
  const shared =
    db.engine === "postgres"
      ? [
          {
            name: "lease",
            intervalMs: Math.floor(config.schedulerLeaseMs / 3),
            run: async () => await lease.tick(),
          },
          { name: "cache.check", intervalMs: 1_000, run: async () => await changes.check() },
        ]
      : [];
  const memoryReducer = createMemoryReducer({
    cpuMicros: () => {
      const used = process.cpuUsage();
      return used.user + used.system;
    },
    reduce: () => Bun.shrink(),
    rss: () => process.memoryUsage.rss(),
    log,
  });
  const scheduler = createScheduler({
    clock,
    log,
    isLeader: () => lease.isLeader(),
    jobs: [
      ...shared,
      // Checked hourly (and at start); the job decides from the newest file whether a backup is due.
      ...(backups
        ? [
            {
              name: "backup",
              leaderOnly: true,
              intervalMs: Math.min(HOUR, config.backupIntervalHours * HOUR),
              run: backups.run,
            },
          ]
        : []),
      { name: "keys.rotate", intervalMs: MINUTE, leaderOnly: true, run: async () => await keys.tick() },
      // A `heimdall keys rotate` beside the server commits on another connection: picked up within
      // half a second (one PRAGMA per beat), so a withdrawn key stops signing and verifying at once. On
      // PostgreSQL the change feed above reloads the keys on any instance's or command's commit instead.
      ...(db.engine === "sqlite"
        ? [{ name: "keys.watch", intervalMs: 500, run: async () => await keys.reloadIfChanged() }]
        : []),
      { name: "email.deliver", intervalMs: 15_000, run: async () => await email.deliverDue() },
      // Events are queued in the transaction of their change; this sends them within about a second.
      { name: "webhooks.deliver", intervalMs: 1_000, run: async () => await webhookDelivery.deliverDue() },
      { name: "ratelimit.flush", intervalMs: 1_000, run: async () => await rateLimiter.flush() },
      // After a burst, once the process is quiet, the grown heap and compiled code go back to the OS.
      { name: "memory.reduce", intervalMs: 1_000, run: async () => memoryReducer.tick() },
      // Daily, and once at start: a server that was down past its run catches up then (the cutoff is
      // absolute, so one run removes every day missed).
      {
        name: "audit.retention",
        intervalMs: DAY,
        leaderOnly: true,
        run: async () => await auditRetention.prune(),
      },
      {
        name: "cleanup",
        leaderOnly: true,
        intervalMs: HOUR,
        run: async () => ({
          idempotency: await idempotency.purge(),
          sessions: await platformAuth.purge(),
          endUserSessions: await sessions.purge(),
          rateLimits: await rateLimiter.purge(),
          slugAliases: await apps.purgeAliases(),
          codes: await codes.purge(),
          outbox: await email.purge(),
          webhooks: await webhookDelivery.prune(),
          oauthGrants: await federation.purge(),
        }),
      },
    ],
  });
  metrics.addGauge({
    name: "heimdall_scheduler_leader",
    help: "1 while this instance holds the scheduler lease and runs the leader-only jobs (always 1 on SQLite).",
    collect: () => [{ labels: {}, value: lease.isLeader() ? 1 : 0 }],
  });
  metrics.addGauge({
    name: "heimdall_password_checks",
    help: "argon2 hashes and verifications running and waiting (at most 64 wait; then sign-in answers 429).",
    collect: () => {
      const { running, queued } = passwords.load();
      return [
        { labels: { state: "running" }, value: running },
        { labels: { state: "queued" }, value: queued },
      ];
    },
  });
  metrics.addGauge({
    name: "heimdall_password_hash_threads",
    help: "argon2 threads that run at once (HEIMDALL_HASH_THREADS; auto is cores − 1, at least 1).",
    collect: () => [{ labels: {}, value: passwords.concurrency }],
  });
  metrics.addGauge({
    name: "heimdall_signing_key_age_seconds",
    help: "Age of each app's active signing key.",
    collect: () =>
      keys.activeKeyAges().map((k) => ({ labels: { app_id: k.appId, kid: k.kid }, value: k.ageSeconds })),
  });
  if (backups) {
    metrics.addGauge({
      name: "heimdall_backup_last_success_timestamp_seconds",
      help: "Unix time of the newest good scheduled backup in backup_dir (0: none yet); alert when it lags the interval.",
      collect: () => [{ labels: {}, value: backups.lastSuccessSeconds() }],
    });
    metrics.addGauge({
      name: "heimdall_backup_failures",
      help: "Scheduled backups that failed since the process started.",
      collect: () => [{ labels: {}, value: backups.failures() }],
    });
  }
  metrics.addGauge({
    name: "heimdall_webhook_deliveries_pending",
    help: "Webhook deliveries waiting to be sent (due now or backing off after a failure).",
    collect: async () => [{ labels: {}, value: await webhookDelivery.pending() }],
  });
  metrics.addGauge({
    name: "heimdall_webhook_attempts",
    help: "Webhook delivery attempts since the process started, by outcome (disabled: destinations auto-disabled).",
    collect: () =>
      Object.entries(webhookDelivery.counters()).map(([outcome, value]) => ({ labels: { outcome }, value })),
  });
  metrics.addGauge({
    name: "heimdall_audit_rows_pruned",
    help: "Audit rows deleted by retention since the process started.",
    collect: () => [{ labels: {}, value: auditRetention.prunedTotal() }],
  });
  metrics.addGauge({
    name: "heimdall_audit_oldest_row_age_seconds",
    help: "Age of the oldest audit row kept; stays below audit_retention_days plus a day while retention runs.",
    collect: async () => [{ labels: {}, value: await auditRetention.oldestRowAgeSeconds() }],
  });
  return {
    config,
    clock,
    log,
    db,
    metrics,
    vault,
    secrets,
    passwords,
    auth,
    keys,
    tokens,
    sessions,
    audit,
    events,
    mfa,
    mfaSignin,
    tenantScope,
    auditRetention,
    auditReader,
    denials,
    platformAuth,
    provisioning,
    platformSessions,
    workspaces,
    paks,
    policies,
    apps,
    appStats,
    directory,
    idempotency,
    rateLimiter,
    scheduler,
    lease,
    changes,
    backups,
    apiKeys,
    m2m,
    m2mGrant,
    email,
    codes,
    invites,
    me,
    inspector,
    verifier,
    consumerResolver,
    permissions,
    enforcement,
    roles,
    tenants,
    users,
    userContacts,
    userBulk,
    userImport,
    webhooks,
    webhookDelivery,
    providerConfigs,
    federation,
  };
}

/**
 * @module Drizzle schema: the single source for tables; drizzle-kit generates `migrations/sqlite/` from it (`schema.pg.ts` is its PostgreSQL twin).
 *
 * Longer than the 450-line rule on purpose: it is declarations only (no logic), its foreign keys cross
 * every feature, and one file is what a reviewer diffs against a generated migration.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { PolicyStatement } from "../core/principal.ts";

// Timestamps are integer epoch milliseconds; the wire converts them to ISO 8601.
const ms = (name: string) => integer(name, { mode: "number" });
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();

// ─── Platform subset (docs/decisions.md) ────────────────────────────────────

export const workspaces = sqliteTable("workspaces", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  displayName: text("display_name").notNull(),
  status: text("status").notNull().default("active"),
  settings: json<Record<string, unknown>>("settings").notNull().default(sql`'{}'`),
  createdBy: text("created_by").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const platformUsers = sqliteTable("platform_users", {
  id: text("id").primaryKey(),
  email: text("email").notNull().unique(),
  username: text("username").notNull().unique(),
  displayName: text("display_name"),
  passwordHash: text("password_hash").notNull(),
  status: text("status").notNull().default("active"),
  emailVerifiedAt: ms("email_verified_at"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const workspaceMembers = sqliteTable(
  "workspace_members",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => platformUsers.id, { onDelete: "cascade" }),
    role: text("role", { enum: ["owner", "admin", "viewer"] }).notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("workspace_members_ws_user").on(t.workspaceId, t.userId),
    index("workspace_members_user").on(t.userId),
  ],
);

export const platformSessions = sqliteTable(
  "platform_sessions",
  {
    id: text("id").primaryKey(),
    userId: text("user_id")
      .notNull()
      .references(() => platformUsers.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: ms("created_at").notNull(),
    expiresAt: ms("expires_at").notNull(),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
  },
  (t) => [index("platform_sessions_user").on(t.userId)],
);

export const workspacePolicies = sqliteTable(
  "workspace_policies",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    statements: json<PolicyStatement[]>("statements").notNull(),
    createdBy: text("created_by"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("workspace_policies_ws_name").on(t.workspaceId, t.name)],
);

export const paks = sqliteTable(
  "paks",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    tokenPrefix: text("token_prefix").notNull(),
    tokenHash: text("token_hash").notNull().unique(),
    createdBy: text("created_by"),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
    /** Optional expiry chosen at creation; null never expires. */
    expiresAt: ms("expires_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("paks_ws").on(t.workspaceId, t.createdAt)],
);

export const pakPolicies = sqliteTable(
  "pak_policies",
  {
    pakId: text("pak_id")
      .notNull()
      .references(() => paks.id, { onDelete: "cascade" }),
    policyId: text("policy_id")
      .notNull()
      .references(() => workspacePolicies.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.pakId, t.policyId] }), index("pak_policies_policy").on(t.policyId)],
);

// ─── Vault (docs/operations.md, "The data dir") ───────────────────────────

/** Envelope-encrypted secrets. Only `vault/` reads or writes this table. */
export const vaultSecrets = sqliteTable("vault_secrets", {
  id: text("id").primaryKey(),
  /** AAD: `<purpose>:<owner…>`, e.g. `signing_key:<app_id>:<kid>`. */
  aad: text("aad").notNull(),
  kekId: text("kek_id").notNull(),
  wrappedDek: text("wrapped_dek").notNull(),
  dekNonce: text("dek_nonce").notNull(),
  dataNonce: text("data_nonce").notNull(),
  ciphertext: text("ciphertext").notNull(),
  createdAt: ms("created_at").notNull(),
});

// ─── Apps ───────────────────────────────────────────────────────────────────

export const apps = sqliteTable(
  "apps",
  {
    id: text("id").primaryKey(),
    workspaceId: text("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "restrict" }),
    slug: text("slug").notNull().unique(),
    displayName: text("display_name").notNull(),
    status: text("status", { enum: ["active", "suspended", "archived"] })
      .notNull()
      .default("active"),
    metadata: json<Record<string, unknown>>("metadata").notNull().default(sql`'{}'`),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("apps_ws_created").on(t.workspaceId, t.createdAt, t.id)],
);

/**
 * A renamed app's previous slug keeps resolving its JWKS for 30 days, so verifiers configured with
 * the old URL keep working while customers move; the slug cannot be taken by another app meanwhile.
 */
export const appSlugAliases = sqliteTable(
  "app_slug_aliases",
  {
    slug: text("slug").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    expiresAt: ms("expires_at").notNull(),
  },
  (t) => [index("app_slug_aliases_app").on(t.appId)],
);

/** Per-app auth config; the JSON holds every field of AuthConfigResponseDto, defaults filled in by `apps/`. */
export const authConfigs = sqliteTable("auth_configs", {
  appId: text("app_id")
    .primaryKey()
    .references(() => apps.id, { onDelete: "cascade" }),
  config: json<Record<string, unknown>>("config").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const signingKeys = sqliteTable(
  "signing_keys",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    kid: text("kid").notNull().unique(),
    alg: text("alg").notNull().default("RS256"),
    bits: integer("bits").notNull(),
    state: text("state", { enum: ["next", "active", "retiring", "retired"] }).notNull(),
    /** Public JWK members only: RSA (kty, n, e), EC P-256 (kty, crv, x, y) or OKP Ed25519 (kty, crv, x). */
    publicJwk: json<{ kty: string; n?: string; e?: string; crv?: string; x?: string; y?: string }>(
      "public_jwk",
    ).notNull(),
    /** The sealed private key; null once the key is retired and its private half destroyed. */
    vaultSecretId: text("vault_secret_id").references(() => vaultSecrets.id),
    createdAt: ms("created_at").notNull(),
    /** When a `next` key starts signing; when an `active` key started. */
    activatesAt: ms("activates_at").notNull(),
    /** When the key stopped signing (became `retiring`). */
    rotatedAt: ms("rotated_at"),
    /** When a `retiring` key leaves the JWKS. */
    retireAt: ms("retire_at"),
    retiredAt: ms("retired_at"),
  },
  (t) => [index("signing_keys_app_state").on(t.appId, t.state)],
);

// ─── Audit (docs/architecture.md, "Audit") ────────────────────────────────

export const auditLog = sqliteTable(
  "audit_log",
  {
    /** Insertion order; the hash chain follows it. */
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    id: text("id").notNull().unique(),
    /** Chain key: the app id, or `workspace:<id>` for platform events. */
    chain: text("chain").notNull(),
    appId: text("app_id"),
    workspaceId: text("workspace_id"),
    action: text("action").notNull(),
    resourceType: text("resource_type"),
    resourceId: text("resource_id"),
    actorType: text("actor_type", {
      enum: ["platform_user", "pak", "end_user", "m2m", "api_key", "system"],
    }).notNull(),
    actorId: text("actor_id"),
    details: json<Record<string, unknown>>("details"),
    ip: text("ip"),
    requestId: text("request_id"),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    index("audit_log_app_seq").on(t.appId, t.seq),
    index("audit_log_app_action_seq").on(t.appId, t.action, t.seq),
    index("audit_log_app_actor_seq").on(t.appId, t.actorId, t.seq),
    // An end user's own activity: rows where they are the subject rather than the actor.
    index("audit_log_app_resource_seq").on(t.appId, t.resourceId, t.seq),
    index("audit_log_chain_seq").on(t.chain, t.seq),
  ],
);

/**
 * Where retention cut a chain: the hash of the last pruned row (the `prev_hash` the first kept row must
 * carry), so `audit verify` still proves the kept part unbroken.
 */
export const auditAnchors = sqliteTable("audit_anchors", {
  chain: text("chain").primaryKey(),
  /** `seq` of the last pruned row. */
  prunedThroughSeq: integer("pruned_through_seq").notNull(),
  /** `hash` of the last pruned row. */
  hash: text("hash").notNull(),
  prunedCount: integer("pruned_count").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

// ─── Multi-factor authentication ───────────────────────────────────────────

/** An end user's second factors (TOTP today). Pending until confirmed with codes from the authenticator. */
export const mfaFactors = sqliteTable(
  "mfa_factors",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["totp"] }).notNull(),
    label: text("label"),
    /** The sealed TOTP secret (vault). */
    secretId: text("secret_id")
      .notNull()
      .references(() => vaultSecrets.id),
    enabledAt: ms("enabled_at"),
    /** The last TOTP time step accepted: a code of that step or earlier is a replay. */
    lastUsedStep: integer("last_used_step"),
    lastUsedAt: ms("last_used_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("mfa_factors_user").on(t.userId, t.createdAt)],
);

/** Single-use recovery codes, stored only as hashes. */
export const mfaRecoveryCodes = sqliteTable(
  "mfa_recovery_codes",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    usedAt: ms("used_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("mfa_recovery_codes_user").on(t.userId)],
);

/** A sign-in paused for its second factor: the `mfa_token` (stored hashed), single-use and short-lived. */
export const mfaChallenges = sqliteTable(
  "mfa_challenges",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    tokenHash: text("token_hash").notNull().unique(),
    /** `signin`: complete with a factor; `enroll`: the app requires MFA and the account has none yet. */
    purpose: text("purpose", { enum: ["signin", "enroll"] }).notNull(),
    /** The `tenant_id` the sign-in asked for, applied when the challenge completes (checked again then). */
    tenantId: text("tenant_id"),
    /** The first factor's `amr` (a federated sign-in: `["oauth", provider]`); null is the password, `["pwd"]`. */
    firstFactorAmr: json<string[]>("first_factor_amr"),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: ms("expires_at").notNull(),
    consumedAt: ms("consumed_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("mfa_challenges_user").on(t.userId)],
);

// ─── Domain events (outbox) ─────────────────────────────────────────────────

/**
 * Every domain event, written in the transaction of the change it reports (`events/emit.ts`); webhook
 * delivery and other readers consume it from here.
 */
export const events = sqliteTable(
  "events",
  {
    id: text("id").primaryKey(),
    appId: text("app_id"),
    type: text("type").notNull(),
    data: json<Record<string, unknown>>("data").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("events_app_created").on(t.appId, t.createdAt)],
);

// ─── HTTP plumbing ──────────────────────────────────────────────────────────

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    /** `<principal>:<route>` so two callers never share a key space. */
    scope: text("scope").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    status: integer("status").notNull(),
    body: text("body").notNull(),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.key] }), index("idempotency_keys_created").on(t.createdAt)],
);

// ─── Server-wide secrets (refresh-token HMAC key, code pepper), sealed in the vault ──

export const serverSecrets = sqliteTable("server_secrets", {
  name: text("name").primaryKey(),
  vaultSecretId: text("vault_secret_id")
    .notNull()
    .references(() => vaultSecrets.id),
  createdAt: ms("created_at").notNull(),
});

// ─── End users (Consumer API) ───────────────────────────────────────────────

export const endUsers = sqliteTable(
  "end_users",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** Stored case-folded: usernames are unique per app regardless of case. */
    username: text("username").notNull(),
    displayName: text("display_name"),
    /** Null for accounts provisioned without a password (they use the reset flow). */
    passwordHash: text("password_hash"),
    status: text("status", { enum: ["active", "suspended", "deactivated"] })
      .notNull()
      .default("active"),
    /** App role name; role names are immutable, so the name is a stable reference. */
    role: text("role").notNull().default("member"),
    failedLoginCount: integer("failed_login_count").notNull().default(0),
    lockedUntil: ms("locked_until"),
    passwordChangedAt: ms("password_changed_at"),
    lastUsedAt: ms("last_used_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("end_users_app_username").on(t.appId, t.username),
    index("end_users_app_created").on(t.appId, t.createdAt, t.id),
    index("end_users_app_status_created").on(t.appId, t.status, t.createdAt, t.id),
    // "Is this role still held by anyone?" before a role is deleted, without scanning the app.
    index("end_users_app_role").on(t.appId, t.role),
  ],
);

export const endUserContacts = sqliteTable(
  "end_user_contacts",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    type: text("type", { enum: ["email", "phone"] }).notNull(),
    /** Normalised: emails lower-cased and NFKC, phones stripped to `+` and digits. */
    value: text("value").notNull(),
    isPrimary: integer("is_primary", { mode: "boolean" }).notNull().default(false),
    verifiedAt: ms("verified_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    // One owner per address in an app: a code or a sign-in identifier always names one account.
    uniqueIndex("end_user_contacts_app_value").on(t.appId, t.type, t.value),
    index("end_user_contacts_user").on(t.userId),
  ],
);

export const endUserSessions = sqliteTable(
  "end_user_sessions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    /** SHA-256 of the one live refresh token. */
    refreshHash: text("refresh_hash").notNull(),
    /** SHA-256 of the immediate predecessor and when it was rotated: the 60 s retry window. */
    prevRefreshHash: text("prev_refresh_hash"),
    prevRotatedAt: ms("prev_rotated_at"),
    amr: json<string[]>("amr").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: ms("created_at").notNull(),
    /** When the holder last proved a credential (sign-in or re-authentication); null means `created_at`. */
    authenticatedAt: ms("authenticated_at"),
    expiresAt: ms("expires_at").notNull(),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
    revokeReason: text("revoke_reason"),
    /** When the holder last proved a second factor (sign-in challenge or step-up); null when never. */
    mfaAt: ms("mfa_at"),
    /**
     * The tenant the session acts in (sign-in with `tenant_id`, `switch-tenant`); null for app scope. Its
     * tokens carry it only while the membership exists and the tenant is active (checked at every refresh).
     */
    tenantId: text("tenant_id").references(() => tenants.id, { onDelete: "set null" }),
  },
  (t) => [
    index("end_user_sessions_user").on(t.userId, t.revokedAt),
    index("end_user_sessions_app").on(t.appId),
  ],
);

/** Every refresh token ever issued for a session (hash only), so any reuse of an old one is recognised. */
export const endUserRefreshTokens = sqliteTable(
  "end_user_refresh_tokens",
  {
    tokenHash: text("token_hash").primaryKey(),
    sessionId: text("session_id")
      .notNull()
      .references(() => endUserSessions.id, { onDelete: "cascade" }),
    issuedAt: ms("issued_at").notNull(),
  },
  (t) => [index("end_user_refresh_tokens_session").on(t.sessionId)],
);

export const oneTimeCodes = sqliteTable(
  "one_time_codes",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    contactId: text("contact_id")
      .notNull()
      .references(() => endUserContacts.id, { onDelete: "cascade" }),
    purpose: text("purpose", { enum: ["verify", "reset"] }).notNull(),
    /** HMAC-SHA256 of `<app_id>:<purpose>:<code>` under the server's code pepper. */
    codeHash: text("code_hash").notNull(),
    expiresAt: ms("expires_at").notNull(),
    consumedAt: ms("consumed_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    index("one_time_codes_app_hash").on(t.appId, t.codeHash),
    index("one_time_codes_contact").on(t.contactId, t.purpose),
  ],
);

/** Fixed-window counters; living in SQLite, limits hold across restarts. */
export const rateLimits = sqliteTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: ms("window_start").notNull(),
  count: integer("count").notNull(),
});

export const notificationSettings = sqliteTable("notification_settings", {
  appId: text("app_id")
    .primaryKey()
    .references(() => apps.id, { onDelete: "cascade" }),
  notificationsViaEnvoi: integer("notifications_via_envoi", { mode: "boolean" }).notNull().default(false),
  defaultSenderAddress: text("default_sender_address"),
  verificationTemplateName: text("verification_template_name"),
  welcomeTemplateName: text("welcome_template_name"),
  passwordResetTemplateName: text("password_reset_template_name"),
  webOrigin: text("web_origin"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

/** Durable email outbox: written in the request's transaction, delivered by the scheduler with retries. */
export const emailOutbox = sqliteTable(
  "email_outbox",
  {
    id: text("id").primaryKey(),
    appId: text("app_id"),
    to: text("to").notNull(),
    from: text("from").notNull(),
    subject: text("subject").notNull(),
    /** Redacted once the message is sealed: the body lives in the vault until delivery, then is destroyed. */
    text: text("text").notNull(),
    html: text("html"),
    /** The sealed `{text, html}` of a pending message; null once delivered or failed. */
    bodySecretId: text("body_secret_id").references(() => vaultSecrets.id),
    status: text("status", { enum: ["pending", "sent", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    lastError: text("last_error"),
    createdAt: ms("created_at").notNull(),
    sentAt: ms("sent_at"),
  },
  (t) => [
    index("email_outbox_due").on(t.status, t.nextAttemptAt),
    index("email_outbox_app").on(t.appId, t.createdAt),
  ],
);

// ─── Machine-to-machine (Consumer OAuth) and app API keys ───────────────────

export const m2mClients = sqliteTable(
  "m2m_clients",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** Public identifier, `m2m_…`; unique across the appliance so a token's `sub` names one client. */
    clientId: text("client_id").notNull().unique(),
    name: text("name").notNull(),
    /** SHA-256 of the secret (≥ 256 random bits, so a fast hash is enough). */
    secretHash: text("secret_hash").notNull(),
    /** The secret replaced by the last rotation, still accepted until `prev_secret_expires_at`. */
    prevSecretHash: text("prev_secret_hash"),
    prevSecretExpiresAt: ms("prev_secret_expires_at"),
    isActive: integer("is_active", { mode: "boolean" }).notNull().default(true),
    /** Permission strings `resource.action` the client may be granted. */
    scopes: json<string[]>("scopes").notNull(),
    lastUsedAt: ms("last_used_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("m2m_clients_app_created").on(t.appId, t.createdAt, t.id)],
);

export const appApiKeys = sqliteTable(
  "app_api_keys",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** First 16 characters of the key, for display. */
    keyPrefix: text("key_prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    permissions: json<string[]>("permissions").notNull(),
    lastUsedAt: ms("last_used_at"),
    /** Optional expiry chosen at creation; null never expires. */
    expiresAt: ms("expires_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("app_api_keys_app_created").on(t.appId, t.createdAt, t.id)],
);

// ─── Roles and permissions (RBAC) ───────────────────────────────────────────

/**
 * The permission catalogue: system rows (`app_id` null, `is_system`) are shared by every app; custom
 * rows belong to one app. `key` is `<resource>.<action>`, unique per app and against the system set.
 */
export const permissions = sqliteTable(
  "permissions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").references(() => apps.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    resource: text("resource").notNull(),
    action: text("action").notNull(),
    description: text("description"),
    isSystem: integer("is_system", { mode: "boolean" }).notNull().default(false),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [uniqueIndex("permissions_app_key").on(t.appId, t.key), index("permissions_key").on(t.key)],
);

export const roles = sqliteTable(
  "roles",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** Immutable once created: end users reference their role by name. */
    name: text("name").notNull(),
    description: text("description"),
    isSystem: integer("is_system", { mode: "boolean" }).notNull().default(false),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("roles_app_name").on(t.appId, t.name)],
);

export const rolePermissions = sqliteTable(
  "role_permissions",
  {
    roleId: text("role_id")
      .notNull()
      .references(() => roles.id, { onDelete: "cascade" }),
    permissionId: text("permission_id")
      .notNull()
      .references(() => permissions.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.roleId, t.permissionId] }),
    index("role_permissions_permission").on(t.permissionId),
  ],
);

// ─── Tenants (organisations inside an app) and end-user invites ─────────────

export const tenants = sqliteTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** `tnt_<12 hex>`, the customer-facing id; every route accepts it as well as `id`. */
    displayId: text("display_id").notNull(),
    /** Stored lower-cased: unique per app regardless of case. */
    slug: text("slug").notNull(),
    displayName: text("display_name").notNull(),
    status: text("status", { enum: ["active", "suspended", "archived"] })
      .notNull()
      .default("active"),
    metadata: json<Record<string, unknown>>("metadata").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [
    uniqueIndex("tenants_display_id").on(t.displayId),
    uniqueIndex("tenants_app_slug").on(t.appId, t.slug),
    index("tenants_app_created").on(t.appId, t.createdAt, t.id),
    index("tenants_app_status_created").on(t.appId, t.status, t.createdAt, t.id),
  ],
);

export const tenantMembers = sqliteTable(
  "tenant_members",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    /** An app role name (role names are immutable, as for `end_users.role`). */
    role: text("role").notNull(),
    /** Who added the member (audit actor id), when known. */
    invitedBy: text("invited_by"),
    joinedAt: ms("joined_at").notNull(),
  },
  (t) => [
    uniqueIndex("tenant_members_tenant_user").on(t.tenantId, t.userId),
    index("tenant_members_tenant_joined").on(t.tenantId, t.joinedAt, t.id),
    index("tenant_members_user").on(t.userId),
    // "Is this role still held by a member?" before a role is deleted.
    index("tenant_members_app_role").on(t.appId, t.role),
  ],
);

export const endUserInvites = sqliteTable(
  "end_user_invites",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    /** SHA-256 of the `inv_…` code; the code itself is shown once, at creation. */
    codeHash: text("code_hash").notNull(),
    /** The code's last four characters, for lists (`inv_…wXyZ`): enough to tell invites apart, useless to guess. */
    codeHint: text("code_hint").notNull(),
    /** Normalised as contacts are (lower-cased, NFKC). */
    email: text("email").notNull(),
    name: text("name"),
    /** The app role granted on accept. */
    role: text("role").notNull(),
    maxUses: integer("max_uses").notNull(),
    useCount: integer("use_count").notNull().default(0),
    expiresAt: ms("expires_at").notNull(),
    revokedAt: ms("revoked_at"),
    /** Set when a newer invite for the same email replaced this one. */
    supersededBy: text("superseded_by"),
    createdBy: text("created_by"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("end_user_invites_code").on(t.codeHash),
    index("end_user_invites_app_created").on(t.appId, t.createdAt, t.id),
    index("end_user_invites_app_email").on(t.appId, t.email),
  ],
);

// ─── Outbound webhooks ──────────────────────────────────────────────────────

/** One destination per app (the contract's `PUT /v1/apps/{app_id}/webhook`). */
export const webhookConfigs = sqliteTable(
  "webhook_configs",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    /** Subscribed event types; empty means every type. */
    eventTypes: json<string[]>("event_types").notNull(),
    /** The `whsec_…` signing secret, sealed by the vault (AAD `webhook_secret:<app_id>:<id>`). */
    secretId: text("secret_id").notNull(),
    secretHint: text("secret_hint").notNull(),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    disabledAt: ms("disabled_at"),
    disabledReason: text("disabled_reason"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("webhook_configs_app").on(t.appId)],
);

/**
 * One event owed to one destination, written in the transaction that emits the event, so a committed change
 * is always delivered (at least once) and a rolled-back one never is.
 */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    configId: text("config_id")
      .notNull()
      .references(() => webhookConfigs.id, { onDelete: "cascade" }),
    eventId: text("event_id")
      .notNull()
      .references(() => events.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["pending", "delivered", "failed"] }).notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: ms("next_attempt_at").notNull(),
    lastAttemptAt: ms("last_attempt_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("webhook_deliveries_config_event").on(t.configId, t.eventId),
    index("webhook_deliveries_due").on(t.status, t.nextAttemptAt),
    index("webhook_deliveries_event").on(t.eventId),
  ],
);

/** Every delivery attempt, listed by `GET …/webhook/attempts` and pruned by retention. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    attemptNumber: integer("attempt_number").notNull(),
    url: text("url").notNull(),
    statusCode: integer("status_code"),
    errorMessage: text("error_message"),
    latencyMs: integer("latency_ms"),
    /** The receiver's response body, cut to 1 KiB. */
    responseBody: text("response_body"),
    attemptedAt: ms("attempted_at").notNull(),
  },
  (t) => [index("webhook_attempts_app_attempted").on(t.appId, t.attemptedAt, t.id)],
);

// ─── Federated sign-in ──────────────────────────────────────────────────────

/** An app's configuration of one sign-in provider (`apple`, `google`, `github`, `oidc`…). */
export const identityProviders = sqliteTable(
  "identity_providers",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(false),
    /** The public part of the config (client ids, issuer, endpoints); never a secret. */
    config: json<Record<string, unknown>>("config").notNull(),
    /** The secret part (client secret, Apple private key) as sealed JSON; null when the provider has none. */
    secretId: text("secret_id"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("identity_providers_app_provider").on(t.appId, t.provider)],
);

/** One person at one provider (`provider`, `subject`) mapped to one end user; kept when the provider config goes. */
export const federatedIdentities = sqliteTable(
  "federated_identities",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    subject: text("subject").notNull(),
    /** The email the provider last asserted, and whether it said it was verified. */
    email: text("email"),
    emailVerified: integer("email_verified", { mode: "boolean" }).notNull().default(false),
    createdAt: ms("created_at").notNull(),
    lastUsedAt: ms("last_used_at"),
  },
  (t) => [
    uniqueIndex("federated_identities_subject").on(t.appId, t.provider, t.subject),
    index("federated_identities_user").on(t.userId),
  ],
);

/**
 * Single-use, short-lived values of federated sign-in, stored only as hashes: `state` of a redirect (bound to
 * app, provider and return_to), the `heimdall_code` a callback hands to `return_to`, a pending link, and a
 * native sign-in's consumed nonce.
 */
export const oauthGrants = sqliteTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["state", "code", "link", "nonce"] }).notNull(),
    /** SHA-256 of the value handed out. */
    valueHash: text("value_hash").notNull(),
    provider: text("provider").notNull(),
    /** `state`: where the callback sends the browser. */
    returnTo: text("return_to"),
    /** `code`/`link`: the account it stands for (a `link` is the federated identity waiting to be attached). */
    userId: text("user_id").references(() => endUsers.id, { onDelete: "cascade" }),
    /** Facts the grant carries (the identity of a `link`; the `amr` of a `code`); never a secret. */
    data: json<Record<string, unknown>>("data"),
    expiresAt: ms("expires_at").notNull(),
    consumedAt: ms("consumed_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("oauth_grants_value").on(t.kind, t.valueHash),
    index("oauth_grants_expires").on(t.expiresAt),
  ],
);

// ─── Several instances on one database (issue 20) ───────────────────────────

/** Leadership among instances sharing one database: the holder of a lease runs its jobs until `expires_at`. */
export const leases = sqliteTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  /** Bumped at every change of holder: a fencing token, so a deposed leader's late write can be told apart. */
  fencing: integer("fencing").notNull(),
  expiresAt: ms("expires_at").notNull(),
});

/** Bumped by every change that other instances' caches must drop (the fallback for a missed notification). */
export const cacheEpochs = sqliteTable("cache_epochs", {
  scope: text("scope").primaryKey(),
  version: integer("version").notNull(),
});

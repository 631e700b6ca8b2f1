/**
 * @module Drizzle schema for PostgreSQL: the mirror of `schema.ts` in `pg-core`, table for table and column
 * for column, with the same exported names, SQL names and row types; drizzle-kit generates
 * `migrations/postgres/` from it. test/unit/schema-parity.test.ts keeps the two in step, so a table or
 * column is added to both (docs/architecture.md, "Two database dialects"). What a column means is said
 * once, in `schema.ts`.
 *
 * Longer than the 450-line rule for the same reason as `schema.ts`: declarations only.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  uniqueIndex,
} from "drizzle-orm/pg-core";
import type { PolicyStatement } from "../core/principal.ts";

// Epoch milliseconds pass 2^31, so timestamps are bigint, read as JS numbers (exact up to 2^53).
const ms = (name: string) => bigint(name, { mode: "number" });
/**
 * `jsonb` whose values reach Bun's client as they are: drizzle's own `jsonb` stringifies them first, and the
 * client then stores that string as a JSON string (`jsonb_typeof` = 'string') rather than the object.
 */
const jsonbValue = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => "jsonb",
  toDriver: (value) => value,
  fromDriver: (value) => value,
});
const json = <T>(name: string) => jsonbValue(name).$type<T>();

/**
 * JSON kept as the exact text it was written as, where those bytes matter: an audit row's `details` are hashed
 * into its chain, and jsonb would hand the keys back in its own order (so a row copied from SQLite, hashed with
 * the keys in insertion order, would no longer verify).
 */
const jsonText = customType<{ data: unknown; driverData: string | null }>({
  dataType: () => "text",
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => (value === null ? null : JSON.parse(value)),
});

// ─── Platform subset (docs/decisions.md) ────────────────────────────────────

export const workspaces = pgTable("workspaces", {
  id: text("id").primaryKey(),
  slug: text("slug").notNull().unique(),
  displayName: text("display_name").notNull(),
  status: text("status").notNull().default("active"),
  settings: json<Record<string, unknown>>("settings").notNull().default(sql`'{}'::jsonb`),
  createdBy: text("created_by").notNull(),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const platformUsers = pgTable("platform_users", {
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

export const workspaceMembers = pgTable(
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

export const platformSessions = pgTable(
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

export const workspacePolicies = pgTable(
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

export const paks = pgTable(
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
    expiresAt: ms("expires_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("paks_ws").on(t.workspaceId, t.createdAt)],
);

export const pakPolicies = pgTable(
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

export const vaultSecrets = pgTable("vault_secrets", {
  id: text("id").primaryKey(),
  aad: text("aad").notNull(),
  kekId: text("kek_id").notNull(),
  wrappedDek: text("wrapped_dek").notNull(),
  dekNonce: text("dek_nonce").notNull(),
  dataNonce: text("data_nonce").notNull(),
  ciphertext: text("ciphertext").notNull(),
  createdAt: ms("created_at").notNull(),
});

// ─── Apps ───────────────────────────────────────────────────────────────────

export const apps = pgTable(
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
    metadata: json<Record<string, unknown>>("metadata").notNull().default(sql`'{}'::jsonb`),
    createdBy: text("created_by").notNull(),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("apps_ws_created").on(t.workspaceId, t.createdAt, t.id)],
);

export const appSlugAliases = pgTable(
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

export const authConfigs = pgTable("auth_configs", {
  appId: text("app_id")
    .primaryKey()
    .references(() => apps.id, { onDelete: "cascade" }),
  config: json<Record<string, unknown>>("config").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const signingKeys = pgTable(
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
    publicJwk: json<{ kty: string; n?: string; e?: string; crv?: string; x?: string; y?: string }>(
      "public_jwk",
    ).notNull(),
    vaultSecretId: text("vault_secret_id").references(() => vaultSecrets.id),
    createdAt: ms("created_at").notNull(),
    activatesAt: ms("activates_at").notNull(),
    rotatedAt: ms("rotated_at"),
    retireAt: ms("retire_at"),
    retiredAt: ms("retired_at"),
  },
  (t) => [index("signing_keys_app_state").on(t.appId, t.state)],
);

// ─── Audit (docs/architecture.md, "Audit") ────────────────────────────────

export const auditLog = pgTable(
  "audit_log",
  {
    seq: bigint("seq", { mode: "number" }).primaryKey().generatedByDefaultAsIdentity(),
    id: text("id").notNull().unique(),
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
    details: jsonText("details").$type<Record<string, unknown>>(),
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
    index("audit_log_app_resource_seq").on(t.appId, t.resourceId, t.seq),
    index("audit_log_chain_seq").on(t.chain, t.seq),
  ],
);

export const auditAnchors = pgTable("audit_anchors", {
  chain: text("chain").primaryKey(),
  prunedThroughSeq: bigint("pruned_through_seq", { mode: "number" }).notNull(),
  hash: text("hash").notNull(),
  prunedCount: bigint("pruned_count", { mode: "number" }).notNull(),
  updatedAt: ms("updated_at").notNull(),
});

// ─── Multi-factor authentication ───────────────────────────────────────────

export const mfaFactors = pgTable(
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
    secretId: text("secret_id")
      .notNull()
      .references(() => vaultSecrets.id),
    enabledAt: ms("enabled_at"),
    lastUsedStep: integer("last_used_step"),
    lastUsedAt: ms("last_used_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("mfa_factors_user").on(t.userId, t.createdAt)],
);

export const mfaRecoveryCodes = pgTable(
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

export const mfaChallenges = pgTable(
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
    purpose: text("purpose", { enum: ["signin", "enroll"] }).notNull(),
    tenantId: text("tenant_id"),
    firstFactorAmr: json<string[]>("first_factor_amr"),
    attempts: integer("attempts").notNull().default(0),
    expiresAt: ms("expires_at").notNull(),
    consumedAt: ms("consumed_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("mfa_challenges_user").on(t.userId)],
);

// ─── Domain events (outbox) ─────────────────────────────────────────────────

export const events = pgTable(
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

export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
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

export const serverSecrets = pgTable("server_secrets", {
  name: text("name").primaryKey(),
  vaultSecretId: text("vault_secret_id")
    .notNull()
    .references(() => vaultSecrets.id),
  createdAt: ms("created_at").notNull(),
});

// ─── End users (Consumer API) ───────────────────────────────────────────────

export const endUsers = pgTable(
  "end_users",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    username: text("username").notNull(),
    displayName: text("display_name"),
    passwordHash: text("password_hash"),
    status: text("status", { enum: ["active", "suspended", "deactivated"] })
      .notNull()
      .default("active"),
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
    index("end_users_app_role").on(t.appId, t.role),
  ],
);

export const endUserContacts = pgTable(
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
    value: text("value").notNull(),
    isPrimary: boolean("is_primary").notNull().default(false),
    verifiedAt: ms("verified_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [
    uniqueIndex("end_user_contacts_app_value").on(t.appId, t.type, t.value),
    index("end_user_contacts_user").on(t.userId),
  ],
);

export const endUserSessions = pgTable(
  "end_user_sessions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    userId: text("user_id")
      .notNull()
      .references(() => endUsers.id, { onDelete: "cascade" }),
    refreshHash: text("refresh_hash").notNull(),
    prevRefreshHash: text("prev_refresh_hash"),
    prevRotatedAt: ms("prev_rotated_at"),
    amr: json<string[]>("amr").notNull(),
    ip: text("ip"),
    userAgent: text("user_agent"),
    createdAt: ms("created_at").notNull(),
    authenticatedAt: ms("authenticated_at"),
    expiresAt: ms("expires_at").notNull(),
    lastUsedAt: ms("last_used_at"),
    revokedAt: ms("revoked_at"),
    revokeReason: text("revoke_reason"),
    mfaAt: ms("mfa_at"),
    tenantId: text("tenant_id").references(() => tenants.id, { onDelete: "set null" }),
  },
  (t) => [
    index("end_user_sessions_user").on(t.userId, t.revokedAt),
    index("end_user_sessions_app").on(t.appId),
  ],
);

export const endUserRefreshTokens = pgTable(
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

export const oneTimeCodes = pgTable(
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

export const rateLimits = pgTable("rate_limits", {
  key: text("key").primaryKey(),
  windowStart: ms("window_start").notNull(),
  count: integer("count").notNull(),
});

export const notificationSettings = pgTable("notification_settings", {
  appId: text("app_id")
    .primaryKey()
    .references(() => apps.id, { onDelete: "cascade" }),
  notificationsViaEnvoi: boolean("notifications_via_envoi").notNull().default(false),
  defaultSenderAddress: text("default_sender_address"),
  verificationTemplateName: text("verification_template_name"),
  welcomeTemplateName: text("welcome_template_name"),
  passwordResetTemplateName: text("password_reset_template_name"),
  webOrigin: text("web_origin"),
  createdAt: ms("created_at").notNull(),
  updatedAt: ms("updated_at").notNull(),
});

export const emailOutbox = pgTable(
  "email_outbox",
  {
    id: text("id").primaryKey(),
    appId: text("app_id"),
    to: text("to").notNull(),
    from: text("from").notNull(),
    subject: text("subject").notNull(),
    text: text("text").notNull(),
    html: text("html"),
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

export const m2mClients = pgTable(
  "m2m_clients",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    clientId: text("client_id").notNull().unique(),
    name: text("name").notNull(),
    secretHash: text("secret_hash").notNull(),
    prevSecretHash: text("prev_secret_hash"),
    prevSecretExpiresAt: ms("prev_secret_expires_at"),
    isActive: boolean("is_active").notNull().default(true),
    scopes: json<string[]>("scopes").notNull(),
    lastUsedAt: ms("last_used_at"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [index("m2m_clients_app_created").on(t.appId, t.createdAt, t.id)],
);

export const appApiKeys = pgTable(
  "app_api_keys",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    keyPrefix: text("key_prefix").notNull(),
    keyHash: text("key_hash").notNull().unique(),
    permissions: json<string[]>("permissions").notNull(),
    lastUsedAt: ms("last_used_at"),
    expiresAt: ms("expires_at"),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [index("app_api_keys_app_created").on(t.appId, t.createdAt, t.id)],
);

// ─── Roles and permissions (RBAC) ───────────────────────────────────────────

export const permissions = pgTable(
  "permissions",
  {
    id: text("id").primaryKey(),
    appId: text("app_id").references(() => apps.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    resource: text("resource").notNull(),
    action: text("action").notNull(),
    description: text("description"),
    isSystem: boolean("is_system").notNull().default(false),
    createdAt: ms("created_at").notNull(),
  },
  (t) => [uniqueIndex("permissions_app_key").on(t.appId, t.key), index("permissions_key").on(t.key)],
);

export const roles = pgTable(
  "roles",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    isSystem: boolean("is_system").notNull().default(false),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("roles_app_name").on(t.appId, t.name)],
);

export const rolePermissions = pgTable(
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

export const tenants = pgTable(
  "tenants",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    displayId: text("display_id").notNull(),
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

export const tenantMembers = pgTable(
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
    role: text("role").notNull(),
    invitedBy: text("invited_by"),
    joinedAt: ms("joined_at").notNull(),
  },
  (t) => [
    uniqueIndex("tenant_members_tenant_user").on(t.tenantId, t.userId),
    index("tenant_members_tenant_joined").on(t.tenantId, t.joinedAt, t.id),
    index("tenant_members_user").on(t.userId),
    index("tenant_members_app_role").on(t.appId, t.role),
  ],
);

export const endUserInvites = pgTable(
  "end_user_invites",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    codeHint: text("code_hint").notNull(),
    email: text("email").notNull(),
    name: text("name"),
    role: text("role").notNull(),
    maxUses: integer("max_uses").notNull(),
    useCount: integer("use_count").notNull().default(0),
    expiresAt: ms("expires_at").notNull(),
    revokedAt: ms("revoked_at"),
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

export const webhookConfigs = pgTable(
  "webhook_configs",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    eventTypes: json<string[]>("event_types").notNull(),
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

export const webhookDeliveries = pgTable(
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

export const webhookAttempts = pgTable(
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
    responseBody: text("response_body"),
    attemptedAt: ms("attempted_at").notNull(),
  },
  (t) => [index("webhook_attempts_app_attempted").on(t.appId, t.attemptedAt, t.id)],
);

// ─── Federated sign-in ──────────────────────────────────────────────────────

export const identityProviders = pgTable(
  "identity_providers",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    provider: text("provider").notNull(),
    enabled: boolean("enabled").notNull().default(false),
    config: json<Record<string, unknown>>("config").notNull(),
    secretId: text("secret_id"),
    createdAt: ms("created_at").notNull(),
    updatedAt: ms("updated_at").notNull(),
  },
  (t) => [uniqueIndex("identity_providers_app_provider").on(t.appId, t.provider)],
);

export const federatedIdentities = pgTable(
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
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    createdAt: ms("created_at").notNull(),
    lastUsedAt: ms("last_used_at"),
  },
  (t) => [
    uniqueIndex("federated_identities_subject").on(t.appId, t.provider, t.subject),
    index("federated_identities_user").on(t.userId),
  ],
);

export const oauthGrants = pgTable(
  "oauth_grants",
  {
    id: text("id").primaryKey(),
    appId: text("app_id")
      .notNull()
      .references(() => apps.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["state", "code", "link", "nonce"] }).notNull(),
    valueHash: text("value_hash").notNull(),
    provider: text("provider").notNull(),
    returnTo: text("return_to"),
    userId: text("user_id").references(() => endUsers.id, { onDelete: "cascade" }),
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
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  /** Bumped at every change of holder: a fencing token, so a deposed leader's late write can be told apart. */
  fencing: integer("fencing").notNull(),
  expiresAt: ms("expires_at").notNull(),
});

/** Bumped by every change that other instances' caches must drop (the fallback for a missed notification). */
export const cacheEpochs = pgTable("cache_epochs", {
  scope: text("scope").primaryKey(),
  version: integer("version").notNull(),
});

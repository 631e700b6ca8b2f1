/** @module The OpenAPI document's own component schemas (the appliance additions' zod models) and the wire error responses. */
import { z } from "zod";
import type { OAuthErrorCode } from "../core/errors.ts";
import { SIGNING_ALGS } from "../keys/material.ts";

/** The documented component schemas; a private registry, so nothing else registered with zod leaks in. */
const components = z.registry<{ id: string }>();
const component = <T extends z.ZodType>(id: string, schema: T): T => {
  components.add(schema, { id });
  return schema;
};

const isoDate = z.iso.datetime({ offset: true });

/** The appliance's key listing (`GET /v1/apps/{app_id}/keys`): metadata only, never key material. */
export const signingKeySchema = component(
  "SigningKey",
  z.strictObject({
    kid: z.string(),
    alg: z.enum(SIGNING_ALGS),
    state: z.enum(["next", "active", "retiring", "retired"]),
    created_at: isoDate,
    activates_at: isoDate.meta({
      description: "When a next key starts signing; when an active key started.",
    }),
    rotated_at: isoDate.nullable().meta({ description: "When the key stopped signing." }),
    retire_at: isoDate.nullable().meta({ description: "When a retiring key leaves the JWKS." }),
    retired_at: isoDate.nullable(),
  }),
);

export const signingKeyListSchema = component(
  "SigningKeyList",
  z.strictObject({ data: z.array(signingKeySchema) }),
);

export const keyRotationSchema = component(
  "KeyRotation",
  z.strictObject({
    old_kid: z.string().nullable().meta({ description: "The key that stopped signing." }),
    new_kid: z.string().meta({ description: "The key that signs from now on." }),
    next_kid: z.string().nullable().meta({ description: "The freshly pre-published successor." }),
    emergency: z
      .boolean()
      .meta({ description: "True when the old key was withdrawn from the JWKS at once." }),
    new_key_published_at: isoDate.meta({
      description:
        "When the key that signs from now on entered the JWKS: at least 2 h ago for a non-emergency rotation.",
    }),
    warning: z.string().nullable().meta({
      description:
        "Emergency rotations only: what verifier caches (JWKS max-age 1 h) may still get wrong until they refetch (accepting the withdrawn key's tokens; rejecting new tokens signed by a recently published key). Null otherwise.",
    }),
    keys: z.array(signingKeySchema).meta({ description: "The app's keys after the rotation." }),
  }),
);

export const keyRotationRequestSchema = component(
  "KeyRotationRequest",
  z.strictObject({
    emergency: z
      .boolean()
      .optional()
      .meta({ description: "Withdraw the old key from the JWKS now instead of after the overlap." }),
  }),
);

/** `POST /{app_slug}/v1/me/reauthenticate` (appliance addition). */
export const reauthenticationRequestSchema = component(
  "ReauthenticationRequest",
  z.object({ password: z.string().min(1).meta({ description: "The account's current password." }) }),
);

export const reauthenticationSchema = component(
  "Reauthentication",
  z.strictObject({
    authenticated_at: isoDate.meta({ description: "When the session proved the password, i.e. now." }),
  }),
);

/** `POST /{app_slug}/v1/auth/mfa/enroll` and `…/enroll/confirm` (appliance additions; `auth/mfa-model.ts`). */
export const mfaEnrollRequestSchema = component(
  "MfaEnrollRequest",
  z.object({
    mfa_token: z
      .string()
      .meta({ description: "The `mfa_token` of a sign-in answered with `enrollment_required: true`." }),
    label: z.string().max(64).optional(),
  }),
);

export const mfaEnrollStartSchema = component(
  "MfaEnrollStart",
  z.object({
    factor: z.object({
      id: z.string(),
      type: z.string(),
      label: z.string().nullable(),
      enabled: z.boolean(),
      created_at: isoDate,
      enabled_at: isoDate.nullable(),
    }),
    enrollment: z.object({
      otpauth_uri: z.string(),
      secret: z.string().meta({ description: "The TOTP secret in Base32." }),
      qr_data_url: z.string(),
      algorithm: z.string(),
      digits: z.int(),
      period: z.int(),
    }),
  }),
);

export const mfaEnrollConfirmRequestSchema = component(
  "MfaEnrollConfirmRequest",
  z.object({
    mfa_token: z.string(),
    factor_id: z.string(),
    codes: z.array(z.string()).length(2).meta({ description: "Two consecutive 6-digit TOTP codes." }),
  }),
);

/** `POST /{app_slug}/v1/auth/oauth/link` (appliance addition; `federation/model.ts`). */
export const federatedLinkRequestSchema = component(
  "FederatedLinkRequest",
  z.object({
    link_token: z.string().min(16).max(256).meta({
      description: "The `link_token` of a 409 `link_required` (or `heimdall_link` of its redirect).",
    }),
  }),
);

export const federatedLinkSchema = component(
  "FederatedLink",
  z.strictObject({
    provider: z.enum(["apple", "google", "github", "oidc"]),
    linked: z.literal(true),
  }),
);

export const mfaEnrollTokensSchema = component(
  "MfaEnrollTokens",
  z.object({
    access_token: z.string(),
    refresh_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number(),
    recovery_codes: z.array(z.string()).meta({ description: "Shown once: 10 single-use recovery codes." }),
  }),
);

/** The wire error of every route but the token endpoint (docs/architecture.md, "Wire"; `http/errors.ts`). */
export const errorSchema = component(
  "Error",
  z.object({
    statusCode: z.int().min(400).max(599),
    code: z
      .string()
      .regex(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/)
      .meta({ description: "Stable UPPER_SNAKE code." }),
    message: z.string(),
    details: z
      .array(z.object({ field: z.string(), reason: z.string() }))
      .optional()
      .meta({ description: "Only on 400 VALIDATION_ERROR: one entry per refused field." }),
    request_id: z.string().min(1),
  }),
);

/** The token endpoint's errors (RFC 6749 §5.2). */
export const oauthErrorSchema = component(
  "OAuthError",
  z.object({
    error: z.enum([
      "invalid_request",
      "invalid_client",
      "unauthorized_client",
      "unsupported_grant_type",
      "invalid_scope",
      "invalid_target",
      "temporarily_unavailable",
    ] satisfies OAuthErrorCode[]),
    error_description: z.string().optional(),
  }),
);

/**
 * Introspection's RFC 7662 §2.1 form: the token, and for `client_secret_post` the client's credentials
 * (with `client_secret_basic` they ride in the Authorization header instead).
 */
export const introspectFormSchema = component(
  "IntrospectForm",
  z.object({
    token: z.string().optional(),
    token_type_hint: z.string().optional(),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
  }),
);

/** One row of `GET /v1/apps/{app_id}/outbox` (`email/model.ts`, `OutboxEntryDto`). */
const outboxEntrySchema = component(
  "OutboxEntry",
  z.strictObject({
    id: z.string(),
    to: z.string(),
    from: z.string(),
    subject: z.string(),
    text: z.string().meta({ description: "The message with any code masked." }),
    status: z.enum(["pending", "sent", "failed"]),
    attempts: z.int().min(0),
    created_at: isoDate,
    sent_at: isoDate.nullable(),
    last_error: z.string().nullable(),
    delivered_text: z.string().nullable().meta({
      description:
        "`EMAIL_MODE=log` only: the text as delivered, codes and links in clear, kept in memory for an hour (the console's dev inbox); null in SMTP mode.",
    }),
  }),
);

/** `GET /v1/apps/{app_id}/audit-logs/verify` (`audit/reader.ts`, `AuditChainStatusDto`). */
export const auditChainStatusSchema = component(
  "AuditChainStatus",
  z.strictObject({
    ok: z.boolean(),
    rows: z.int().min(0).nullable().meta({ description: "Rows walked; null when the chain is broken." }),
    pruned: z.int().min(0).nullable().meta({ description: "Rows retention removed before the anchor." }),
    first_break: z.strictObject({ seq: z.int(), reason: z.string() }).nullable(),
  }),
);

export const outboxPageSchema = component(
  "OutboxPage",
  z.strictObject({
    data: z.array(outboxEntrySchema),
    pagination: z.strictObject({ has_more: z.boolean(), next_cursor: z.string().nullable() }),
  }),
);

/** `POST /v1/apps/{app_id}/webhook/replay` (appliance addition); the route validates with this schema. */
export const webhookReplayRequestSchema = component(
  "WebhookReplayRequest",
  z.strictObject({
    since: z
      .string()
      .min(1)
      .max(64)
      .meta({ description: "ISO 8601 date-time; events from then on are queued again." }),
    event_types: z
      .array(z.string())
      .max(64)
      .optional()
      .meta({ description: "Only these types (default: the types the webhook subscribes to)." }),
  }),
);

export const webhookReplaySchema = component(
  "WebhookReplay",
  z.strictObject({ queued: z.number().int().meta({ description: "Deliveries queued." }) }),
);

/** An end user's live sessions (`GET /v1/apps/{app_id}/end-users/{user_id}/sessions`, appliance addition). */
export const endUserSessionSchema = component(
  "EndUserSession",
  z.strictObject({
    id: z.string(),
    created_at: isoDate,
    last_used_at: isoDate.nullable(),
    expires_at: isoDate,
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    amr: z.array(z.string()).meta({ description: "How the session was authenticated (`pwd`, `totp`, …)." }),
    tenant_id: z
      .string()
      .nullable()
      .meta({ description: "The tenant the session acts in; null for app scope." }),
  }),
);

export const endUserSessionListSchema = component(
  "EndUserSessionList",
  z.strictObject({ data: z.array(endUserSessionSchema) }),
);

/** An end user's tenant memberships (`GET …/end-users/{user_id}/tenants`, appliance addition). */
export const endUserTenantSchema = component(
  "EndUserTenant",
  z.strictObject({
    tenant_id: z.string(),
    display_id: z.string(),
    tenant_slug: z.string(),
    display_name: z.string(),
    tenant_status: z.enum(["active", "suspended", "archived"]),
    role_name: z.string(),
    joined_at: isoDate,
  }),
);

export const endUserTenantListSchema = component(
  "EndUserTenantList",
  z.strictObject({ data: z.array(endUserTenantSchema) }),
);

/** An end user's MFA factors (`GET …/end-users/{user_id}/factors`, appliance addition): metadata, never secrets. */
export const endUserFactorSchema = component(
  "EndUserFactor",
  z.strictObject({
    id: z.string(),
    type: z.string(),
    label: z.string().nullable(),
    enabled: z.boolean().meta({ description: "False while an enrolment is pending confirmation." }),
    created_at: isoDate,
    enabled_at: isoDate.nullable(),
  }),
);

export const endUserFactorListSchema = component(
  "EndUserFactorList",
  z.strictObject({ data: z.array(endUserFactorSchema) }),
);

export const healthSchema = component("Health", z.object({ status: z.literal("ok") }));
export const readinessSchema = component(
  "Readiness",
  z.object({
    status: z.enum(["ready", "unavailable"]),
    checks: z.object({ db: z.enum(["ok", "failed"]), keys: z.enum(["ok", "failed"]) }),
    reasons: z
      .object({ db: z.string().optional(), keys: z.string().optional() })
      .optional()
      .meta({ description: "On 503: a short reason per failed check (no secrets, ids or paths)." }),
  }),
);

export const ref = (schema: z.ZodType) => ({ $ref: `#/components/schemas/${components.get(schema)!.id}` });
export const jsonContent = (schema: z.ZodType) => ({
  content: { "application/json": { schema: ref(schema) } },
});

/** The registry as OpenAPI components: refs point into `components.schemas`, date-times keep only `format`. */
export function componentSchemas(): Record<string, unknown> {
  const { schemas } = z.toJSONSchema(components, {
    target: "draft-2020-12",
    uri: (id) => `#/components/schemas/${id}`,
    override: ({ jsonSchema }) => {
      if (jsonSchema.format === "date-time") delete jsonSchema.pattern;
    },
  });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, { $schema: _s, $id: _i, ...schema }]) => [id, schema]),
  );
}

export const ERROR_RESPONSES = {
  "4XX": { description: "Client error", ...jsonContent(errorSchema) },
  "5XX": { description: "Server error", ...jsonContent(errorSchema) },
};

export type Security = Record<string, string[]>[];

export interface OperationDoc {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  security?: Security;
  parameters?: unknown[];
  requestBody?: unknown;
  responses?: Record<string, unknown>;
  [extension: `x-${string}`]: unknown;
}

/** The error responses of an operation: the wire error everywhere, RFC 6749's at the token endpoint. */
export function errorResponses(statuses: string[], token: boolean) {
  const body = token
    ? { content: { "application/json": { schema: { anyOf: [ref(oauthErrorSchema), ref(errorSchema)] } } } }
    : jsonContent(errorSchema);
  const out: Record<string, unknown> = {};
  for (const status of statuses) out[status] = { description: `Error ${status}`, ...body };
  return {
    ...out,
    "4XX": { description: "Client error", ...body },
    "5XX": { description: "Server error", ...body },
  };
}

/** @module The appliance-only routes' OpenAPI entries (`KNOWN`): what the contract does not describe, from their zod models. */
import {
  auditChainStatusSchema,
  ERROR_RESPONSES,
  endUserFactorListSchema,
  endUserSessionListSchema,
  endUserTenantListSchema,
  errorSchema,
  federatedLinkRequestSchema,
  federatedLinkSchema,
  healthSchema,
  jsonContent,
  keyRotationRequestSchema,
  keyRotationSchema,
  mfaEnrollConfirmRequestSchema,
  mfaEnrollRequestSchema,
  mfaEnrollStartSchema,
  mfaEnrollTokensSchema,
  type OperationDoc,
  outboxPageSchema,
  readinessSchema,
  reauthenticationRequestSchema,
  reauthenticationSchema,
  signingKeyListSchema,
  webhookReplayRequestSchema,
  webhookReplaySchema,
} from "./openapi-schemas.ts";

/** What this appliance documents itself, keyed `METHOD path`; everything else is described generically. */
export const KNOWN: Record<string, OperationDoc> = {
  "GET /healthz": {
    operationId: "getHealth",
    summary: "Liveness: the process is up",
    security: [],
    responses: { "200": { description: "Alive", ...jsonContent(healthSchema) } },
  },
  "GET /readyz": {
    operationId: "getReadiness",
    summary:
      "Readiness: the database reads and takes writes, every active app's signing key opens, and the master key opens every stored secret",
    security: [],
    responses: {
      "200": { description: "Ready", ...jsonContent(readinessSchema) },
      "503": { description: "A check failed", ...jsonContent(readinessSchema) },
    },
  },
  "GET /metrics": {
    operationId: "getMetrics",
    summary: "Prometheus metrics (text exposition format 0.0.4)",
    security: [],
    responses: {
      "200": { description: "Metrics", content: { "text/plain": { schema: { type: "string" } } } },
    },
  },
  "GET /openapi.json": {
    operationId: "getOpenApi",
    summary: "This document",
    security: [],
    responses: {
      "200": {
        description: "OpenAPI 3.1 document",
        content: { "application/json": { schema: { type: "object" } } },
      },
    },
  },
  "GET /v1/apps/{app_id}/stats": {
    operationId: "getAppStats",
    summary: "One app's live figures (appliance addition)",
    description:
      "Counts for the console's overview: end users, live sessions (not revoked, not expired), and sign-ins that succeeded and failed in the last 24 hours (counted from the audit log, so within its retention). Read-only; no audit row. Policy action: `heimdall.read`.",
    responses: {
      "200": {
        description: "The figures",
        content: {
          "application/json": {
            schema: {
              type: "object",
              properties: {
                end_users: { type: "integer", minimum: 0 },
                active_sessions: { type: "integer", minimum: 0 },
                sign_ins_24h: { type: "integer", minimum: 0 },
                failed_sign_ins_24h: { type: "integer", minimum: 0 },
              },
              required: ["end_users", "active_sessions", "sign_ins_24h", "failed_sign_ins_24h"],
              additionalProperties: false,
            },
          },
        },
      },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/keys": {
    operationId: "listAppSigningKeys",
    summary: "List the app's signing keys (appliance addition)",
    description:
      "Key metadata and rotation schedule, newest first. Public key material is in the app's JWKS; private keys never leave the vault. Policy action: `heimdall.read`.",
    responses: {
      "200": { description: "The app's keys", ...jsonContent(signingKeyListSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /v1/apps/{app_id}/keys/rotate": {
    operationId: "rotateAppSigningKey",
    summary: "Rotate the app's signing key now (appliance addition)",
    description:
      "The pre-published next key starts signing and a new next key is published. A rotation without `emergency` never promotes a next key published less than 2 h ago (verifiers cache the JWKS for 1 h): it is refused with 409 `ROTATION_TOO_SOON` and changes nothing (when the app had no next key, one is published first), `Retry-After` and the message saying when it becomes possible. With `emergency: true` it happens at once whatever the next key's age, and the old key leaves the JWKS immediately instead of staying published for the overlap period; `warning` says what verifier caches may still miss. Audited as `app.key_rotated`. Policy action: `heimdall.rotate-secret`.",
    requestBody: { required: false, ...jsonContent(keyRotationRequestSchema) },
    responses: {
      "200": { description: "Rotation result", ...jsonContent(keyRotationSchema) },
      "409": {
        description:
          "`ROTATION_TOO_SOON`: the next key has not been published for 2 h yet; nothing was rotated. The message names the time from which a rotation is possible.",
        headers: {
          "Retry-After": {
            description: "Seconds until a non-emergency rotation becomes possible.",
            schema: { type: "integer", minimum: 1 },
          },
        },
        ...jsonContent(errorSchema),
      },
      ...ERROR_RESPONSES,
    },
  },
  "POST /v1/apps/{app_id}/webhook/replay": {
    operationId: "replayAppWebhook",
    summary: "Queue the app's past events for delivery again (appliance addition)",
    description:
      "Events since `since` (kept 30 days) are delivered again to the current webhook, signed with its current secret and keeping their ids (receivers deduplicate on `webhook-id`). 404 `WEBHOOK_NOT_FOUND` without a webhook; 409 `WEBHOOK_DISABLED` while it is auto-disabled (`PUT` it first). Audited as `webhook.replayed`. Policy action: `heimdall.update`.",
    requestBody: { required: true, ...jsonContent(webhookReplayRequestSchema) },
    responses: {
      "200": { description: "How many deliveries were queued", ...jsonContent(webhookReplaySchema) },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/audit-logs/verify": {
    operationId: "verifyAppAuditChain",
    summary: "Verify the app's audit hash chain (appliance addition)",
    description:
      "Walks the app's audit rows from the retention anchor, checking each row's hash and its link to the one before — what `heimdall audit verify` does for every chain. Answers 200 either way: `ok` with the counts, or the first break (`seq`, `reason`). Read-only; no audit row. Policy action: `heimdall.audit.read`.",
    responses: {
      "200": { description: "The chain's state", ...jsonContent(auditChainStatusSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/outbox": {
    operationId: "listAppOutbox",
    parameters: [
      { name: "limit", in: "query", required: false, schema: { type: "string" } },
      { name: "cursor", in: "query", required: false, schema: { type: "string" } },
    ],
    responses: {
      "200": { description: "One page of the app's messages", ...jsonContent(outboxPageSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/end-users/{user_id}/sessions": {
    operationId: "listEndUserSessions",
    summary: "An end user's live sessions (appliance addition)",
    description:
      "Sessions neither revoked nor expired, newest first; capped by the app's `max_sessions`, so one unpaged list. No token or token hash is ever shown. Read-only; no audit row. 404 `USER_NOT_FOUND` for an account of another app. Policy action: `heimdall.read`.",
    responses: {
      "200": { description: "The live sessions", ...jsonContent(endUserSessionListSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "DELETE /v1/apps/{app_id}/end-users/{user_id}/sessions/{session_id}": {
    operationId: "revokeEndUserSession",
    summary: "End one of an end user's sessions (appliance addition)",
    description:
      "Its refresh token stops working and its access tokens fail every Heimdall check at once. Another account's session, an ended one or an unknown id is 404 `SESSION_NOT_FOUND`. Allowed on an archived app (it takes access away). Audited as `session.revoked` (`reason: admin_revoked`). Policy action: `heimdall.update`.",
    responses: { "204": { description: "Ended" }, ...ERROR_RESPONSES },
  },
  "GET /v1/apps/{app_id}/end-users/{user_id}/tenants": {
    operationId: "listEndUserTenants",
    summary: "An end user's tenant memberships (appliance addition)",
    description:
      "Every tenant the account belongs to, whatever the tenant's status, oldest membership first, with the account's role there. Read-only; no audit row. Policy action: `heimdall.read`.",
    responses: {
      "200": { description: "The memberships", ...jsonContent(endUserTenantListSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "GET /v1/apps/{app_id}/end-users/{user_id}/factors": {
    operationId: "listEndUserFactors",
    summary: "An end user's MFA factors (appliance addition)",
    description:
      "The factors the Consumer admin lane's `GET /{app_slug}/v1/users/{user_id}/factors` lists: type, label, whether enabled, dates. Never a secret, a QR code or a recovery code. Read-only; no audit row. Policy action: `heimdall.read`.",
    responses: {
      "200": { description: "The factors", ...jsonContent(endUserFactorListSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /v1/apps/{app_id}/end-users/{user_id}/password-reset": {
    operationId: "sendEndUserPasswordReset",
    summary: "Email the end user a password-reset code (appliance addition)",
    description:
      "The same flow as `POST /{app_slug}/v1/auth/send-password-reset-email`: a fresh code (the previous one is superseded) emailed to the account's primary address, counted against the address's email allowance (429 `RATE_LIMITED`), audited as `code.issued` (`purpose: password_reset`, `delivery: email`). The code is never in the response. The address must be verified (409 `CONTACT_NOT_VERIFIED`; none at all is 404 `CONTACT_NOT_FOUND`) and the account active (403 `ACCOUNT_SUSPENDED`); the app must send email (its email errors as on the Consumer route). Policy actions: `heimdall.update` and `heimdall.user.password-reset.send-email`.",
    responses: {
      "204": { description: "Queued and sent (or left to the outbox's retries)" },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/me/reauthenticate": {
    operationId: "reauthenticateMe",
    summary: "Confirm the password to renew the session's authentication time (appliance addition)",
    description:
      "Promoting a contact to primary, changing the password and deleting a verified contact need the session to have proved the password within the last 10 minutes (at sign-in or here); otherwise they answer 403 `REAUTHENTICATION_REQUIRED`. A wrong password is 401 `INVALID_CREDENTIALS`, counted per account (shared with change-password) and per client address; past the limit 429 `RATE_LIMITED`. A refresh does not renew the time. Audited as `session.reauthenticated` / `session.reauthentication_failed`.",
    requestBody: { required: true, ...jsonContent(reauthenticationRequestSchema) },
    responses: {
      "200": { description: "The session's new authentication time", ...jsonContent(reauthenticationSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/auth/mfa/enroll": {
    operationId: "mfaEnrollAtSignin",
    summary: "Start the TOTP enrolment a required-MFA sign-in allows (appliance addition)",
    description:
      "When the app requires MFA (`mfa_required`, or the account's role in `mfa_required_roles`) and the account has no enabled factor, a correct password answers the challenge with `factors: []` and `enrollment_required: true`. Its `mfa_token` starts a pending TOTP factor here (the secret, the otpauth URI and a QR code), then `POST …/auth/mfa/enroll/confirm` enables it and completes the sign-in. A dead, expired or foreign token is 401 `MFA_TOKEN_INVALID`.",
    requestBody: { required: true, ...jsonContent(mfaEnrollRequestSchema) },
    responses: {
      "201": {
        description: "The pending factor and its enrolment data",
        ...jsonContent(mfaEnrollStartSchema),
      },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/auth/mfa/enroll/confirm": {
    operationId: "mfaEnrollConfirmAtSignin",
    summary: "Confirm the enrolment with two consecutive codes and finish the sign-in (appliance addition)",
    description:
      'Enables the factor and answers the token pair (`amr` `["pwd","totp"]`, `mfa_at` now) with the recovery codes, shown once. Wrong codes are 400 `MFA_ENROLLMENT_CODES_INVALID` and count against the challenge (five kill it: 429 `MFA_LOCKED`).',
    requestBody: { required: true, ...jsonContent(mfaEnrollConfirmRequestSchema) },
    responses: {
      "200": { description: "Tokens and the recovery codes", ...jsonContent(mfaEnrollTokensSchema) },
      ...ERROR_RESPONSES,
    },
  },
  "POST /{app_slug}/v1/auth/oauth/link": {
    operationId: "linkFederatedIdentity",
    summary: "Attach a provider identity to the signed-in account (appliance addition)",
    description:
      "Completes a federated sign-in that answered 409 `link_required` (the app's `oauth_link_policy` is `confirm`): sign in with the account's password, then send the `link_token` from that answer with the EndUser access token. Only the account that holds the identity's verified email may complete it (403 `LINK_EMAIL_MISMATCH`); an unknown, used, expired (10 min) or foreign token is 400 `LINK_TOKEN_INVALID`; an identity already on another account is 409 `IDENTITY_LINKED_ELSEWHERE`. The next federated sign-in with that identity opens this account. Audited as `user.identity_linked`.",
    requestBody: { required: true, ...jsonContent(federatedLinkRequestSchema) },
    responses: {
      "200": { description: "The identity is linked", ...jsonContent(federatedLinkSchema) },
      ...ERROR_RESPONSES,
    },
  },
};

/**
 * @module The error catalogue: every code the API answers with, its one status and its default message.
 *
 * A code means one thing on every route, so it has exactly one status; a refusal that needs another
 * status is another code. `fail(code)` in `core/errors.ts` builds the error from here, and the test in
 * test/unit/error-catalogue.test.ts fails when a code is missing here or from docs/errors.md. RFC 6749
 * `error` values of the token endpoint are not API codes: they are `OAuthErrorCode` in `core/errors.ts`.
 */

interface CatalogueEntry {
  readonly status: number;
  readonly message: string;
}

export const ERROR_CATALOGUE = {
  // ─── Requests the server cannot read ─────────────────────────────────────────
  UNKNOWN_PROVIDER: { status: 400, message: "Unknown sign-in provider" },
  RETURN_TO_NOT_ALLOWED: {
    status: 400,
    message: "return_to must be an absolute URL whose origin is in the app's allowed_redirect_origins",
  },
  OAUTH_STATE_INVALID: {
    status: 400,
    message: "The sign-in state is unknown, expired, already used or not for this provider",
  },
  NATIVE_FLOW_UNSUPPORTED: { status: 400, message: "This provider signs in through the redirect flow only" },
  LINK_TOKEN_INVALID: { status: 400, message: "The link token is unknown, expired or already used" },
  VALIDATION_ERROR: { status: 400, message: "Request validation failed" },
  INVALID_JSON: { status: 400, message: "Request body is not valid JSON" },
  MFA_ENROLLMENT_CODES_INVALID: {
    status: 400,
    message: "The codes are wrong, malformed or not from two consecutive 30-second windows",
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: "Request body is too large" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "This Content-Type is not supported" },
  NOT_FOUND: { status: 404, message: "Route not found" },
  IDEMPOTENCY_KEY_REUSE: {
    status: 409,
    message: "Idempotency-Key was already used with a different request body",
  },
  IDEMPOTENCY_KEY_IN_USE: {
    status: 409,
    message: "A request with this Idempotency-Key is still in progress",
  },

  // ─── Credentials (401: the request's own credential, or one in the body) ─────
  ID_TOKEN_INVALID: {
    status: 401,
    message: "The ID token failed verification (signature, issuer, audience or expiry)",
  },
  NONCE_MISMATCH: { status: 401, message: "The ID token's nonce does not match the nonce sent" },
  NONCE_REPLAYED: { status: 401, message: "This nonce was already used" },
  OAUTH_CODE_INVALID: { status: 401, message: "The code is unknown, expired or already redeemed" },
  UNAUTHORIZED: { status: 401, message: "Authentication required" },
  INVALID_TOKEN: { status: 401, message: "The credential is invalid, expired or revoked" },
  TOKEN_EXPIRED: { status: 401, message: "Access token is invalid or expired" },
  TOKEN_REVOKED: { status: 401, message: "The session of this token has ended" },
  INVALID_CREDENTIALS: { status: 401, message: "Invalid identifier or password" },
  INVALID_REFRESH_TOKEN: { status: 401, message: "Refresh token is invalid, expired or revoked" },
  MFA_TOKEN_INVALID: { status: 401, message: "The MFA challenge is invalid, expired or already used" },
  MFA_CODE_INVALID: {
    status: 401,
    message: "The code does not match an enabled factor or unused recovery code",
  },
  // 400, not 401: the token is data to act on (platform logout's body), not the caller's credential.
  INVALID_SESSION_TOKEN: {
    status: 400,
    message: "The session token is invalid, expired or already revoked",
  },

  // ─── Refusals (403) ──────────────────────────────────────────────────────────
  OAUTH_CODE_OTHER_APP: { status: 403, message: "The code does not belong to this app" },
  LINK_EMAIL_MISMATCH: {
    status: 403,
    message: "The signed-in account does not own the email address of the identity to link",
  },
  FORBIDDEN: { status: 403, message: "The workspace role does not allow this action" },
  PERMISSION_DENIED: { status: 403, message: "The caller lacks the permission this route requires" },
  TENANT_ACCESS_DENIED: {
    status: 403,
    message:
      "The account cannot act in this tenant: it is not an active tenant of this app with the account as a member",
  },
  POLICY_DENIED: { status: 403, message: "The API key policy does not allow this action" },
  PERMISSION_GRANT_DENIED: { status: 403, message: "Cannot grant permissions you don't have" },
  GRANT_EXCEEDS_CALLER: { status: 403, message: "You cannot grant more than you hold" },
  CSRF_REJECTED: { status: 403, message: "Cross-site request rejected: Origin does not match PUBLIC_URL" },
  PAK_NOT_ALLOWED: { status: 403, message: "This operation requires a human session, not an API key" },
  REAUTHENTICATION_REQUIRED: {
    status: 403,
    message: "This change needs a recent sign-in: confirm the password (POST /me/reauthenticate), then retry",
  },
  ACCOUNT_SUSPENDED: { status: 403, message: "This account is not active" },
  APP_SUSPENDED: { status: 403, message: "This app is suspended" },
  SIGNUP_DISABLED: { status: 403, message: "Sign-up is disabled for this app" },
  SIGNUP_EMAIL_DOMAIN_NOT_ALLOWED: { status: 403, message: "Sign-up is not open to this email domain" },
  SIGNIN_DISABLED: { status: 403, message: "Sign-in is disabled for this app" },
  SYSTEM_ROLE: { status: 403, message: "A system role cannot be changed this way" },
  SYSTEM_PERMISSION: { status: 403, message: "A system permission cannot be deleted" },

  // ─── Unknown resources (404) ─────────────────────────────────────────────────
  PROVIDER_NOT_CONFIGURED: { status: 404, message: "The provider is not configured for this app" },
  WORKSPACE_NOT_FOUND: { status: 404, message: "Workspace not found" },
  ACCOUNT_NOT_FOUND: { status: 404, message: "No account for this session" },
  PAK_NOT_FOUND: { status: 404, message: "API key not found" },
  POLICY_NOT_FOUND: { status: 404, message: "Policy not found" },
  APP_NOT_FOUND: { status: 404, message: "App not found" },
  API_KEY_NOT_FOUND: { status: 404, message: "API key not found" },
  M2M_CLIENT_NOT_FOUND: { status: 404, message: "M2M client not found" },
  WEBHOOK_NOT_FOUND: { status: 404, message: "No webhook is configured for this app" },
  USER_NOT_FOUND: { status: 404, message: "End user not found in this app" },
  CONTACT_NOT_FOUND: { status: 404, message: "Contact not found" },
  SESSION_NOT_FOUND: { status: 404, message: "Session not found" },
  MFA_FACTOR_NOT_FOUND: { status: 404, message: "MFA factor not found" },
  INVITE_NOT_FOUND: { status: 404, message: "Invite not found in this app" },
  // The role a route acts on (its path, or the target of POST /roles/assign). A role named as an
  // attribute of an account (create, update, bulk, invite) is UNKNOWN_ROLE, 400 as the contract says.
  ROLE_NOT_FOUND: { status: 404, message: "No role by this name in this app" },
  PERMISSION_NOT_FOUND: { status: 404, message: "No custom permission by this key in this app" },
  SIGNING_KEYS_NOT_FOUND: { status: 404, message: "The app has no signing keys" },
  // Another app's tenant reads the same as one that does not exist.
  TENANT_NOT_FOUND: { status: 404, message: "Tenant not found in this app" },
  TENANT_MEMBER_NOT_FOUND: { status: 404, message: "The account is not a member of this tenant" },

  // ─── Bad values that pass validation (400) ───────────────────────────────────
  UNKNOWN_ROLE: { status: 400, message: "This app has no role by this name" },
  WEAK_PASSWORD: { status: 400, message: "Password does not meet the password policy" },
  INVALID_STATUS_TRANSITION: {
    status: 400,
    message: "The app cannot go to this status from its current one",
  },

  // ─── State conflicts (409) ───────────────────────────────────────────────────
  LINK_REQUIRED: {
    status: 409,
    message:
      "An account with this email exists: sign in with it, then link the provider (POST /auth/oauth/link with link_token)",
  },
  ACCOUNT_EXISTS_WITH_DIFFERENT_PROVIDER: {
    status: 409,
    message: "An account with this email exists; sign in with the method it was created with",
  },
  IDENTITY_LINKED_ELSEWHERE: {
    status: 409,
    message: "This provider identity already belongs to another account",
  },
  APP_ARCHIVED: { status: 409, message: "The app is archived and read-only" },
  SLUG_TAKEN: { status: 409, message: "This slug is already taken" },
  EMAIL_TAKEN: { status: 409, message: "This email address is already in use" },
  USERNAME_TAKEN: { status: 409, message: "This username is already taken" },
  CONTACT_TAKEN: { status: 409, message: "This contact is already in use" },
  CONTACT_LIMIT: { status: 409, message: "The account holds the most contacts it may" },
  CONTACT_ALREADY_VERIFIED: { status: 409, message: "This contact is already verified" },
  MFA_FACTOR_ALREADY_ENABLED: { status: 409, message: "This factor is already enabled" },
  MFA_NOT_ENABLED: { status: 409, message: "The account has no enabled MFA factor" },
  CONTACT_NOT_VERIFIED: {
    status: 409,
    message: "Only a verified contact can be primary; verify it, then promote it",
  },
  CONTACT_IS_PRIMARY: {
    status: 409,
    message: "The primary email cannot be deleted; promote another one first",
  },
  ROLE_EXISTS: { status: 409, message: "A role by this name already exists" },
  WEBHOOK_DISABLED: { status: 409, message: "The webhook is disabled; PUT its configuration to enable it" },
  ROLE_IN_USE: { status: 409, message: "The role is in use; reassign its users first" },
  PERMISSION_EXISTS: { status: 409, message: "This permission already exists in this app" },
  TENANT_SLUG_TAKEN: { status: 409, message: "Another tenant of this app has this slug" },
  TENANT_MEMBER_EXISTS: { status: 409, message: "The account is already a member of this tenant" },
  LAST_TENANT_OWNER: {
    status: 409,
    message: "The tenant's last owner cannot be removed or demoted; make another member owner first",
  },
  POLICY_NAME_TAKEN: { status: 409, message: "A policy by this name already exists" },
  ALREADY_BOOTSTRAPPED: {
    status: 409,
    message: "The database already has a workspace; bootstrap runs only once",
  },
  SIGNING_KEYS_EXIST: { status: 409, message: "The app already has signing keys" },
  ROTATION_TOO_SOON: {
    status: 409,
    message: "The next signing key has not been published long enough for verifier caches; retry later",
  },

  // ─── Codes that expire (410) and email preconditions (412) ───────────────────
  CODE_INVALID: { status: 410, message: "The code is invalid, expired or already used" },
  INVITE_EXPIRED: { status: 410, message: "The invite was revoked, has expired or is used up" },
  ENVOI_NOT_ENABLED: {
    status: 412,
    message:
      'Email notifications are off for this app: PATCH /v1/apps/{id}/notification-settings {"notifications_via_envoi": true}',
  },
  ENVOI_SENDER_NOT_CONFIGURED: {
    status: 412,
    message:
      'No sender address: set HEIMDALL_EMAIL_FROM, or PATCH /v1/apps/{id}/notification-settings {"default_sender_address": …}',
  },
  ENVOI_TEMPLATE_NOT_CONFIGURED: {
    status: 412,
    message:
      "The app's template for this email is not a built-in one: PATCH /v1/apps/{id}/notification-settings with the slot set to null",
  },

  // ─── Too many (429) and a client that left (499) ─────────────────────────────
  RATE_LIMITED: { status: 429, message: "Too many requests; retry later" },
  ACCOUNT_LOCKED: { status: 429, message: "Too many failed sign-ins; retry later" },
  MFA_LOCKED: { status: 429, message: "Too many wrong MFA codes; retry later" },
  TOO_MANY_REQUESTS: { status: 429, message: "Too many concurrent password checks; retry shortly" },
  CLIENT_CLOSED_REQUEST: { status: 499, message: "The client closed the connection while waiting" },

  // ─── Server side: 503s are told to clients, 500s only to the log ────────────
  PROVIDER_DISABLED: { status: 503, message: "This sign-in provider is not configured or not enabled" },
  PROVIDER_UNAVAILABLE: {
    status: 503,
    message: "The sign-in provider could not be reached or answered with an error",
  },
  REDIRECT_FLOW_UNCONFIGURED: {
    status: 503,
    message: "This provider is configured for the native flow only; its redirect flow needs a signing key",
  },
  ENVOI_NOT_WIRED: { status: 503, message: "Email is set to SMTP but no SMTP URL is configured" },
  ENVOI_DISPATCH_FAILED: { status: 503, message: "The mail server refused the message" },
  CODE_SPACE_EXHAUSTED: { status: 503, message: "Too many live codes; retry shortly" },
  INTERNAL_ERROR: { status: 500, message: "Internal server error" },
  VAULT_ERROR: { status: 500, message: "The vault cannot open a secret" },
  BACKUP_FAILED: { status: 500, message: "The backup could not be written or checked" },
  SIGNING_KEY_MISSING: { status: 500, message: "The app has no active signing key" },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * Codes whose wire spelling the contract fixes in OAuth style (lower-case): federated sign-in's 409s. The
 * catalogue keeps one UPPER_SNAKE key per code; the mapper sends this spelling instead.
 */
export const WIRE_CODES: Partial<Record<ErrorCode, string>> = {
  LINK_REQUIRED: "link_required",
  ACCOUNT_EXISTS_WITH_DIFFERENT_PROVIDER: "account_exists_with_different_provider",
};

export const isErrorCode = (code: string): code is ErrorCode => Object.hasOwn(ERROR_CATALOGUE, code);

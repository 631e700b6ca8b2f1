/** @module The wire shapes the console reads (a subset of /openapi.json's schemas, snake_case as on the wire). */

export interface App {
  readonly id: string;
  readonly slug: string;
  readonly display_name: string;
  readonly workspace_id: string;
  readonly status: "active" | "suspended" | "archived";
  readonly created_at: string;
  readonly updated_at: string;
}

export type KeyState = "next" | "active" | "retiring" | "retired";

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly state: KeyState;
  readonly created_at: string;
  readonly activates_at: string;
  readonly rotated_at: string | null;
  readonly retire_at: string | null;
  readonly retired_at: string | null;
}

export interface KeyRotation {
  readonly old_kid: string | null;
  readonly new_kid: string;
  readonly next_kid: string | null;
  readonly emergency: boolean;
  readonly warning: string | null;
  readonly keys: SigningKey[];
}

export interface AuthConfig {
  readonly signup_enabled: boolean;
  readonly signin_enabled: boolean;
  readonly signup_allowed_email_domains: string[];
  readonly signup_default_role: string;
  readonly session_duration_minutes: number;
  readonly max_failed_login_attempts: number;
  readonly password_min_length: number;
  readonly password_require_uppercase: boolean;
  readonly password_require_number: boolean;
  readonly password_require_symbol: boolean;
  readonly max_sessions: number;
  readonly enforce_app_permissions: boolean;
  readonly oauth_link_policy: "auto" | "confirm" | "reject";
  readonly allowed_redirect_origins: string[];
  readonly signup_requires_pak: boolean;
  readonly mfa_required: boolean;
  readonly mfa_required_roles: string[];
}

export type UserStatus = "active" | "suspended" | "deactivated";

export interface EndUser {
  readonly id: string;
  readonly username: string;
  readonly display_name: string | null;
  readonly status: UserStatus;
  readonly role: string | null;
  readonly email: string | null;
  readonly email_verified_at: string | null;
  readonly active_session_count: number;
  readonly last_used_at: string | null;
  readonly joined_at: string | null;
  readonly created_at: string;
}

export interface Contact {
  readonly id: string;
  readonly type: "email" | "phone";
  readonly value: string;
  readonly is_primary: boolean;
  readonly verified_at: string | null;
}

/** GET …/end-users/{user_id}/sessions (an appliance addition). */
export interface EndUserSession {
  readonly id: string;
  readonly created_at: string;
  readonly last_used_at: string | null;
  readonly expires_at: string;
  readonly ip: string | null;
  readonly user_agent: string | null;
  readonly amr: string[];
  readonly tenant_id: string | null;
}

/** GET …/end-users/{user_id}/tenants (an appliance addition). */
export interface EndUserTenant {
  readonly tenant_id: string;
  readonly display_id: string;
  readonly tenant_slug: string;
  readonly display_name: string;
  readonly tenant_status: "active" | "suspended" | "archived";
  readonly role_name: string;
  readonly joined_at: string;
}

/** GET …/end-users/{user_id}/factors (an appliance addition): metadata only. */
export interface EndUserFactor {
  readonly id: string;
  readonly type: string;
  readonly label: string | null;
  readonly enabled: boolean;
  readonly created_at: string;
  readonly enabled_at: string | null;
}

/** GET /v1/apps/{app_id}/stats (an appliance addition; see docs/console.md). */
export interface AppStats {
  readonly end_users: number;
  readonly active_sessions: number;
  readonly sign_ins_24h: number;
  readonly failed_sign_ins_24h: number;
}

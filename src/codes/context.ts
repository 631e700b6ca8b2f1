/** @module What the code service's two halves (`issue.ts`, `submit.ts`) share: its interface, deps and context. */
import type { AppService } from "../apps/service.ts";
import type { AuditWriter } from "../audit/writer.ts";
import type { AppRef } from "../core/app-ref.ts";
import { type Clock, MINUTE } from "../core/clock.ts";
import type { CallMeta, PlatformPrincipal } from "../core/principal.ts";
import type { Db } from "../db/client.ts";
import type { EmailService } from "../email/service.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { PasswordHasher } from "../passwords/hasher.ts";
import type { RateLimiter } from "../ratelimit/limiter.ts";
import type { SessionService } from "../sessions/service.ts";
import type { UserEvents } from "../users/events.ts";
import type { createUserStore } from "../users/store.ts";
import type { ServerSecrets } from "../vault/server-secrets.ts";
import type { CodeDispatchDto, CodeIssueDto, ContactRef, VerifyResultDto } from "./model.ts";
import type { CodePurpose, createCodeStore } from "./store.ts";

export const CODE_TTL = 10 * MINUTE;

export type CodeMintResult = CodeIssueDto | Record<string, never>;
export type CodeDispatchResult = CodeDispatchDto | Record<string, never>;

/**
 * How a verification code reaches its reader. `email`: only by email, so the app must send email (the
 * Consumer's `auth/send-verification-email`; the code never appears in the response). `operator`: returned
 * to the operator who asked, and emailed as well when the contact is an email address and the app sends
 * email (the Admin API's resend-verification); the operator holds the code either way, so a mail server's
 * refusal is left to the outbox.
 */
export type VerificationDelivery = "email" | "operator";

export interface CodeService {
  requestVerification(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
  ): Promise<CodeMintResult>;
  requestPasswordReset(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
  ): Promise<CodeMintResult>;
  /**
   * The one verification-email flow behind both surfaces: the same per-address email allowance, the same
   * outbox, the same audit rows. `{}` when there is no unverified contact of that value.
   */
  sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
    delivery: "email",
  ): Promise<CodeDispatchResult>;
  sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
    delivery: "operator",
  ): Promise<CodeMintResult>;
  sendPasswordResetEmail(
    app: AppRef,
    p: PlatformPrincipal,
    contact: ContactRef,
    meta: CallMeta,
  ): Promise<CodeDispatchResult>;
  verify(app: AppRef, code: string, meta: CallMeta): Promise<VerifyResultDto>;
  resetPassword(app: AppRef, code: string, newPassword: string, meta: CallMeta): Promise<void>;
  purge(): Promise<number>;
}

export interface CodeServiceDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  secrets: Pick<ServerSecrets, "get">;
  rateLimiter: RateLimiter;
  passwords: Pick<PasswordHasher, "hash">;
  sessions: Pick<SessionService, "revokeAllOfUser">;
  apps: Pick<AppService, "authConfigOf">;
  email: Pick<EmailService, "codeMailPlan" | "welcomePlan" | "noticePlan" | "enqueue" | "deliverNow">;
  /** `user.contact_verified`/`user.email_verified` and the password-reset events (docs/webhooks.md). */
  events: Pick<EventEmitter, "emit">;
}

/** What the issuing and submitting halves share: the service's deps, its stores and the code MAC. */
export interface CodeContext {
  deps: CodeServiceDeps;
  store: ReturnType<typeof createCodeStore>;
  users: ReturnType<typeof createUserStore>;
  userEvents: UserEvents;
  /** HMAC-SHA256 of `<app_id>:<purpose>:<code>` under the sealed pepper: what is stored and looked up. */
  hashOf(appId: string, purpose: CodePurpose, code: string): Promise<string>;
}

export const PURPOSE_LABEL: Record<CodePurpose, string> = { verify: "verification", reset: "password_reset" };

/**
 * @module Issuing codes: mint one for a contact (returned to a PAK holder, or emailed through the outbox),
 * with the per-address email allowance and the `code.issued` audit rows. Part of the code service
 * (`service.ts` composes it with `submit.ts`).
 */
import { randomInt } from "node:crypto";
import type { AppRef } from "../core/app-ref.ts";
import { iso, MINUTE } from "../core/clock.ts";
import { fail, HeimdallError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import { actorOf, type CallMeta, type PlatformPrincipal } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import type { MailPlan } from "../email/service.ts";
import type { ContactRow, EndUserRow } from "../users/store.ts";
import {
  CODE_TTL,
  type CodeContext,
  type CodeDispatchResult,
  type CodeMintResult,
  type CodeService,
  PURPOSE_LABEL,
  type VerificationDelivery,
} from "./context.ts";
import type { ContactRef } from "./model.ts";
import type { CodePurpose } from "./store.ts";

/** Code emails to one address per 15 minutes: Heimdall must not become a mail cannon. */
export const EMAILS_PER_ADDRESS = 5;
const EMAIL_WINDOW = 15 * MINUTE;

/** Re-draws before giving up on a unique code; with 10^6 codes this only fails under absurd load. */
const MAX_DRAWS = 20;

interface Target {
  user: EndUserRow;
  contact: ContactRow;
}

export type CodeIssuer = Pick<
  CodeService,
  "requestVerification" | "requestPasswordReset" | "sendVerification" | "sendPasswordResetEmail"
>;

export function createCodeIssuer({ deps, store, users, userEvents, hashOf }: CodeContext): CodeIssuer {
  const { db, clock, audit, rateLimiter } = deps;

  /** Who a mint for `contact` would serve, or null: the rules of the spec for each purpose. */
  async function target(appId: string, purpose: CodePurpose, ref: ContactRef): Promise<Target | null> {
    const contact = await users.contactByValue(appId, ref.type, ref.value);
    if (!contact) return null;
    const user = await users.byId(appId, contact.userId);
    if (!user) return null;
    if (purpose === "verify") return contact.verifiedAt === null ? { user, contact } : null;
    // Reset: only a verified contact may push a reset onto an account, and only an active account has one.
    return contact.verifiedAt !== null && user.status === "active" ? { user, contact } : null;
  }

  /** Mints a code for `t` (inside the caller's transaction); the previous unused one is gone. */
  async function issue(
    appId: string,
    purpose: CodePurpose,
    t: Target,
  ): Promise<{ id: string; code: string; expiresAt: number }> {
    const now = clock.now();
    await store.supersede(t.contact.id, purpose);
    for (let i = 0; i < MAX_DRAWS; i++) {
      const code = String(randomInt(0, 1_000_000)).padStart(6, "0");
      const codeHash = await hashOf(appId, purpose, code);
      if (await store.liveByHash(appId, codeHash, now)) continue;
      const id = newId(clock);
      const expiresAt = now + CODE_TTL;
      await store.insert({
        id,
        appId,
        userId: t.user.id,
        contactId: t.contact.id,
        purpose,
        codeHash,
        expiresAt,
        consumedAt: null,
        createdAt: now,
      });
      return { id, code, expiresAt };
    }
    throw fail("CODE_SPACE_EXHAUSTED", {
      headers: { "retry-after": "60" },
    });
  }

  async function recordIssued(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    t: Target,
    delivery: { delivery: "response" } | { delivery: "email"; outbox_id: string },
    meta: CallMeta,
  ): Promise<void> {
    await audit.record({
      appId: app.id,
      action: "code.issued",
      resourceType: "contact",
      resourceId: t.contact.id,
      actor: actorOf(p),
      details: {
        purpose: PURPOSE_LABEL[purpose],
        contact_type: t.contact.type,
        user_id: t.user.id,
        ...delivery,
      },
      meta,
    });
    // Only a code actually issued is an event: an unknown or unverified contact yields nothing to report.
    if (purpose === "reset") {
      await userEvents.passwordResetRequested(app.id, t.user.id, t.contact, delivery.delivery, actorOf(p));
    }
  }

  async function mint(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    ref: ContactRef,
    meta: CallMeta,
  ): Promise<CodeMintResult> {
    return await tx(db, async (): Promise<CodeMintResult> => {
      const t = await target(app.id, purpose, ref);
      if (!t) return {};
      const issued = await issue(app.id, purpose, t);
      await recordIssued(app, p, purpose, t, { delivery: "response" }, meta);
      return { code: issued.code, expires_at: iso(issued.expiresAt) };
    });
  }

  /** The app's mail plan for an operator's code, or null when the app sends no email (the operator delivers). */
  async function optionalPlan(appId: string, ref: ContactRef): Promise<MailPlan | null> {
    if (ref.type !== "email") return null;
    try {
      return await deps.email.codeMailPlan(appId, "verification");
    } catch (err) {
      if (!(err instanceof HeimdallError) || err.status < 412) throw err;
      return null;
    }
  }

  /** Counts one code email to the address: Heimdall must not become a mail cannon, whoever asks. */
  const chargeEmail = async (appId: string, ref: ContactRef) =>
    await rateLimiter.consume([
      { key: `code-email:${appId}:${ref.value}`, max: EMAILS_PER_ADDRESS, windowMs: EMAIL_WINDOW },
    ]);

  /**
   * A verification code for an operator: returned, and emailed too when the app sends email. Audited as
   * issued into the response, plus `contact.verification_sent` on the app's chain when it was queued.
   */
  async function mintForOperator(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
  ): Promise<CodeMintResult> {
    const plan = await optionalPlan(app.id, ref);
    if (plan) await chargeEmail(app.id, ref);
    const minted = await tx(db, async () => {
      const t = await target(app.id, "verify", ref);
      if (!t) return null;
      const issued = await issue(app.id, "verify", t);
      await recordIssued(app, p, "verify", t, { delivery: "response" }, meta);
      if (!plan) return { issued, outboxId: null };
      const outboxId = await deps.email.enqueue(app.id, plan, t.contact.value, {
        code: issued.code,
        expiresInMinutes: CODE_TTL / MINUTE,
      });
      await audit.record({
        appId: app.id,
        workspaceId: app.workspaceId,
        action: "contact.verification_sent",
        resourceType: "contact",
        resourceId: t.contact.id,
        actor: actorOf(p),
        details: { user_id: t.user.id, outbox_id: outboxId },
        meta,
      });
      return { issued, outboxId };
    });
    if (!minted) return {};
    // A refusal is left to the outbox record: the operator holds the code either way.
    if (minted.outboxId !== null) await deps.email.deliverNow(minted.outboxId);
    return { code: minted.issued.code, expires_at: iso(minted.issued.expiresAt) };
  }

  async function mintAndSend(
    app: AppRef,
    p: PlatformPrincipal,
    purpose: CodePurpose,
    ref: ContactRef,
    meta: CallMeta,
  ): Promise<CodeDispatchResult> {
    // Every precondition of the app first: their errors must not depend on whether the contact exists.
    const plan: MailPlan = await deps.email.codeMailPlan(
      app.id,
      purpose === "verify" ? "verification" : "password_reset",
    );
    await chargeEmail(app.id, ref);
    const queued = await tx(db, async () => {
      const t = await target(app.id, purpose, ref);
      if (!t) return null;
      const issued = await issue(app.id, purpose, t);
      const outboxId = await deps.email.enqueue(app.id, plan, t.contact.value, {
        code: issued.code,
        expiresInMinutes: CODE_TTL / MINUTE,
      });
      await recordIssued(app, p, purpose, t, { delivery: "email", outbox_id: outboxId }, meta);
      return { ...issued, outboxId, contactId: t.contact.id };
    });
    if (!queued) return {};
    // One attempt now, so that an SMTP server refusing the message surfaces as 503 to the caller. A
    // transient failure or a slow server leaves the message to the outbox's retries: the caller gets 201.
    const outcome = await deps.email.deliverNow(queued.outboxId);
    if (outcome === "failed") {
      // Refused for good: no email will ever carry this code, so it is withdrawn, and the caller may retry.
      await tx(db, async () => {
        await store.consume(queued.id, clock.now());
        await audit.record({
          appId: app.id,
          action: "code.voided",
          resourceType: "contact",
          resourceId: queued.contactId,
          actor: actorOf(p),
          details: { purpose: PURPOSE_LABEL[purpose], reason: "dispatch_failed", outbox_id: queued.outboxId },
          meta,
        });
      });
      throw fail("ENVOI_DISPATCH_FAILED");
    }
    return { expires_at: iso(queued.expiresAt) };
  }

  function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: "email",
  ): Promise<CodeDispatchResult>;
  function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: "operator",
  ): Promise<CodeMintResult>;
  async function sendVerification(
    app: AppRef,
    p: PlatformPrincipal,
    ref: ContactRef,
    meta: CallMeta,
    delivery: VerificationDelivery,
  ): Promise<CodeDispatchResult | CodeMintResult> {
    return delivery === "email"
      ? await mintAndSend(app, p, "verify", ref, meta)
      : await mintForOperator(app, p, ref, meta);
  }

  return {
    requestVerification: async (app, p, contact, meta) => await mint(app, p, "verify", contact, meta),
    requestPasswordReset: async (app, p, contact, meta) => await mint(app, p, "reset", contact, meta),
    sendVerification,
    sendPasswordResetEmail: async (app, p, contact, meta) =>
      await mintAndSend(app, p, "reset", contact, meta),
  };
}

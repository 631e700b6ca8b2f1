/**
 * @module Multi-factor authentication: TOTP factors (enrol, confirm, disable), recovery codes, the
 * checks the sign-in challenge and step-up call (`verifyTotp`, `useRecoveryCode`), and the admin lane's
 * provisioning.
 *
 * Secrets. A factor's TOTP secret is sealed by the vault under `mfa_factor:<app_id>:<factor_id>` and
 * destroyed with the factor (and with the account). Recovery codes are stored only as an HMAC under the
 * server's code pepper, bound to the app and account, so a copied table is useless without the vault.
 *
 * Replay. Each factor remembers the last time step it accepted; a code of that step or earlier is
 * refused, so a code read over a shoulder cannot be used again within its window.
 */
import QRCode from "qrcode";
import type { AuditWriter } from "../audit/writer.ts";
import type { Clock } from "../core/clock.ts";
import { constantTimeEqual, hmacSha256Hex } from "../core/crypto.ts";
import { fail, validationError } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { EventEmitter } from "../events/emit.ts";
import type { UserRules, UserScope } from "../users/scope.ts";
import { createUserStore } from "../users/store.ts";
import type { ServerSecrets } from "../vault/server-secrets.ts";
import type { Vault } from "../vault/vault.ts";
import {
  type AdminProvisionFactorResponseDto,
  type ConfirmEnrollmentInput,
  type ConfirmEnrollmentResponseDto,
  formatRecoveryCode,
  MFA_RECENT_AUTH_MS,
  normalizeRecoveryCode,
  PENDING_FACTOR_TTL_MS,
  type PublicFactorDto,
  RECOVERY_CODES_PER_SET,
  type StartEnrollmentInput,
  type StartEnrollmentResponseDto,
  type TotpEnrollmentDto,
  toFactorDto,
} from "./model.ts";
import { createMfaStore, type MfaFactorRow } from "./store.ts";
import {
  base32Of,
  generateTotpSecret,
  isTotpCode,
  otpauthUri,
  TOTP_ALGORITHM,
  TOTP_DIGITS,
  TOTP_PERIOD,
  verifyTotp,
} from "./totp.ts";

/** The signed-in EndUser acting on their own factors. */
export interface MfaCaller {
  readonly appId: string;
  readonly userId: string;
  readonly sessionId: string;
}

export interface MfaService {
  // ─── What the sign-in challenge and step-up call ────────────────────────────
  /** The account's enabled factors, oldest first. */
  enabledFactors(appId: string, userId: string): Promise<PublicFactorDto[]>;
  hasEnabledFactor(appId: string, userId: string): Promise<boolean>;
  /**
   * Checks `code` against every enabled factor; refuses a replay (a step at or before the factor's last
   * accepted one) and on success stores the step. Writes; call inside the caller's transaction.
   */
  verifyTotp(appId: string, userId: string, code: string): Promise<{ factorId: string } | null>;
  /**
   * Spends one recovery code (hyphens, spaces and case ignored): marks it used, audits
   * `mfa.recovery_code_used` and emits `user.mfa.recovery_code_used`. Call inside a transaction.
   */
  useRecoveryCode(appId: string, userId: string, code: string, meta?: Partial<CallMeta>): Promise<boolean>;

  // ─── /me/mfa/* ─────────────────────────────────────────────────────────────
  list(caller: MfaCaller): Promise<{ data: PublicFactorDto[] }>;
  startEnrollment(
    caller: MfaCaller,
    input: StartEnrollmentInput,
    meta: CallMeta,
  ): Promise<StartEnrollmentResponseDto>;
  confirmEnrollment(
    caller: MfaCaller,
    factorId: string,
    input: ConfirmEnrollmentInput,
    meta: CallMeta,
  ): Promise<ConfirmEnrollmentResponseDto>;
  disable(caller: MfaCaller, factorId: string, meta: CallMeta): Promise<void>;
  regenerateRecoveryCodes(caller: MfaCaller, meta: CallMeta): Promise<{ recovery_codes: string[] }>;

  // ─── Admin lane ────────────────────────────────────────────────────────────
  adminList(admin: UserScope, userId: string): Promise<{ data: PublicFactorDto[] }>;
  adminProvision(
    admin: UserScope,
    userId: string,
    input: StartEnrollmentInput,
    meta: CallMeta,
  ): Promise<AdminProvisionFactorResponseDto>;
  adminDisable(admin: UserScope, userId: string, factorId: string, meta: CallMeta): Promise<void>;

  /** Destroys the account's factor secrets and deletes its factors; call in the account's delete transaction. */
  forgetUser(appId: string, userId: string): Promise<void>;
  /** The same for every account of the app; call in the app's delete transaction. */
  forgetApp(appId: string): Promise<void>;
}

interface MfaDeps {
  db: Db;
  clock: Clock;
  audit: AuditWriter;
  events: EventEmitter;
  vault: Pick<Vault, "seal" | "open" | "destroy">;
  secrets: Pick<ServerSecrets, "get">;
  /** The admin lane's account rules: 404 for an unknown account, and act only on accounts holding no more. */
  rules: Pick<UserRules, "userOf" | "mayActOn">;
}

const factorNotFound = () => fail("MFA_FACTOR_NOT_FOUND");
const aadOf = (appId: string, factorId: string) => `mfa_factor:${appId}:${factorId}`;

export function createMfaService(deps: MfaDeps): MfaService {
  const { db, clock, audit, events, vault } = deps;
  const store = createMfaStore(db);
  const users = createUserStore(db);

  const recoveryHash = async (appId: string, userId: string, normalized: string) =>
    hmacSha256Hex(await deps.secrets.get("code_pepper"), `mfa_recovery:${appId}:${userId}:${normalized}`);

  const secretOf = async (f: MfaFactorRow) => await vault.open(f.secretId, aadOf(f.appId, f.id));

  /** A new set of recovery codes replaces the old one; returns them formatted, the only time they exist. */
  async function mintRecoveryCodes(appId: string, userId: string): Promise<string[]> {
    const now = clock.now();
    const plain: string[] = [];
    const rows = [];
    for (let i = 0; i < RECOVERY_CODES_PER_SET; i++) {
      const hex = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("hex");
      plain.push(formatRecoveryCode(hex));
      rows.push({
        id: newId(clock),
        appId,
        userId,
        codeHash: await recoveryHash(appId, userId, hex),
        createdAt: now,
      });
    }
    await store.deleteRecoveryCodes(appId, userId);
    await store.insertRecoveryCodes(rows);
    return plain;
  }

  async function requireUser(appId: string, userId: string) {
    const user = await users.byId(appId, userId);
    if (!user) throw fail("USER_NOT_FOUND");
    return user;
  }

  interface NewFactor {
    row: Omit<MfaFactorRow, "secretId" | "enabledAt">;
    secret: Uint8Array;
    enrollment: TotpEnrollmentDto;
  }

  /** A fresh secret and the enrolment payload for the authenticator app; nothing is stored yet. */
  async function newFactor(appId: string, userId: string, label: string | undefined): Promise<NewFactor> {
    const user = await requireUser(appId, userId);
    const secret = generateTotpSecret();
    const account = (await users.primaryEmail(userId))?.value ?? user.username;
    const issuer = (await store.appDisplayName(appId)) ?? "Heimdall";
    const uri = otpauthUri(secret, issuer, account);
    // The QR is drawn before the transaction (qrcode is async); the secret only lands with the row.
    const qr = await QRCode.toDataURL(uri);
    const row = {
      id: newId(clock),
      appId,
      userId,
      type: "totp" as const,
      label: label ?? null,
      lastUsedStep: null,
      lastUsedAt: null,
      createdAt: clock.now(),
    };
    const enrollment = {
      otpauth_uri: uri,
      secret: base32Of(secret),
      qr_data_url: qr,
      algorithm: TOTP_ALGORITHM,
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD,
    };
    return { row, secret, enrollment };
  }

  /** Seals the secret under the factor's aad and inserts the row; inside the caller's transaction. */
  async function insertFactor(n: NewFactor, enabledAt: number | null): Promise<MfaFactorRow> {
    const secretId = await vault.seal(aadOf(n.row.appId, n.row.id), n.secret);
    const stored: MfaFactorRow = { ...n.row, secretId, enabledAt };
    await store.insertFactor(stored);
    return stored;
  }

  /** Drops pending factors older than the TTL (their secrets too): an abandoned enrolment does not linger. */
  async function dropStalePending(appId: string, userId: string) {
    const stale = await store.stalePending(appId, userId, clock.now() - PENDING_FACTOR_TTL_MS);
    for (const f of stale) await store.deleteFactor(f.id);
    if (stale.length > 0) await vault.destroy(stale.map((f) => f.secretId));
  }

  /** Deletes a factor and its secret; the last enabled one takes the recovery codes with it. */
  async function removeFactor(
    f: MfaFactorRow,
    actor: AuditActor,
    meta: Partial<CallMeta>,
    via: "self" | "admin",
  ) {
    await store.deleteFactor(f.id);
    await vault.destroy([f.secretId]);
    const remaining = (await store.enabledFactors(f.appId, f.userId)).length;
    if (f.enabledAt !== null && remaining === 0) await store.deleteRecoveryCodes(f.appId, f.userId);
    await audit.record({
      appId: f.appId,
      action: "mfa.factor_disabled",
      resourceType: "mfa_factor",
      resourceId: f.id,
      actor,
      details: { user_id: f.userId, type: f.type, was_enabled: f.enabledAt !== null, remaining, via },
      meta,
    });
    if (f.enabledAt !== null) {
      await events.emit({
        type: "user.mfa.factor_disabled",
        appId: f.appId,
        data: { user_id: f.userId, factor_id: f.id, type: f.type, remaining_factors: remaining },
      });
    }
  }

  async function requireRecentAuth(caller: MfaCaller) {
    const s = await store.sessionRecency(caller.sessionId);
    const now = clock.now();
    const recent = (at: number | null | undefined) => at != null && now - at < MFA_RECENT_AUTH_MS;
    if (!s || !(recent(s.authenticatedAt) || recent(s.mfaAt))) throw fail("REAUTHENTICATION_REQUIRED");
  }

  const selfActor = (c: MfaCaller): AuditActor => ({ type: "end_user", id: c.userId });

  const service: MfaService = {
    async enabledFactors(appId, userId) {
      return (await store.enabledFactors(appId, userId)).map(toFactorDto);
    },
    async hasEnabledFactor(appId, userId) {
      return (await store.enabledFactors(appId, userId)).length > 0;
    },
    async verifyTotp(appId, userId, code) {
      if (!isTotpCode(code)) return null;
      const now = clock.now();
      for (const f of await store.enabledFactors(appId, userId)) {
        const step = verifyTotp(await secretOf(f), code, now);
        if (step === null) continue;
        if (f.lastUsedStep !== null && step <= f.lastUsedStep) continue;
        // Conditional: of two concurrent sign-ins with one code, only one uses it.
        if (!(await store.markUsed(f.id, step, now))) continue;
        return { factorId: f.id };
      }
      return null;
    },
    async useRecoveryCode(appId, userId, code, meta = {}) {
      const n = normalizeRecoveryCode(code);
      if (n === null) return false;
      const hash = await recoveryHash(appId, userId, n);
      // Every unused row is compared (no early exit), each in constant time.
      let match: string | null = null;
      const unused = await store.unusedRecoveryCodes(appId, userId);
      for (const r of unused) if (constantTimeEqual(r.codeHash, hash)) match = r.id;
      if (match === null || !(await store.useRecoveryCode(match, clock.now()))) return false;
      const remaining = unused.length - 1;
      await audit.record({
        appId,
        action: "mfa.recovery_code_used",
        resourceType: "end_user",
        resourceId: userId,
        actor: { type: "end_user", id: userId },
        details: { remaining },
        meta,
      });
      await events.emit({ type: "user.mfa.recovery_code_used", appId, data: { user_id: userId, remaining } });
      return true;
    },

    async list(caller) {
      return { data: (await store.factors(caller.appId, caller.userId)).map(toFactorDto) };
    },
    async startEnrollment(caller, input, meta) {
      const n = await newFactor(caller.appId, caller.userId, input.label);
      const stored = await tx(db, async () => {
        await dropStalePending(caller.appId, caller.userId);
        const f = await insertFactor(n, null);
        await audit.record({
          appId: caller.appId,
          action: "mfa.enrollment_started",
          resourceType: "mfa_factor",
          resourceId: f.id,
          actor: selfActor(caller),
          details: { user_id: caller.userId, type: f.type },
          meta,
        });
        return f;
      });
      return { factor: toFactorDto(stored), enrollment: n.enrollment };
    },
    async confirmEnrollment(caller, factorId, input, meta) {
      const [first, second] = input.codes as [string, string];
      const bad = input.codes.flatMap((c, i) =>
        isTotpCode(c) ? [] : [{ field: `codes.${i}`, reason: "must be 6 digits" }],
      );
      if (bad.length > 0) throw validationError(bad);
      const outcome = await tx(db, async () => {
        const f = await store.factor(caller.appId, caller.userId, factorId);
        if (!f) throw factorNotFound();
        if (f.enabledAt !== null) throw fail("MFA_FACTOR_ALREADY_ENABLED");
        const now = clock.now();
        const secret = await secretOf(f);
        const s1 = verifyTotp(secret, first, now);
        const s2 = verifyTotp(secret, second, now);
        // Two codes from consecutive steps prove the authenticator holds the secret and keeps time.
        if (s1 === null || s2 === null || s2 !== s1 + 1) {
          // Committed, then refused: a throw here would roll the audit row back.
          await audit.record({
            appId: caller.appId,
            action: "mfa.enrollment_failed",
            resourceType: "mfa_factor",
            resourceId: f.id,
            actor: selfActor(caller),
            details: {
              user_id: caller.userId,
              reason: s1 === null || s2 === null ? "invalid_code" : "not_consecutive",
            },
            meta,
          });
          return null;
        }
        const firstFactor = (await store.enabledFactors(caller.appId, caller.userId)).length === 0;
        if (!(await store.enableFactor(f.id, now, s2))) throw fail("MFA_FACTOR_ALREADY_ENABLED");
        const recovery = firstFactor ? await mintRecoveryCodes(caller.appId, caller.userId) : [];
        await audit.record({
          appId: caller.appId,
          action: "mfa.factor_enrolled",
          resourceType: "mfa_factor",
          resourceId: f.id,
          actor: selfActor(caller),
          details: { user_id: caller.userId, type: f.type, recovery_codes_minted: recovery.length },
          meta,
        });
        await events.emit({
          type: "user.mfa.factor_enrolled",
          appId: caller.appId,
          data: { user_id: caller.userId, factor_id: f.id, type: f.type, via: "self" },
        });
        return {
          factor: toFactorDto({ ...f, enabledAt: now, lastUsedStep: s2, lastUsedAt: now }),
          recovery_codes: recovery,
        };
      });
      if (outcome === null) throw fail("MFA_ENROLLMENT_CODES_INVALID");
      return outcome;
    },
    async disable(caller, factorId, meta) {
      await tx(db, async () => {
        const f = await store.factor(caller.appId, caller.userId, factorId);
        if (!f) throw factorNotFound();
        // A pending factor guards nothing yet: dropping it needs no fresh proof.
        if (f.enabledAt !== null) await requireRecentAuth(caller);
        await removeFactor(f, selfActor(caller), meta, "self");
      });
    },
    async regenerateRecoveryCodes(caller, meta) {
      return await tx(db, async () => {
        await requireRecentAuth(caller);
        if ((await store.enabledFactors(caller.appId, caller.userId)).length === 0)
          throw fail("MFA_NOT_ENABLED");
        const codes = await mintRecoveryCodes(caller.appId, caller.userId);
        await audit.record({
          appId: caller.appId,
          action: "mfa.recovery_codes_regenerated",
          resourceType: "end_user",
          resourceId: caller.userId,
          actor: selfActor(caller),
          details: { count: codes.length },
          meta,
        });
        return { recovery_codes: codes };
      });
    },

    async adminList(admin, userId) {
      await deps.rules.userOf(admin, userId);
      return { data: (await store.factors(admin.appId, userId)).map(toFactorDto) };
    },
    async adminProvision(admin, userId, input, meta) {
      await deps.rules.mayActOn(admin, await deps.rules.userOf(admin, userId));
      const n = await newFactor(admin.appId, userId, input.label);
      return await tx(db, async () => {
        await deps.rules.userOf(admin, userId);
        await dropStalePending(admin.appId, userId);
        const now = clock.now();
        // Enabled at once: the operator hands the secret and the recovery codes over together.
        const f = await insertFactor(n, now);
        const first = (await store.enabledFactors(admin.appId, userId)).length === 1;
        const codes = await mintRecoveryCodes(admin.appId, userId);
        await audit.record({
          appId: admin.appId,
          action: "mfa.factor_provisioned",
          resourceType: "mfa_factor",
          resourceId: f.id,
          actor: admin.actor,
          details: {
            user_id: userId,
            type: f.type,
            first_factor: first,
            recovery_codes_minted: codes.length,
          },
          meta,
        });
        await events.emit({
          type: "user.mfa.factor_enrolled",
          appId: admin.appId,
          data: { user_id: userId, factor_id: f.id, type: f.type, via: "admin" },
        });
        return { factor: toFactorDto(f), enrollment: n.enrollment, recovery_codes: codes };
      });
    },
    async adminDisable(admin, userId, factorId, meta) {
      await tx(db, async () => {
        await deps.rules.mayActOn(admin, await deps.rules.userOf(admin, userId));
        const f = await store.factor(admin.appId, userId, factorId);
        if (!f) throw factorNotFound();
        await removeFactor(f, admin.actor, meta, "admin");
      });
    },

    async forgetUser(appId, userId) {
      const ids = await store.secretIdsOfUser(appId, userId);
      await store.deleteFactorsOfUser(appId, userId);
      await store.deleteRecoveryCodes(appId, userId);
      if (ids.length > 0) await vault.destroy(ids);
    },
    async forgetApp(appId) {
      const ids = await store.secretIdsOfApp(appId);
      await store.deleteFactorsOfApp(appId);
      if (ids.length > 0) await vault.destroy(ids);
    },
  };
  return service;
}

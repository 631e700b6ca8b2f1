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
  enabledFactors(appId: string, userId: string): PublicFactorDto[];
  hasEnabledFactor(appId: string, userId: string): boolean;
  /**
   * Checks `code` against every enabled factor; refuses a replay (a step at or before the factor's last
   * accepted one) and on success stores the step. Writes; call inside the caller's transaction.
   */
  verifyTotp(appId: string, userId: string, code: string): { factorId: string } | null;
  /**
   * Spends one recovery code (hyphens, spaces and case ignored): marks it used, audits
   * `mfa.recovery_code_used` and emits `user.mfa.recovery_code_used`. Call inside a transaction.
   */
  useRecoveryCode(appId: string, userId: string, code: string, meta?: Partial<CallMeta>): boolean;

  // ─── /me/mfa/* ─────────────────────────────────────────────────────────────
  list(caller: MfaCaller): { data: PublicFactorDto[] };
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
  ): ConfirmEnrollmentResponseDto;
  disable(caller: MfaCaller, factorId: string, meta: CallMeta): void;
  regenerateRecoveryCodes(caller: MfaCaller, meta: CallMeta): { recovery_codes: string[] };

  // ─── Admin lane ────────────────────────────────────────────────────────────
  adminList(admin: UserScope, userId: string): { data: PublicFactorDto[] };
  adminProvision(
    admin: UserScope,
    userId: string,
    input: StartEnrollmentInput,
    meta: CallMeta,
  ): Promise<AdminProvisionFactorResponseDto>;
  adminDisable(admin: UserScope, userId: string, factorId: string, meta: CallMeta): void;

  /** Destroys the account's factor secrets and deletes its factors; call in the account's delete transaction. */
  forgetUser(appId: string, userId: string): void;
  /** The same for every account of the app; call in the app's delete transaction. */
  forgetApp(appId: string): void;
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

  const recoveryHash = (appId: string, userId: string, normalized: string) =>
    hmacSha256Hex(deps.secrets.get("code_pepper"), `mfa_recovery:${appId}:${userId}:${normalized}`);

  const secretOf = (f: MfaFactorRow) => vault.open(f.secretId, aadOf(f.appId, f.id));

  /** A new set of recovery codes replaces the old one; returns them formatted, the only time they exist. */
  function mintRecoveryCodes(appId: string, userId: string): string[] {
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
        codeHash: recoveryHash(appId, userId, hex),
        createdAt: now,
      });
    }
    store.deleteRecoveryCodes(appId, userId);
    store.insertRecoveryCodes(rows);
    return plain;
  }

  function requireUser(appId: string, userId: string) {
    const user = users.byId(appId, userId);
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
    const user = requireUser(appId, userId);
    const secret = generateTotpSecret();
    const account = users.primaryEmail(userId)?.value ?? user.username;
    const issuer = store.appDisplayName(appId) ?? "Heimdall";
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
  function insertFactor(n: NewFactor, enabledAt: number | null): MfaFactorRow {
    const secretId = vault.seal(aadOf(n.row.appId, n.row.id), n.secret);
    const stored: MfaFactorRow = { ...n.row, secretId, enabledAt };
    store.insertFactor(stored);
    return stored;
  }

  /** Drops pending factors older than the TTL (their secrets too): an abandoned enrolment does not linger. */
  function dropStalePending(appId: string, userId: string) {
    const stale = store.stalePending(appId, userId, clock.now() - PENDING_FACTOR_TTL_MS);
    for (const f of stale) store.deleteFactor(f.id);
    if (stale.length > 0) vault.destroy(stale.map((f) => f.secretId));
  }

  /** Deletes a factor and its secret; the last enabled one takes the recovery codes with it. */
  function removeFactor(f: MfaFactorRow, actor: AuditActor, meta: Partial<CallMeta>, via: "self" | "admin") {
    store.deleteFactor(f.id);
    vault.destroy([f.secretId]);
    const remaining = store.enabledFactors(f.appId, f.userId).length;
    if (f.enabledAt !== null && remaining === 0) store.deleteRecoveryCodes(f.appId, f.userId);
    audit.record({
      appId: f.appId,
      action: "mfa.factor_disabled",
      resourceType: "mfa_factor",
      resourceId: f.id,
      actor,
      details: { user_id: f.userId, type: f.type, was_enabled: f.enabledAt !== null, remaining, via },
      meta,
    });
    if (f.enabledAt !== null) {
      events.emit({
        type: "user.mfa.factor_disabled",
        appId: f.appId,
        data: { user_id: f.userId, factor_id: f.id, type: f.type, remaining_factors: remaining },
      });
    }
  }

  function requireRecentAuth(caller: MfaCaller) {
    const s = store.sessionRecency(caller.sessionId);
    const now = clock.now();
    const recent = (at: number | null | undefined) => at != null && now - at < MFA_RECENT_AUTH_MS;
    if (!s || !(recent(s.authenticatedAt) || recent(s.mfaAt))) throw fail("REAUTHENTICATION_REQUIRED");
  }

  const selfActor = (c: MfaCaller): AuditActor => ({ type: "end_user", id: c.userId });

  const service: MfaService = {
    enabledFactors(appId, userId) {
      return store.enabledFactors(appId, userId).map(toFactorDto);
    },
    hasEnabledFactor(appId, userId) {
      return store.enabledFactors(appId, userId).length > 0;
    },
    verifyTotp(appId, userId, code) {
      if (!isTotpCode(code)) return null;
      const now = clock.now();
      for (const f of store.enabledFactors(appId, userId)) {
        const step = verifyTotp(secretOf(f), code, now);
        if (step === null) continue;
        if (f.lastUsedStep !== null && step <= f.lastUsedStep) continue;
        store.markUsed(f.id, step, now);
        return { factorId: f.id };
      }
      return null;
    },
    useRecoveryCode(appId, userId, code, meta = {}) {
      const n = normalizeRecoveryCode(code);
      if (n === null) return false;
      const hash = recoveryHash(appId, userId, n);
      // Every unused row is compared (no early exit), each in constant time.
      let match: string | null = null;
      const unused = store.unusedRecoveryCodes(appId, userId);
      for (const r of unused) if (constantTimeEqual(r.codeHash, hash)) match = r.id;
      if (match === null || !store.useRecoveryCode(match, clock.now())) return false;
      const remaining = unused.length - 1;
      audit.record({
        appId,
        action: "mfa.recovery_code_used",
        resourceType: "end_user",
        resourceId: userId,
        actor: { type: "end_user", id: userId },
        details: { remaining },
        meta,
      });
      events.emit({ type: "user.mfa.recovery_code_used", appId, data: { user_id: userId, remaining } });
      return true;
    },

    list(caller) {
      return { data: store.factors(caller.appId, caller.userId).map(toFactorDto) };
    },
    async startEnrollment(caller, input, meta) {
      const n = await newFactor(caller.appId, caller.userId, input.label);
      const stored = tx(db, () => {
        dropStalePending(caller.appId, caller.userId);
        const f = insertFactor(n, null);
        audit.record({
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
    confirmEnrollment(caller, factorId, input, meta) {
      const [first, second] = input.codes as [string, string];
      const bad = input.codes.flatMap((c, i) =>
        isTotpCode(c) ? [] : [{ field: `codes.${i}`, reason: "must be 6 digits" }],
      );
      if (bad.length > 0) throw validationError(bad);
      const outcome = tx(db, () => {
        const f = store.factor(caller.appId, caller.userId, factorId);
        if (!f) throw factorNotFound();
        if (f.enabledAt !== null) throw fail("MFA_FACTOR_ALREADY_ENABLED");
        const now = clock.now();
        const secret = secretOf(f);
        const s1 = verifyTotp(secret, first, now);
        const s2 = verifyTotp(secret, second, now);
        // Two codes from consecutive steps prove the authenticator holds the secret and keeps time.
        if (s1 === null || s2 === null || s2 !== s1 + 1) {
          // Committed, then refused: a throw here would roll the audit row back.
          audit.record({
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
        const firstFactor = store.enabledFactors(caller.appId, caller.userId).length === 0;
        store.enableFactor(f.id, now, s2);
        const recovery = firstFactor ? mintRecoveryCodes(caller.appId, caller.userId) : [];
        audit.record({
          appId: caller.appId,
          action: "mfa.factor_enrolled",
          resourceType: "mfa_factor",
          resourceId: f.id,
          actor: selfActor(caller),
          details: { user_id: caller.userId, type: f.type, recovery_codes_minted: recovery.length },
          meta,
        });
        events.emit({
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
    disable(caller, factorId, meta) {
      tx(db, () => {
        const f = store.factor(caller.appId, caller.userId, factorId);
        if (!f) throw factorNotFound();
        // A pending factor guards nothing yet: dropping it needs no fresh proof.
        if (f.enabledAt !== null) requireRecentAuth(caller);
        removeFactor(f, selfActor(caller), meta, "self");
      });
    },
    regenerateRecoveryCodes(caller, meta) {
      return tx(db, () => {
        requireRecentAuth(caller);
        if (store.enabledFactors(caller.appId, caller.userId).length === 0) throw fail("MFA_NOT_ENABLED");
        const codes = mintRecoveryCodes(caller.appId, caller.userId);
        audit.record({
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

    adminList(admin, userId) {
      deps.rules.userOf(admin, userId);
      return { data: store.factors(admin.appId, userId).map(toFactorDto) };
    },
    async adminProvision(admin, userId, input, meta) {
      deps.rules.mayActOn(admin, deps.rules.userOf(admin, userId));
      const n = await newFactor(admin.appId, userId, input.label);
      return tx(db, () => {
        deps.rules.userOf(admin, userId);
        dropStalePending(admin.appId, userId);
        const now = clock.now();
        // Enabled at once: the operator hands the secret and the recovery codes over together.
        const f = insertFactor(n, now);
        const first = store.enabledFactors(admin.appId, userId).length === 1;
        const codes = mintRecoveryCodes(admin.appId, userId);
        audit.record({
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
        events.emit({
          type: "user.mfa.factor_enrolled",
          appId: admin.appId,
          data: { user_id: userId, factor_id: f.id, type: f.type, via: "admin" },
        });
        return { factor: toFactorDto(f), enrollment: n.enrollment, recovery_codes: codes };
      });
    },
    adminDisable(admin, userId, factorId, meta) {
      tx(db, () => {
        deps.rules.mayActOn(admin, deps.rules.userOf(admin, userId));
        const f = store.factor(admin.appId, userId, factorId);
        if (!f) throw factorNotFound();
        removeFactor(f, admin.actor, meta, "admin");
      });
    },

    forgetUser(appId, userId) {
      const ids = store.secretIdsOfUser(appId, userId);
      store.deleteFactorsOfUser(appId, userId);
      store.deleteRecoveryCodes(appId, userId);
      if (ids.length > 0) vault.destroy(ids);
    },
    forgetApp(appId) {
      const ids = store.secretIdsOfApp(appId);
      store.deleteFactorsOfApp(appId);
      if (ids.length > 0) vault.destroy(ids);
    },
  };
  return service;
}

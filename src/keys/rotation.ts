/** @module Signing-key rotation: publishing next keys, promoting them on schedule or on demand (never ahead of verifier caches unless an emergency), retiring old ones. */
import { type Clock, iso } from "../core/clock.ts";
import { fail } from "../core/errors.ts";
import { newId } from "../core/ids.ts";
import type { Logger } from "../core/logger.ts";
import type { AuditActor, CallMeta } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import type { Vault } from "../vault/vault.ts";
import { generateKeyMaterial, isSigningAlg, Material, type SigningAlg } from "./material.ts";
import {
  earliestPromotion,
  JWKS_MAX_AGE,
  nextActivatesAt,
  OVERLAP,
  PREPUBLISH,
} from "./rotation-schedule.ts";
import { signingKeyAad } from "./signing.ts";
import type { createKeyStore, KeyRow, KeyState } from "./store.ts";

export interface KeyAuditEvent {
  appId: string;
  action: "app.key_rotated";
  details: {
    old_kid: string | null;
    new_kid: string;
    next_kid: string | null;
    emergency: boolean;
    trigger: "manual" | "scheduled";
  };
  /** Who asked, for a manual rotation; absent for the scheduler (the audit writer records `system`). */
  actor?: AuditActor;
  meta?: Partial<CallMeta>;
}

export interface RotateOptions {
  emergency?: boolean;
  actor?: AuditActor;
  meta?: Partial<CallMeta>;
}

export interface RotationResult {
  oldKid: string | null;
  newKid: string;
  nextKid: string | null;
  /** When the key that signs from now on entered the JWKS (its `created_at`). */
  newKeyPublishedAt: number;
  /** An emergency rotation's caveat about verifier caches; null for an ordinary rotation, which has none. */
  warning: string | null;
}

/** What switching an app to another algorithm scheduled (docs/operations.md, "Signing keys"). */
export interface AlgorithmSchedule {
  /** The pre-published key of the new algorithm, or null when the active key already has it. */
  nextKid: string | null;
  /** When that key starts signing (the scheduler promotes it then). */
  activatesAt: number | null;
  /** A next key of the old algorithm that was withdrawn before it ever signed. */
  withdrawnKid: string | null;
}

export interface TickResult {
  rotated: number;
  retired: number;
  created: number;
}

const minutes = (ms: number) => `${Math.ceil(ms / 60_000)} min`;

/**
 * 409 ROTATION_TOO_SOON for a next key published under PREPUBLISH ago: when it becomes possible, as a
 * time in the message and as `Retry-After`, and the emergency way out with its cost.
 */
function rotationTooSoon(next: Pick<KeyRow, "kid" | "createdAt">, now: number) {
  const at = earliestPromotion(next.createdAt);
  const seconds = Math.max(1, Math.ceil((at - now) / 1000));
  return fail("ROTATION_TOO_SOON", {
    message:
      `The next signing key ${next.kid} was published at ${iso(next.createdAt)}; verifiers cache the JWKS for up to ` +
      `${minutes(JWKS_MAX_AGE)}, so it may start signing from ${iso(at)} (in ${minutes(at - now)}). Nothing was rotated: ` +
      "retry then, or rotate with emergency: true to promote it now (verifiers with a cached JWKS then reject new tokens until they refetch).",
    headers: { "retry-after": String(seconds) },
  });
}

/** What an emergency rotation leaves to verifier caches, said in the response and the CLI output. */
function emergencyWarning(oldKid: string | null, promoted: { kid: string; createdAt: number }, now: number) {
  const parts: string[] = [];
  if (oldKid)
    parts.push(
      `${oldKid} left the JWKS now, but verifiers that cached the JWKS keep accepting its tokens until they refetch (up to ${minutes(JWKS_MAX_AGE)}).`,
    );
  if (now - promoted.createdAt < PREPUBLISH)
    parts.push(
      `${promoted.kid} was published ${now === promoted.createdAt ? "just now" : `only ${minutes(now - promoted.createdAt)} ago`}: verifier caches may miss it, so they may reject new tokens until they refetch the JWKS (on the unknown kid, or after up to ${minutes(JWKS_MAX_AGE)}).`,
    );
  return parts.length ? parts.join(" ") : "Verifier caches already hold the new key.";
}

export interface KeyRotationDeps {
  db: Db;
  vault: Vault;
  clock: Clock;
  rsaBits: number;
  log: Logger;
  /** Called inside the rotation's transaction, so the audit row commits or rolls back with it. */
  audit?: (event: KeyAuditEvent) => Promise<void>;
  store: ReturnType<typeof createKeyStore>;
  /** Rebuilds one app's keys in memory after a rotation. */
  refresh(appId: string): Promise<unknown>;
  /** Reloads every app's keys in memory. */
  load(): Promise<void>;
}

export function createKeyRotation(deps: KeyRotationDeps) {
  const { db, vault, clock, rsaBits, log, audit, store, refresh, load } = deps;

  // ─── Writes (synchronous, inside a transaction) ───────────────────────────

  async function insertKey(
    appId: string,
    m: Material,
    state: KeyState,
    activatesAt: number,
    now: number,
  ): Promise<string> {
    const id = newId(clock);
    const vaultSecretId = await vault.seal(signingKeyAad(appId, m.kid), Material.privateKeyDer(m));
    await store.insert({
      id,
      appId,
      kid: m.kid,
      alg: m.alg,
      bits: m.bits,
      state,
      publicJwk: m.publicJwk,
      vaultSecretId,
      createdAt: now,
      activatesAt,
    });
    return id;
  }

  async function recordRotation(
    appId: string,
    details: KeyAuditEvent["details"],
    who: Omit<RotateOptions, "emergency"> = {},
  ): Promise<void> {
    await audit?.({ appId, action: "app.key_rotated", details, ...who });
    log.info("signing key rotated", { app_id: appId, ...details });
  }

  /** The algorithm an app's new keys take: that of its key latest in line to sign (see `store.newestAlg`). */
  const algFor = async (appId: string): Promise<SigningAlg> => {
    const alg = await store.newestAlg(appId);
    return isSigningAlg(alg) ? alg : "RS256";
  };

  /** Creates the missing next key of one app; false when someone else created it while we generated. */
  async function addNextKey(appId: string): Promise<boolean> {
    const material = await generateKeyMaterial(clock, rsaBits, await algFor(appId));
    return await tx(db, async () => {
      await store.lockApp(appId);
      if (await store.inState(appId, "next")) return false;
      const active = await store.inState(appId, "active");
      if (!active) return false;
      const now = clock.now();
      const activatesAt = nextActivatesAt(now, active.activatesAt);
      await insertKey(appId, material, "next", activatesAt, now);
      log.info("next signing key published", {
        app_id: appId,
        kid: material.kid,
        activates_at: iso(activatesAt),
      });
      return true;
    });
  }

  return {
    insertKey,

    /**
     * Switches the keys of an app to `m`'s algorithm, inside the caller's transaction (the auth-config
     * write that changed `signing_alg`). A next key of another algorithm never signed, so it is withdrawn
     * and `m` published in its place. It starts signing PREPUBLISH from now (every verifier cache has
     * refetched the JWKS by then) when the active key has another algorithm, or on the ordinary schedule
     * when the active key already has `m`'s (a switch back before the new key ever signed).
     */
    async scheduleAlgorithm(appId: string, m: Material): Promise<AlgorithmSchedule> {
      await store.lockApp(appId);
      const now = clock.now();
      const active = await store.inState(appId, "active");
      const next = await store.inState(appId, "next");
      if (!active)
        throw fail("SIGNING_KEYS_NOT_FOUND", { message: `app ${appId} has no active signing key` });
      if (next?.alg === m.alg)
        return { nextKid: next.kid, activatesAt: next.activatesAt, withdrawnKid: null };
      const withdrawnKid = next && (await store.withdrawNext(next.id, now)) ? next.kid : null;
      const activatesAt =
        active.alg === m.alg ? nextActivatesAt(now, active.activatesAt) : earliestPromotion(now);
      await insertKey(appId, m, "next", activatesAt, now);
      await vault.destroy(await store.detachRetiredSecrets());
      log.info("next signing key published", {
        app_id: appId,
        kid: m.kid,
        alg: m.alg,
        activates_at: iso(activatesAt),
        withdrawn_kid: withdrawnKid,
      });
      return { nextKid: m.kid, activatesAt, withdrawnKid };
    },

    async rotate(
      appId: string,
      { emergency = false, actor, meta }: RotateOptions = {},
    ): Promise<RotationResult> {
      // Keygen takes ~100 ms of CPU on the thread pool: done before the transaction, never inside it.
      // The algorithm is read again inside: a switch committed meanwhile means generating once more.
      let fresh = await generateKeyMaterial(clock, rsaBits, await algFor(appId));
      for (let i = 0; i < 3 && fresh.alg !== (await algFor(appId)); i++)
        fresh = await generateKeyMaterial(clock, rsaBits, await algFor(appId));
      const outcome = await tx(db, async (): Promise<RotationResult | { tooSoon: KeyRow }> => {
        // Another instance rotating the same app waits, then reads what this one wrote.
        await store.lockApp(appId);
        const now = clock.now();
        const next = await store.inState(appId, "next");
        const active = await store.inState(appId, "active");
        if (!next && !active) {
          throw fail("SIGNING_KEYS_NOT_FOUND", { message: `app ${appId} has no signing keys` });
        }
        if (!emergency) {
          // A non-emergency rotation never promotes a key verifiers may not have yet (docs/decisions.md,
          // "Rotation never outruns verifier caches"). Without a next key the fresh one is published
          // now, as the scheduler would, so the refusal can name the moment the rotation becomes possible.
          if (!next) {
            await insertKey(appId, fresh, "next", nextActivatesAt(now, active!.activatesAt), now);
            return { tooSoon: (await store.byKid(fresh.kid))! };
          }
          if (now < earliestPromotion(next.createdAt)) return { tooSoon: next };
        }
        // Emergency: the pre-published next key signs from now on, whatever its age (the caller was
        // told that caches may miss); without a next key the fresh key signs at once instead, and the
        // next tick publishes a new next key.
        let activeId: string;
        let promoted: { kid: string; createdAt: number };
        let nextKid: string | null = null;
        if (next) {
          await store.promote(next.id, now);
          await insertKey(appId, fresh, "next", nextActivatesAt(now, now), now);
          [activeId, promoted, nextKid] = [next.id, next, fresh.kid];
        } else {
          activeId = await insertKey(appId, fresh, "active", now, now);
          promoted = { kid: fresh.kid, createdAt: now };
        }
        // Emergency drops the old key from the JWKS at once (tokens it signed stop verifying, which is
        // the point after a compromise). The next key is kept: it never signed, and replacing it too
        // would leave verifiers nothing pre-published.
        const [oldKid = null] = await store.demoteActive(
          appId,
          activeId,
          now,
          emergency ? "now" : now + OVERLAP,
        );
        const details = {
          old_kid: oldKid,
          new_kid: promoted.kid,
          next_kid: nextKid,
          emergency,
          trigger: "manual" as const,
        };
        await recordRotation(appId, details, { actor, meta });
        await vault.destroy(await store.detachRetiredSecrets());
        return {
          oldKid,
          newKid: promoted.kid,
          nextKid,
          newKeyPublishedAt: promoted.createdAt,
          warning: emergency ? emergencyWarning(oldKid, promoted, now) : null,
        };
      });
      await refresh(appId);
      if ("tooSoon" in outcome) throw rotationTooSoon(outcome.tooSoon, clock.now());
      return outcome;
    },

    async tick(): Promise<TickResult> {
      const now = clock.now();
      // One BEGIN IMMEDIATE transaction that re-reads state; the conditional promote makes a racing
      // tick (another connection or process) a no-op rather than a double rotation.
      const { rotated, retired } = await tx(db, async () => {
        const retired = await store.retireDue(now);
        let rotated = 0;
        for (const next of await store.dueNext(now)) {
          await store.lockApp(next.appId);
          if (!(await store.promote(next.id, now, now))) continue;
          const [oldKid = null] = await store.demoteActive(next.appId, next.id, now, now + OVERLAP);
          rotated++;
          await recordRotation(next.appId, {
            old_kid: oldKid,
            new_kid: next.kid,
            next_kid: null,
            emergency: false,
            trigger: "scheduled",
          });
        }
        // A retired key never signs again, and what it signed has expired: its private half is destroyed.
        await vault.destroy(await store.detachRetiredSecrets());
        return { rotated, retired };
      });
      // One app at a time: keygen is CPU-bound, and a burst after downtime should not starve requests.
      let created = 0;
      for (const appId of await store.appsWithoutNext()) {
        try {
          if (await addNextKey(appId)) created++;
        } catch (err) {
          log.error("could not create the next signing key", { app_id: appId, err });
        }
      }
      // A full reload, not only the apps touched here: a backstop for what another process changed
      // (`reloadIfChanged` normally picks that up within half a second). Unchanged apps keep their document.
      await load();
      return { rotated, retired, created };
    },
  };
}

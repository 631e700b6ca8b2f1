/**
 * @module The re-hash after a sign-in whose password was proven against a hash Heimdall did not write
 * (docs/decisions.md, "Imported password hashes"). Part of the auth service (`service.ts` composes it).
 */
import type { CallMeta } from "../core/principal.ts";
import { tx } from "../db/client.ts";
import { importedHashFormat } from "../passwords/imported.ts";
import type { EndUserRow } from "../users/store.ts";
import { type AuthContext, endUserActor } from "./context.ts";

export type PasswordRehash = (
  appId: string,
  user: EndUserRow,
  oldHash: string,
  password: string,
  meta: CallMeta,
) => Promise<void>;

export function createPasswordRehash({ deps, store }: AuthContext): PasswordRehash {
  const { db, audit, passwords, log } = deps;

  /**
   * The password was just proven against a hash Heimdall did not write (imported, or older parameters): it is
   * hashed again with today's argon2id and stored if the row still holds the old hash. `password_changed_at`
   * stays, since the password itself did not change (docs/decisions.md, "Imported password hashes").
   */
  return async function rehashIfNeeded(appId, user, oldHash, password, meta) {
    if (!passwords.needsRehash(oldHash)) return;
    try {
      const newHash = await passwords.hash(password, meta.signal);
      await tx(db, async () => {
        if (!(await store.replacePasswordHash(user.id, oldHash, newHash))) return;
        await audit.record({
          appId,
          action: "user.password_rehashed",
          resourceType: "end_user",
          resourceId: user.id,
          actor: endUserActor(user.id),
          // The formats only, never a hash.
          details: { previous_format: importedHashFormat(oldHash) ?? "unknown", algorithm: "argon2id" },
          meta,
        });
      });
    } catch (err) {
      log.warn("sign-in: re-hashing the password failed; the old hash stays", {
        app_id: appId,
        user_id: user.id,
        // The error's code or class is enough to act on; its message is not logged.
        reason: (err as { code?: string }).code ?? (err instanceof Error ? err.name : "unknown"),
      });
    }
  };
}

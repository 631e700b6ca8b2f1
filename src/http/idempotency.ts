/** @module Idempotency-Key (docs/decisions.md, "Wire and HTTP"): same key + same body replays for 24 h; a different body is a 409. */
import { and, eq, like, lt, lte } from "drizzle-orm";
import { type Clock, DAY } from "../core/clock.ts";
import { sha256Hex } from "../core/crypto.ts";
import { fail, validationError } from "../core/errors.ts";
import type { PlatformPrincipal } from "../core/principal.ts";
import { type Db, tx } from "../db/client.ts";
import { affected, first } from "../db/query.ts";
import type { Vault } from "../vault/vault.ts";

export interface StoredResponse {
  status: number;
  body: unknown;
}

export interface RunOptions {
  /**
   * The response carries a secret shown once (a client secret, an API key): it is kept for the replay
   * window sealed by the vault, never in clear, and shredded with the row.
   */
  seal?: boolean;
}

export interface Idempotency {
  /**
   * Runs `fn` once per (scope, key). `scope` must identify the caller and the route so that two
   * callers never share keys. A request still in flight with the same key gets 409 too.
   */
  run(
    scope: string,
    key: string | null,
    body: unknown,
    fn: () => Promise<StoredResponse>,
    opts?: RunOptions,
  ): Promise<StoredResponse & { replayed: boolean }>;
  purge(): Promise<number>;
}

const IN_FLIGHT = 0;

/** What the `body` column holds for a sealed response: a pointer to the vault row, nothing readable. */
const SEALED_MARK = '{"$vault":';
const sealedRef = (stored: string): string | null =>
  stored.startsWith(SEALED_MARK) ? (JSON.parse(stored) as { $vault: string }).$vault : null;

export function createIdempotency({
  db,
  clock,
  vault,
}: {
  db: Db;
  clock: Clock;
  vault?: Vault;
}): Idempotency {
  const { idempotencyKeys } = db.tables;
  const aadOf = (scope: string, key: string) => `idempotency:${scope}:${key}`;
  const sealBody = async (scope: string, key: string, body: unknown): Promise<string> => {
    if (!vault) throw new Error("idempotency: sealed responses need a vault");
    const id = await vault.seal(aadOf(scope, key), new TextEncoder().encode(JSON.stringify(body)));
    return JSON.stringify({ $vault: id });
  };
  const openBody = async (scope: string, key: string, stored: string): Promise<unknown> => {
    const ref = sealedRef(stored);
    if (ref === null) return JSON.parse(stored);
    if (!vault) throw new Error("idempotency: sealed responses need a vault");
    return JSON.parse(new TextDecoder().decode(await vault.open(ref, aadOf(scope, key))));
  };
  /** Shreds the sealed copy of a stored response that is being dropped or overwritten. */
  const release = async (stored: string | undefined): Promise<void> => {
    const ref = stored === undefined ? null : sealedRef(stored);
    if (ref !== null) await vault?.destroy([ref]);
  };

  return {
    async run(scope, key, body, fn, opts = {}) {
      if (key === null) return { ...(await fn()), replayed: false };
      if (key.length < 1 || key.length > 255) {
        throw validationError([{ field: "Idempotency-Key", reason: "must be 1-255 characters" }]);
      }
      const requestHash = sha256Hex(JSON.stringify(body ?? null));
      const where = and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key));
      // The insert decides, not a read: a fresh key, or one whose 24 h are over, is reserved by exactly one
      // request, even with several instances on one PostgreSQL (the primary key serialises the conflict).
      const replay = await tx(db, async () => {
        const now = clock.now();
        const previous = await first(db.select().from(idempotencyKeys).where(where).limit(1));
        const reserved = await db
          .insert(idempotencyKeys)
          .values({ scope, key, requestHash, status: IN_FLIGHT, body: "null", createdAt: now })
          .onConflictDoUpdate({
            target: [idempotencyKeys.scope, idempotencyKeys.key],
            set: { requestHash, status: IN_FLIGHT, body: "null", createdAt: now },
            setWhere: lte(idempotencyKeys.createdAt, now - DAY),
          })
          .returning({ key: idempotencyKeys.key });
        if (reserved.length > 0) {
          // Only the request that took the expired row over shreds the response it held.
          if (previous && previous.createdAt <= now - DAY) await release(previous.body);
          return null;
        }
        const existing = await first(db.select().from(idempotencyKeys).where(where).limit(1));
        if (!existing) throw fail("IDEMPOTENCY_KEY_IN_USE");
        if (existing.requestHash !== requestHash) {
          throw fail("IDEMPOTENCY_KEY_REUSE");
        }
        if (existing.status === IN_FLIGHT) {
          throw fail("IDEMPOTENCY_KEY_IN_USE");
        }
        return { status: existing.status, body: await openBody(scope, key, existing.body), replayed: true };
      });
      if (replay) return replay;
      try {
        const res = await fn();
        if (res.status >= 200 && res.status < 300) {
          await tx(db, async () => {
            const stored = opts.seal ? await sealBody(scope, key, res.body) : JSON.stringify(res.body);
            await db.update(idempotencyKeys).set({ status: res.status, body: stored }).where(where);
          });
        } else {
          await tx(db, async () => {
            await db.delete(idempotencyKeys).where(where);
          });
        }
        return { ...res, replayed: false };
      } catch (err) {
        // A failed attempt does not consume the key: the client may retry it.
        await tx(db, async () => {
          await db.delete(idempotencyKeys).where(where);
        });
        throw err;
      }
    },
    async purge() {
      const expired = lt(idempotencyKeys.createdAt, clock.now() - DAY);
      return await tx(db, async () => {
        const sealed = await db
          .select({ body: idempotencyKeys.body })
          .from(idempotencyKeys)
          .where(and(expired, like(idempotencyKeys.body, `${SEALED_MARK}%`)));
        for (const r of sealed) await release(r.body);
        return affected(await db.delete(idempotencyKeys).where(expired));
      });
    },
  };
}

/** Idempotency keys are per caller and per route: a PAK and a person never share a key space, nor do two apps. */
export const idempotencyScope = (p: PlatformPrincipal, route: string) =>
  `${p.kind === "pak" ? `pak:${p.pakId}` : p.kind === "local" ? `local:${p.workspaceId}` : `user:${p.userId}`}:${route}`;

/**
 * The create-route glue shared by every route that honours `Idempotency-Key`: runs `create` once per
 * (caller, route, key), answers 201 or the replayed status, and marks replays with `Idempotent-Replayed`.
 */
export async function idempotentCreate(
  idempotency: Idempotency,
  o: {
    principal: PlatformPrincipal;
    route: string;
    request: Request;
    body: unknown;
    set: { status?: unknown; headers: Record<string, unknown> };
    /** The response holds a secret shown once: stored sealed so a replay can show it again. */
    seal?: boolean;
  },
  create: () => Promise<unknown>,
): Promise<unknown> {
  const res = await idempotency.run(
    idempotencyScope(o.principal, o.route),
    o.request.headers.get("idempotency-key"),
    o.body,
    async () => ({ status: 201, body: await create() }),
    { seal: o.seal ?? false },
  );
  o.set.status = res.status;
  if (res.replayed) o.set.headers["idempotent-replayed"] = "true";
  return res.body;
}

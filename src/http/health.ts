/** @module Health endpoints (docs/operations.md, "Probes, metrics, logs" and "Readiness checks"): /healthz (liveness), /readyz (database, signing keys, vault) and /metrics. */
import { Elysia } from "elysia";
import { type Clock, MINUTE, SECOND } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import { type Db, inTurn } from "../db/client.ts";
import { REACHABLE_WITHIN_MS } from "../db/pg-connect.ts";
import { postgresOf } from "../db/postgres.ts";
import type { KeyService } from "../keys/service.ts";
import type { Vault } from "../vault/vault.ts";
import type { Metrics } from "./metrics.ts";

const NO_STORE = { "cache-control": "no-store" };
const PROMETHEUS = { ...NO_STORE, "content-type": "text/plain; version=0.0.4; charset=utf-8" };

/** How long a successful or failed vault check is reused: decrypting every DEK per probe would be waste. */
export const KEYS_CHECK_TTL = MINUTE;
/** How long the signing-key check (one decryption per active app) is reused. */
export const SIGNING_CHECK_TTL = 5 * SECOND;
/**
 * How often a probe commits a real write. A commit is an fsync (`synchronous=FULL`, ~0.5–1.5 ms here with the
 * write lock held); /readyz needs no credential, so it must not turn a flood of probes into a flood of fsyncs.
 */
export const DB_WRITE_CHECK_TTL = 10 * SECOND;
/** The probe's own row in a small key-value table; no rate limiter key has this form. */
export const READYZ_PROBE_KEY = "readyz:probe";

type Check = "ok" | "failed";
interface Outcome {
  result: Check;
  /** Short and non-secret: it goes into the unauthenticated body. */
  reason?: string;
}

/** A SQLite error code (`SQLITE_CORRUPT`, `SQLITE_FULL`, …) says what broke without paths or contents. */
const sqliteCode = (err: unknown): string => {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && /^SQLITE_[A-Z_]+$/.test(code) ? code : "error";
};

/** SQLSTATEs a probe meets when the database, not Heimdall, is the problem, in words. */
const SQLSTATE_WORDS: Readonly<Record<string, string>> = {
  "25006": "read-only transaction: a standby, not the primary",
  "53100": "disk full",
  "53300": "too many connections",
  "57P01": "server shutting down",
  "57P03": "server starting up or in recovery",
  "57014": "statement timeout",
  "3D000": "database does not exist",
  "28P01": "password authentication failed",
  "28000": "authentication refused",
  "42P01": "table missing: migrations not applied",
};

/**
 * What a PostgreSQL error says, from its codes only: Bun's client code in words (`ERR_POSTGRES_CONNECTION_REFUSED`
 * → "connection refused") or the server's SQLSTATE. Messages are never used: they may name hosts, users or URLs.
 */
const postgresCode = (err: unknown): string => {
  const { code, errno } = err as { code?: unknown; errno?: unknown };
  if (typeof code === "string" && code.startsWith("ERR_POSTGRES_") && code !== "ERR_POSTGRES_SERVER_ERROR")
    return code.slice("ERR_POSTGRES_".length).toLowerCase().replaceAll("_", " ");
  const state = typeof errno === "string" ? errno : typeof code === "string" ? code : "";
  if (/^[0-9A-Z]{5}$/.test(state)) return SQLSTATE_WORDS[state] ?? `SQLSTATE ${state}`;
  return "error";
};

/** What the probes read: the database, the vault and signing keys they check, and the metrics they render. */
export interface HealthDeps {
  readonly db: Db;
  readonly vault: Vault;
  readonly keys: KeyService;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: Metrics;
}

export function healthRoutes(deps: HealthDeps) {
  const { db, vault, keys, clock, log, metrics } = deps;
  let vaultCheck: (Outcome & { at: number }) | undefined;
  let signingCheck: (Outcome & { at: number }) | undefined;
  let durableWriteAt: number | undefined;
  const sqlite = db.$client;

  // Reads page 1, the schema and a real table's b-tree: a file that is not (or no longer) a database,
  // or whose schema pages are corrupt, fails here while BEGIN IMMEDIATE alone still succeeds.
  const readProbe = () =>
    sqlite
      .query(
        "SELECT (SELECT count(*) FROM sqlite_schema) AS s, (SELECT count(*) FROM (SELECT 1 FROM apps LIMIT 1)) AS a",
      )
      .get();
  const upsertProbe = (now: number) =>
    sqlite
      .query(
        "INSERT INTO rate_limits (key, window_start, count) VALUES (?1, ?2, 0) ON CONFLICT(key) DO UPDATE SET window_start = ?2",
      )
      .run(READYZ_PROBE_KEY, now);

  /**
   * Every probe reads, takes the write lock and changes a row in it, then rolls back: that costs
   * tens of microseconds and no fsync. At most every DB_WRITE_CHECK_TTL the change is committed instead,
   * so a disk that stopped taking writes (full, read-only remount) shows within seconds.
   */
  // Synchronous between BEGIN and its end, and run in the connection's turn: nothing can interleave.
  const dbCheck = (): Promise<Outcome> => (db.engine === "postgres" ? postgresProbe() : inTurn(db, probe));
  const probe = (): Outcome => {
    let stage = "read";
    try {
      readProbe();
      stage = "write lock";
      sqlite.exec("BEGIN IMMEDIATE");
      stage = "write";
      const now = clock.now();
      const durable = durableWriteAt === undefined || now - durableWriteAt >= DB_WRITE_CHECK_TTL;
      try {
        upsertProbe(now);
      } catch (err) {
        sqlite.exec("ROLLBACK");
        throw err;
      }
      if (durable) {
        stage = "commit";
        sqlite.exec("COMMIT");
        durableWriteAt = now;
      } else sqlite.exec("ROLLBACK");
      return { result: "ok" };
    } catch (err) {
      // A failed COMMIT may leave the probe's transaction open; an earlier stage opened none of its own
      // (and a transaction already open on the connection is not the probe's to end).
      if (stage === "commit") {
        try {
          sqlite.exec("ROLLBACK");
        } catch {
          // SQLite already rolled it back.
        }
      }
      log.warn("readiness: database check failed", { stage, err });
      return { result: "failed", reason: `${stage} failed (${sqliteCode(err)})` };
    }
  };

  /**
   * PostgreSQL: `select 1` on the pool, then a transaction of its own that reads a table, upserts the probe row
   * and is rolled back by a thrown sentinel. A standby (read-only), a full disk, a closed or unreachable server
   * each fail a stage; PostgreSQL commits are the server's business, so nothing is ever committed here. A server
   * that does not answer within REACHABLE_WITHIN_MS fails the probe rather than holding a load balancer's check.
   */
  const ROLLED_BACK = new Error("readiness probe: rolled back");
  const postgresProbe = async (): Promise<Outcome> => {
    const client = postgresOf(db).$client;
    let stage = "connect";
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Error("readiness probe: no answer");
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(timedOut), REACHABLE_WITHIN_MS);
    });
    const run = async () => {
      await client`select 1`;
      stage = "read";
      await client
        .begin(async (t) => {
          await t`select 1 from apps limit 1`;
          stage = "write";
          await t`insert into rate_limits (key, window_start, count) values (${READYZ_PROBE_KEY}, ${clock.now()}, 0)
                  on conflict (key) do update set window_start = excluded.window_start`;
          throw ROLLED_BACK;
        })
        .catch((err: unknown) => {
          if (err !== ROLLED_BACK) throw err;
        });
    };
    try {
      await Promise.race([run(), late]);
      return { result: "ok" };
    } catch (err) {
      const why = err === timedOut ? `no answer within ${REACHABLE_WITHIN_MS / 1000} s` : postgresCode(err);
      log.warn("readiness: database check failed", { stage, reason: why });
      return { result: "failed", reason: `${stage} failed (${why})` };
    } finally {
      clearTimeout(timer);
    }
  };

  const cachedCheck = async (
    prev: (Outcome & { at: number }) | undefined,
    ttl: number,
    run: () => Promise<Outcome>,
  ): Promise<Outcome & { at: number }> => {
    const now = clock.now();
    if (prev && now - prev.at < ttl) return prev;
    return { ...(await run()), at: now };
  };

  // The master key still opens every stored secret (DEKs only: cheap per secret, but there may be many).
  const runVaultCheck = async (): Promise<Outcome> => {
    try {
      await vault.verifyAll();
      return { result: "ok" };
    } catch (err) {
      log.warn("readiness: stored secrets cannot be decrypted", { err });
      return { result: "failed", reason: "the master key does not open every stored secret" };
    }
  };

  // Every active app can sign: its active key exists and its sealed private half opens.
  const runSigningCheck = async (): Promise<Outcome> => {
    try {
      const { apps, failing } = await keys.signingHealth();
      if (failing.length === 0) return { result: "ok" };
      log.warn("readiness: signing keys cannot be used", { failing });
      return {
        result: "failed",
        reason: `${failing.length} of ${apps} active app(s) cannot sign: active signing key missing or unreadable`,
      };
    } catch (err) {
      log.warn("readiness: signing keys cannot be checked", { err });
      const code = db.engine === "postgres" ? postgresCode(err) : sqliteCode(err);
      return { result: "failed", reason: `signing keys cannot be read (${code})` };
    }
  };

  const keysCheck = async (): Promise<Outcome> => {
    signingCheck = await cachedCheck(signingCheck, SIGNING_CHECK_TTL, runSigningCheck);
    vaultCheck = await cachedCheck(vaultCheck, KEYS_CHECK_TTL, runVaultCheck);
    const reasons = [signingCheck.reason, vaultCheck.reason].filter(Boolean);
    return signingCheck.result === "ok" && vaultCheck.result === "ok"
      ? { result: "ok" }
      : { result: "failed", reason: reasons.join("; ") };
  };

  return (
    new Elysia()
      .get("/healthz", ({ set }) => {
        Object.assign(set.headers, NO_STORE);
        return { status: "ok" };
      })
      .get("/readyz", async ({ set }) => {
        const store = await dbCheck();
        const signing = await keysCheck();
        const ready = store.result === "ok" && signing.result === "ok";
        set.status = ready ? 200 : 503;
        Object.assign(set.headers, NO_STORE);
        const checks = { db: store.result, keys: signing.result };
        if (ready) return { status: "ready", checks };
        const reasons: { db?: string; keys?: string } = {};
        if (store.reason) reasons.db = store.reason;
        if (signing.reason) reasons.keys = signing.reason;
        return { status: "unavailable", checks, reasons };
      })
      // Strings plus `set.headers`, not Response objects: Elysia rebuilds a returned Response to merge
      // the request-id header into it, which costs more than the work these handlers do.
      .get("/metrics", async ({ set }) => {
        Object.assign(set.headers, PROMETHEUS);
        return await metrics.render();
      })
  );
}

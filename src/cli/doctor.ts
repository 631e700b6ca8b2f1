/** @module `heimdall doctor`: checks the data dir, database, keys, email and host, read-only, and prints each finding with its fix; exit 1 when anything fails. */
import { Database } from "bun:sqlite";
import { systemClock } from "../core/clock.ts";
import { createLogger } from "../core/logger.ts";
import { closePostgres, openPostgresDatabase } from "../db/postgres.ts";
import { buildDeps, type Deps } from "../deps.ts";
import {
  checkClock,
  checkDatabaseFile,
  checkFiles,
  checkMigrations,
  checkPostgresClock,
  checkPostgresConnection,
  checkPostgresMigrations,
  checkSchedulerLease,
  type Finding,
  sqliteNotInUse,
} from "../ops/doctor.ts";
import { checkEmailConfig, sendTestEmail } from "../ops/doctor-email.ts";
import { checkDiskSpace, checkLastBackup, checkPublicUrl, checkTrustedProxies } from "../ops/doctor-host.ts";
import { checkMasterKeys, checkSigningKeys } from "../ops/doctor-keys.ts";
import { loadMasterKeys, type MasterKeys, VaultError } from "../vault/master-key.ts";
import {
  type CommandSpec,
  configFrom,
  EXIT_FAILURE,
  EXIT_OK,
  type Io,
  optionalString,
  simpleCommand,
} from "./args.ts";

const spec: CommandSpec = {
  name: "doctor",
  summary: "Check the data dir, database, keys, email and host; print each problem with its fix.",
  notes: [
    "With --database-url (HEIMDALL_DATABASE_URL) the database checks are PostgreSQL's: the connection and the",
    "applied migrations; the data dir's SQLite file is not checked.",
    "Each line is `ok|warn|fail  <check>: <finding> — <fix>`. Exit 0 when nothing fails (warnings are printed",
    "but do not fail), 1 otherwise. Read-only: it runs beside a running server, applies no migrations and",
    "sends nothing unless --send-test-email is given. The last backup is looked for in --backup-dir",
    "(HEIMDALL_BACKUP_DIR).",
  ],
  options: {
    json: { type: "boolean", help: "print the findings as JSON" },
    "send-test-email": {
      type: "string",
      arg: "<address>",
      help: "send a test email to <address> through the configured transport",
    },
  },
  config: true,
};

/** The reachability probe's timeout: short, because an unreachable URL is a warning, not a reason to hang. */
const PROBE_TIMEOUT_MS = 3_000;

const skipped = (check: string, why: string): Finding => ({
  status: "warn",
  check,
  finding: `not checked: ${why}`,
  fix: "fix the failures above, then run doctor again",
});

/**
 * A check that reads tables: on a database whose schema is not what this binary expects (pending or
 * foreign migrations) a query may fail, which is then that check's finding rather than a crash.
 */
async function guarded(check: string, run: () => Promise<Finding[]>): Promise<Finding[]> {
  try {
    return await run();
  } catch (err) {
    return [
      {
        status: "fail",
        check,
        finding: `cannot be read (${(err as Error).message})`,
        fix: "fix the migrations finding first; otherwise restore the database from a backup",
      },
    ];
  }
}

export const command = simpleCommand(spec, async (args, io) => {
  const config = configFrom(args.values);
  const clock = systemClock;
  const findings: Finding[] = [];

  const files = checkFiles(config, process.getuid?.() ?? null);
  findings.push(...files);
  const keyFileFailed = files.some((f) => f.check === "master key file" && f.status === "fail");
  let keys: MasterKeys | null = null;
  let keysProblem = "the master key file cannot be loaded";
  if (!keyFileFailed) {
    try {
      keys = loadMasterKeys(config.masterKeyFile);
    } catch (err) {
      if (!(err instanceof VaultError)) throw err;
      keysProblem = err.message;
      findings.push({
        status: "fail",
        check: "master key file",
        finding: err.message,
        fix: "restore the key file from your backup",
      });
    }
  }

  // With a database URL the store is PostgreSQL: its connection and migrations replace the SQLite file's checks.
  let dbSound: boolean;
  if (config.databaseUrl) {
    findings.push(sqliteNotInUse(config.dbFile, config.databaseUrl));
    const pg = openPostgresDatabase(config.databaseUrl, { max: 1, applicationName: "heimdall doctor" });
    try {
      const connection = await checkPostgresConnection(pg, config.databaseUrl);
      findings.push(connection);
      if (connection.status === "ok") {
        const migrations = await checkPostgresMigrations(pg);
        findings.push(migrations);
        findings.push(
          ...(migrations.status === "ok"
            ? await guarded("clock", async () => [
                await checkPostgresClock(pg, clock),
                await checkSchedulerLease(pg),
              ])
            : [skipped("clock", "the migrations are not as this binary expects")]),
        );
        dbSound = migrations.status === "ok";
      } else {
        findings.push(skipped("migrations", "the database cannot be reached"));
        dbSound = false;
      }
    } finally {
      await closePostgres(pg);
    }
  } else {
    const database = checkDatabaseFile(config.dbFile);
    findings.push(database);
    dbSound = database.status === "ok";
    if (dbSound) {
      // A read-only connection of its own: doctor must not change the schema or checkpoint beside a server.
      const raw = new Database(config.dbFile, { readonly: true });
      try {
        findings.push(checkMigrations({ $client: raw }), checkClock({ $client: raw }, clock));
      } finally {
        raw.close();
      }
    } else {
      findings.push(skipped("migrations", "the database cannot be read"));
    }
  }

  let deps: Deps | null = null;
  const dbProblem = config.databaseUrl
    ? "the database cannot be reached, or its migrations are not as this binary expects"
    : "the database cannot be read";
  let depsProblem = !dbSound ? dbProblem : keysProblem;
  if (dbSound && keys) {
    try {
      deps = await buildDeps(config, {
        log: createLogger(config.logLevel, (line) => io.err(line)),
        readOnly: true,
      });
    } catch (err) {
      depsProblem = `the services cannot be opened (${(err as Error).message})`;
      findings.push({
        status: "fail",
        check: "services",
        finding: depsProblem,
        fix: "apply pending migrations with `heimdall migrate`, or restore from a backup",
      });
    }
  }
  try {
    if (deps && keys) {
      const d = deps;
      const k = keys;
      findings.push(
        ...(await guarded("master keys", async () => [
          checkMasterKeys(k, await d.vault.kekIdsInUse(), config.masterKeyFile),
        ])),
        ...(await guarded("signing keys", async () => checkSigningKeys(await d.keys.diagnose(), clock))),
      );
    } else {
      findings.push(skipped("master keys", depsProblem), skipped("signing keys", depsProblem));
    }
    findings.push(checkEmailConfig(config));
    const testTo = optionalString(args.values, "send-test-email");
    if (testTo !== undefined) {
      findings.push(
        deps
          ? await sendTestEmail(deps.email.transport, testTo, config, clock)
          : skipped("test email", depsProblem),
      );
    }
  } finally {
    if (deps) {
      deps.email.transport.close();
      if (deps.db.engine === "postgres") await closePostgres(deps.db);
      else deps.db.$client.close();
    }
  }
  findings.push(checkTrustedProxies(config.trustedProxies));
  findings.push(await checkPublicUrl(config.publicUrl, PROBE_TIMEOUT_MS));
  findings.push(checkDiskSpace(config.dataDir));
  findings.push(checkLastBackup(config.backupDir, clock));

  report(findings, args.values.json === true, io);
  return findings.some((f) => f.status === "fail") ? EXIT_FAILURE : EXIT_OK;
});

function report(findings: readonly Finding[], json: boolean, io: Io): void {
  const count = (s: Finding["status"]) => findings.filter((f) => f.status === s).length;
  if (json) {
    io.out(JSON.stringify({ ok: count("fail") === 0, checks: findings }, null, 2));
    return;
  }
  for (const f of findings)
    io.out(`${f.status.padEnd(4)}  ${f.check}: ${f.finding}${f.fix ? ` — ${f.fix}` : ""}`);
  io.out("");
  io.out(`${count("ok")} ok, ${count("warn")} warning(s), ${count("fail")} failure(s)`);
}

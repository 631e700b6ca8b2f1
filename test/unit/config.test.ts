/** @module Config loading: precedence flags > HEIMDALL_* env > file (JSON or TOML) > defaults; bad values name their key. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { CliError, EXIT_USAGE, parseCommand } from "../../src/cli/args.ts";
import { ConfigError, LOG_MODE_EMAIL_FROM, loadConfig } from "../../src/config/index.ts";
import { nearest } from "../../src/core/nearest.ts";
import { clientIp } from "../../src/http/request-state.ts";
import { autoHashThreads } from "../../src/passwords/argon2-params.ts";

const dir = mkdtempSync(join(tmpdir(), "heimdall-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

const PAK = `pcft_live_${"a".repeat(32)}`;

describe("defaults", () => {
  test("an empty environment gives the README's defaults", () => {
    const c = loadConfig({}, {});
    expect(c).toMatchObject({
      host: "0.0.0.0",
      port: 8080,
      publicUrl: "http://localhost:8080",
      dataDir: "./data",
      dbFile: join("./data", "heimdall.db"),
      masterKeyFile: join("./data", "master.key"),
      logLevel: "info",
      emailMode: "log",
      trustedProxies: [],
      rsaBits: 2048,
      hashPriority: "idle",
      auditRetentionDays: 90,
      bootstrap: { email: undefined, password: undefined, pak: undefined },
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  test("HEIMDALL_HASH_PRIORITY picks the argon2 threads' priority", () => {
    expect(loadConfig({}, { HEIMDALL_HASH_PRIORITY: "normal" }).hashPriority).toBe("normal");
    expect(loadConfig({}, { HEIMDALL_HASH_PRIORITY: "low" }).hashPriority).toBe("low");
  });

  test("HEIMDALL_HASH_THREADS / hash_threads: auto (the default) is cores − 1, at least 1; or 1 to twice the cores", () => {
    const cores = availableParallelism();
    expect(loadConfig({}, {}).hashThreads).toBe(Math.max(1, cores - 1));
    expect(loadConfig({}, { HEIMDALL_HASH_THREADS: "auto" }).hashThreads).toBe(Math.max(1, cores - 1));
    expect(loadConfig({}, { HEIMDALL_HASH_THREADS: "1" }).hashThreads).toBe(1);
    expect(loadConfig({}, { HEIMDALL_HASH_THREADS: String(cores * 2) }).hashThreads).toBe(cores * 2);
    expect(loadConfig({ config: file("threads.json", '{"hash_threads": 2}') }, {}).hashThreads).toBe(2);
    expect(loadConfig({ config: file("threads.toml", 'hash_threads = "auto"\n') }, {}).hashThreads).toBe(
      Math.max(1, cores - 1),
    );
    // The environment wins over the file, as for every key.
    const path = file("threads-env.toml", "hash_threads = 1\n");
    expect(loadConfig({ config: path }, { HEIMDALL_HASH_THREADS: "2" }).hashThreads).toBe(2);
    expect(autoHashThreads(1)).toBe(1);
    expect(autoHashThreads(2)).toBe(1);
    expect(autoHashThreads(16)).toBe(15);
  });

  test("HEIMDALL_HASH_THREADS refuses 0, more than twice the cores, fractions and words, naming what it expects", () => {
    const max = availableParallelism() * 2;
    const expected = `expected auto or a whole number of threads 1–${max} (twice the cores)`;
    for (const bad of ["0", String(max + 1), "1.5", "all", "-2"]) {
      expect(() => loadConfig({}, { HEIMDALL_HASH_THREADS: bad })).toThrow(
        new ConfigError(`HEIMDALL_HASH_THREADS (env): ${expected}, got "${bad}"`),
      );
    }
    const path = file("threads-bad.json", '{"hash_threads": 0}');
    expect(() => loadConfig({ config: path }, {})).toThrow(
      new ConfigError(`hash_threads in ${path}: ${expected}, got 0`),
    );
  });

  test("audit retention comes from the file, HEIMDALL_AUDIT_RETENTION_DAYS or --audit-retention-days; 0 keeps all", () => {
    const path = file("retention.json", JSON.stringify({ audit_retention_days: 30 }));
    expect(loadConfig({ config: path }, {}).auditRetentionDays).toBe(30);
    const env = { HEIMDALL_AUDIT_RETENTION_DAYS: "400" };
    expect(loadConfig({ config: path }, env).auditRetentionDays).toBe(400);
    expect(loadConfig({ config: path, "audit-retention-days": "0" }, env).auditRetentionDays).toBe(0);
    const toml = file("retention.toml", "audit_retention_days = 7\n");
    expect(loadConfig({ config: toml }, {}).auditRetentionDays).toBe(7);
  });

  test("the public URL follows the port and the key file follows the data dir; a trailing slash is dropped", () => {
    const c = loadConfig({ port: "9000", "data-dir": "/srv/h" }, {});
    expect(c.publicUrl).toBe("http://localhost:9000");
    expect(c.masterKeyFile).toBe("/srv/h/master.key");
    expect(c.dbFile).toBe("/srv/h/heimdall.db");
    expect(loadConfig({ "public-url": "https://id.example.com/" }, {}).publicUrl).toBe(
      "https://id.example.com",
    );
  });

  test("SMTP URL switches the email mode to smtp unless set explicitly; proxies split on commas", () => {
    expect(loadConfig({}, { HEIMDALL_SMTP_URL: "smtp://mail:25" }).emailMode).toBe("smtp");
    expect(
      loadConfig({}, { HEIMDALL_SMTP_URL: "smtp://mail:25", HEIMDALL_EMAIL_MODE: "log" }).emailMode,
    ).toBe("log");
    expect(loadConfig({}, { HEIMDALL_TRUSTED_PROXIES: "10.0.0.1, 10.0.0.2,," }).trustedProxies).toEqual([
      "10.0.0.1",
      "10.0.0.2",
    ]);
  });
});

describe("precedence", () => {
  const json = file(
    "heimdall.json",
    JSON.stringify({
      host: "10.0.0.1",
      port: 7000,
      log_level: "warn",
      data_dir: "/from/json",
      rsa_bits: 3072,
    }),
  );
  const toml = file(
    "heimdall.toml",
    'host = "10.0.0.2"\nport = 7001\nlog_level = "error"\ndata_dir = "/from/toml"\ntrusted_proxies = ["10.1.1.1"]\n',
  );

  test.each([
    ["JSON", json, { host: "10.0.0.1", port: 7000, logLevel: "warn", dataDir: "/from/json", rsaBits: 3072 }],
    [
      "TOML",
      toml,
      {
        host: "10.0.0.2",
        port: 7001,
        logLevel: "error",
        dataDir: "/from/toml",
        trustedProxies: ["10.1.1.1"],
      },
    ],
  ])("a %s file overrides the defaults", (_kind, path, expected) => {
    expect(loadConfig({ config: path }, {})).toMatchObject(expected);
  });

  test("HEIMDALL_CONFIG names the file when --config is absent; --config wins over it", () => {
    expect(loadConfig({}, { HEIMDALL_CONFIG: json }).host).toBe("10.0.0.1");
    expect(loadConfig({ config: toml }, { HEIMDALL_CONFIG: json }).host).toBe("10.0.0.2");
  });

  test("env overrides the file, flags override env", () => {
    const env = {
      HEIMDALL_CONFIG: json,
      HEIMDALL_PORT: "7100",
      HEIMDALL_HOST: "127.0.0.1",
      HEIMDALL_LOG_LEVEL: "debug",
    };
    const fromEnv = loadConfig({}, env);
    expect(fromEnv).toMatchObject({
      port: 7100,
      host: "127.0.0.1",
      logLevel: "debug",
      dataDir: "/from/json",
    });
    const fromFlags = loadConfig({ port: "7200", "log-level": "info", "data-dir": "/from/flag" }, env);
    expect(fromFlags).toMatchObject({
      port: 7200,
      host: "127.0.0.1",
      logLevel: "info",
      dataDir: "/from/flag",
    });
  });

  test("an empty env variable counts as unset", () => {
    expect(loadConfig({}, { HEIMDALL_CONFIG: json, HEIMDALL_PORT: "" }).port).toBe(7000);
  });

  test("bootstrap credentials come from env only", () => {
    const c = loadConfig(
      {},
      {
        HEIMDALL_BOOTSTRAP_EMAIL: "ops@example.test",
        HEIMDALL_BOOTSTRAP_PASSWORD: "a long enough secret",
        HEIMDALL_BOOTSTRAP_PAK: PAK,
      },
    );
    expect(c.bootstrap).toEqual({ email: "ops@example.test", password: "a long enough secret", pak: PAK });
  });
});

describe("bad values fail at start-up, naming the key as its source spells it and what it expects", () => {
  test.each([
    [{}, { HEIMDALL_PORT: "abc" }, 'HEIMDALL_PORT (env): expected an integer 1–65535, got "abc"'],
    [{ port: "abc" }, {}, '--port: expected an integer 1–65535, got "abc"'],
    [{ port: "70000" }, {}, '--port: expected an integer 1–65535, got "70000"'],
    [{ port: "0" }, {}, '--port: expected an integer 1–65535, got "0"'],
    [
      {},
      { HEIMDALL_BOOTSTRAP_PAK: "pcft_live_short" },
      "HEIMDALL_BOOTSTRAP_PAK (env): expected a token matching pcft_live_[A-Za-z0-9_-]{32,}, got a value of 15 characters (not shown)",
    ],
    [
      {},
      { HEIMDALL_BOOTSTRAP_PAK: `hdk_live_${"a".repeat(40)}` },
      "HEIMDALL_BOOTSTRAP_PAK (env): expected a token matching pcft_live_[A-Za-z0-9_-]{32,}, got a value of 49 characters (not shown)",
    ],
    [
      {},
      { HEIMDALL_BOOTSTRAP_EMAIL: "not-an-email" },
      'HEIMDALL_BOOTSTRAP_EMAIL (env): expected an email address, got "not-an-email"',
    ],
    [
      {},
      { HEIMDALL_BOOTSTRAP_PASSWORD: "short" },
      "HEIMDALL_BOOTSTRAP_PASSWORD (env): expected 12 to 256 characters, got a value of 5 characters (not shown)",
    ],
    [
      { "public-url": "ftp://example.com" },
      {},
      '--public-url: expected an http:// or https:// URL, e.g. https://id.example.com, got "ftp://example.com"',
    ],
    [{ "log-level": "verbose" }, {}, '--log-level: expected one of debug, info, warn, error, got "verbose"'],
    [{}, { HEIMDALL_RSA_BITS: "1024" }, 'HEIMDALL_RSA_BITS (env): expected 2048, 3072 or 4096, got "1024"'],
    [{}, { HEIMDALL_EMAIL_MODE: "pigeon" }, 'HEIMDALL_EMAIL_MODE (env): expected smtp or log, got "pigeon"'],
    [
      {},
      { HEIMDALL_SMTP_URL: "http://user:secret@mail" },
      "HEIMDALL_SMTP_URL (env): expected an smtp:// or smtps:// URL, got a value of 23 characters (not shown)",
    ],
    [
      {},
      { HEIMDALL_HASH_PRIORITY: "realtime" },
      'HEIMDALL_HASH_PRIORITY (env): expected one of idle, low, normal, got "realtime"',
    ],
    [
      {},
      { HEIMDALL_AUDIT_RETENTION_DAYS: "-1" },
      'HEIMDALL_AUDIT_RETENTION_DAYS (env): expected a whole number of days 0–36500 (0 keeps the audit log forever), got "-1"',
    ],
    [
      {},
      { HEIMDALL_AUDIT_RETENTION_DAYS: "1.5" },
      'HEIMDALL_AUDIT_RETENTION_DAYS (env): expected a whole number of days 0–36500 (0 keeps the audit log forever), got "1.5"',
    ],
    [
      { "audit-retention-days": "forever" },
      {},
      '--audit-retention-days: expected a whole number of days 0–36500 (0 keeps the audit log forever), got "forever"',
    ],
  ] as const)("%j %j", (flags, env, message) => {
    expect(() => loadConfig(flags, env)).toThrow(new ConfigError(message));
  });

  test("a value from the file is named with the file; a flag over it is named as the flag", () => {
    const path = file("bad-port.json", JSON.stringify({ port: "eighty" }));
    expect(() => loadConfig({ config: path }, {})).toThrow(
      new ConfigError(`port in ${path}: expected an integer 1–65535, got "eighty"`),
    );
    // The flag replaces the file's value, so the file's mistake no longer matters.
    expect(loadConfig({ config: path, port: "8081" }, {}).port).toBe(8081);
  });

  test("every problem is reported at once, one per line", () => {
    expect(() =>
      loadConfig({ port: "abc" }, { HEIMDALL_LOG_LEVEL: "loud", HEIMDALL_TRUSTED_PROXIES: "nope" }),
    ).toThrow(
      new ConfigError(
        [
          "2 configuration problems:",
          '  --port: expected an integer 1–65535, got "abc"',
          '  HEIMDALL_LOG_LEVEL (env): expected one of debug, info, warn, error, got "loud"',
        ].join("\n"),
      ),
    );
  });

  test("an unknown key in the file suggests the nearest valid one", () => {
    const path = file("prot.json", JSON.stringify({ prot: 8080, trusted_proxy: "10.0.0.1", zzz: 1 }));
    expect(() => loadConfig({ config: path }, {})).toThrow(
      new ConfigError(
        [
          "3 configuration problems:",
          `  prot in ${path}: unknown key; did you mean port?`,
          `  trusted_proxy in ${path}: unknown key; did you mean trusted_proxies?`,
          `  zzz in ${path}: unknown key`,
        ].join("\n"),
      ),
    );
  });

  test("an unknown key in the file is named", () => {
    const path = file("typo.json", JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({ config: path }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ config: path }, {})).toThrow("prot");
  });

  test.each([
    ["a missing file", join(dir, "missing.json")],
    ["unparsable JSON", file("broken.json", "{ port: ")],
    ["unparsable TOML", file("broken.toml", "port = = 1")],
    ["a JSON array", file("array.json", "[1]")],
  ])("%s is a ConfigError naming the file", (_name, path) => {
    expect(() => loadConfig({ config: path }, {})).toThrow(ConfigError);
    expect(() => loadConfig({ config: path }, {})).toThrow(path);
  });
});

describe("checks across keys, refused at start-up", () => {
  test("email mode smtp without an SMTP URL names the mode's source and the key to set", () => {
    const fix =
      "email mode smtp needs an SMTP URL: set HEIMDALL_SMTP_URL (smtp_url in the config file), or use email mode log";
    expect(() => loadConfig({}, { HEIMDALL_EMAIL_MODE: "smtp" })).toThrow(
      new ConfigError(`HEIMDALL_EMAIL_MODE (env): ${fix}`),
    );
    const path = file("smtp-mode.toml", 'email_mode = "smtp"\n');
    expect(() => loadConfig({ config: path }, {})).toThrow(new ConfigError(`email_mode in ${path}: ${fix}`));
    expect(loadConfig({ config: path }, { HEIMDALL_SMTP_URL: "smtp://mail:25" }).emailMode).toBe("smtp");
  });

  test.each([
    ["10.0.0.1"],
    ["10.0.0.0/8"],
    ["192.168.1.0/24, 10.1.2.3"],
    ["::1"],
    ["fd00::/8"],
    ["2001:db8::1/128"],
    ["::ffff:10.0.0.1"],
    ["0.0.0.0/0"],
    ["10.0.0.*"],
  ])("a trusted proxy list of addresses and CIDR ranges is accepted: %s", (list) => {
    expect(loadConfig({}, { HEIMDALL_TRUSTED_PROXIES: list }).trustedProxies.length).toBeGreaterThan(0);
  });

  test.each([
    ["garbage", '"garbage"'],
    ["10.0.0.1, proxy.internal", '"proxy.internal"'],
    ["10.0.0.0/33", '"10.0.0.0/33"'],
    ["::1/129", '"::1/129"'],
    ["300.1.1.1", '"300.1.1.1"'],
    ["10.0.0.1/abc", '"10.0.0.1/abc"'],
    ["10.0.0.0/8/8, 1.2.3", '"10.0.0.0/8/8", "1.2.3"'],
  ])("a trusted proxy list with %s is refused, naming each bad entry", (list, bad) => {
    expect(() => loadConfig({}, { HEIMDALL_TRUSTED_PROXIES: list })).toThrow(
      new ConfigError(
        `HEIMDALL_TRUSTED_PROXIES (env): expected a comma-separated list of IP addresses or CIDR ranges, got ${bad}`,
      ),
    );
  });

  test("a master key file in a missing directory is refused; an existing one, or the data dir itself, is fine", () => {
    const missing = join(dir, "no-such-dir", "keys", "master.key");
    expect(() => loadConfig({ "master-key-file": missing }, {})).toThrow(
      new ConfigError(
        `--master-key-file: the directory ${join(dir, "no-such-dir", "keys")} does not exist; create it (mode 0700) or point the key file at an existing directory`,
      ),
    );
    expect(() => loadConfig({}, { HEIMDALL_MASTER_KEY_FILE: missing })).toThrow(
      "HEIMDALL_MASTER_KEY_FILE (env): the directory",
    );
    expect(loadConfig({ "master-key-file": join(dir, "master.key") }, {}).masterKeyFile).toBe(
      join(dir, "master.key"),
    );
    // `serve`/`init` create the data dir, so a key file directly in a data dir yet to be made is fine…
    const fresh = join(dir, "fresh-data");
    expect(
      loadConfig({ "data-dir": fresh, "master-key-file": join(fresh, "master.key") }, {}).masterKeyFile,
    ).toBe(join(fresh, "master.key"));
    // …and so is the default, which is always there.
    expect(loadConfig({ "data-dir": join(dir, "other-fresh") }, {}).masterKeyFile).toBe(
      join(dir, "other-fresh", "master.key"),
    );
    // A subdirectory of that data dir is not made by anyone.
    expect(() =>
      loadConfig({ "data-dir": fresh, "master-key-file": join(fresh, "keys", "master.key") }, {}),
    ).toThrow(ConfigError);
  });
});

describe("the email sender", () => {
  test("log mode defaults HEIMDALL_EMAIL_FROM to heimdall@localhost; smtp mode has no default; a set value wins", () => {
    expect(LOG_MODE_EMAIL_FROM).toBe("heimdall@localhost");
    expect(loadConfig({}, {}).emailFrom).toBe("heimdall@localhost");
    expect(loadConfig({}, { HEIMDALL_SMTP_URL: "smtp://mail:25" }).emailFrom).toBeUndefined();
    expect(loadConfig({}, { HEIMDALL_EMAIL_FROM: "Acme <no-reply@acme.test>" }).emailFrom).toBe(
      "Acme <no-reply@acme.test>",
    );
  });
});

describe("trusted proxies at request time", () => {
  const server = (peer: string) => ({ requestIP: () => ({ address: peer, family: "IPv4", port: 1 }) });
  const request = (xff: string) => new Request("http://h/", { headers: { "x-forwarded-for": xff } });
  const ip = (peer: string, xff: string, trusted: readonly string[]) =>
    clientIp(request(xff), server(peer) as never, trusted);

  test("a CIDR range trusts every address in it, v4 and v6, and no other", () => {
    const trusted = Object.freeze(["10.0.0.0/8", "fd00::/8"]);
    expect(ip("10.200.3.4", "203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(ip("::ffff:10.1.1.1", "203.0.113.9", trusted)).toBe("203.0.113.9");
    expect(ip("fd12::1", "203.0.113.9, 10.9.9.9", trusted)).toBe("203.0.113.9");
    expect(ip("11.0.0.1", "203.0.113.9", trusted)).toBe("11.0.0.1");
    expect(ip("fe80::1", "203.0.113.9", trusted)).toBe("fe80::1");
  });

  test("exact addresses and the a.b.c.* form still match as before", () => {
    expect(ip("192.168.1.7", "198.51.100.1", ["192.168.1.*"])).toBe("198.51.100.1");
    expect(ip("192.168.2.7", "198.51.100.1", ["192.168.1.*"])).toBe("192.168.2.7");
    expect(ip("10.255.0.1", "198.51.100.1", ["10.255.0.1"])).toBe("198.51.100.1");
    expect(ip("10.255.0.2", "198.51.100.1", ["10.255.0.1"])).toBe("10.255.0.2");
  });
});

describe("command-line flags", () => {
  const spec = { name: "serve", summary: "Run the server.", options: {}, config: true };
  const io = { out: () => {}, err: () => {} };
  const refusal = (argv: string[]) => {
    try {
      parseCommand(spec, argv, io);
    } catch (err) {
      expect(err).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(EXIT_USAGE);
      return (err as CliError).message;
    }
    throw new Error("parseCommand accepted the flags");
  };

  test("an unknown flag suggests the nearest valid one, without the whole usage", () => {
    expect(refusal(["--prot", "8080"])).toBe("heimdall serve: unknown flag --prot; did you mean --port?");
    expect(refusal(["--prot=abc"])).toBe("heimdall serve: unknown flag --prot; did you mean --port?");
    expect(refusal(["--data-dri", "x"])).toBe(
      "heimdall serve: unknown flag --data-dri; did you mean --data-dir?",
    );
    expect(refusal(["--xyzzy"])).toBe(
      "heimdall serve: unknown flag --xyzzy; run `heimdall serve --help` for its options",
    );
  });

  test("nearest picks a close name and declines a far one", () => {
    expect(nearest("prot", ["host", "port", "public-url"])).toBe("port");
    expect(nearest("loglevel", ["log-level", "data-dir"])).toBe("log-level");
    expect(nearest("xyzzy", ["host", "port"])).toBeUndefined();
  });
});

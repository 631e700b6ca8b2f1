/** @module Config loading: precedence flags > HEIMDALL_* env > file (JSON or TOML) > defaults; bad values name their key. */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadConfig } from "../../src/config/index.ts";

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

describe("bad values fail at start-up, naming the key", () => {
  test.each([
    ["port", {}, { HEIMDALL_PORT: "abc" }],
    ["port", { port: "70000" }, {}],
    ["bootstrap_pak", {}, { HEIMDALL_BOOTSTRAP_PAK: "pcft_live_short" }],
    ["bootstrap_pak", {}, { HEIMDALL_BOOTSTRAP_PAK: `hdk_live_${"a".repeat(40)}` }],
    ["bootstrap_email", {}, { HEIMDALL_BOOTSTRAP_EMAIL: "not-an-email" }],
    ["bootstrap_password", {}, { HEIMDALL_BOOTSTRAP_PASSWORD: "short" }],
    ["public_url", { "public-url": "ftp://example.com" }, {}],
    ["log_level", { "log-level": "verbose" }, {}],
    ["rsa_bits", {}, { HEIMDALL_RSA_BITS: "1024" }],
    ["email_mode", {}, { HEIMDALL_EMAIL_MODE: "pigeon" }],
    ["smtp_url", {}, { HEIMDALL_SMTP_URL: "http://mail" }],
    ["hash_priority", {}, { HEIMDALL_HASH_PRIORITY: "realtime" }],
    ["audit_retention_days", {}, { HEIMDALL_AUDIT_RETENTION_DAYS: "-1" }],
    ["audit_retention_days", {}, { HEIMDALL_AUDIT_RETENTION_DAYS: "1.5" }],
    ["audit_retention_days", { "audit-retention-days": "forever" }, {}],
  ] as const)("%s: %j %j", (key, flags, env) => {
    expect(() => loadConfig(flags, env)).toThrow(ConfigError);
    expect(() => loadConfig(flags, env)).toThrow(key);
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

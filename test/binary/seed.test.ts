/**
 * @module `heimdall seed apply` and `heimdall export` in the compiled binary: a TOML seed applied twice (the
 * second changes nothing), a malformed file refused with its paths (exit 2, nothing applied), export → apply
 * into a second data dir → the same export, and over HTTP: the printed M2M secret mints a token, the Admin
 * API shows the seeded role, tenant members and webhook (its given secret), and a seeded user signs in on the
 * copy with the exported password hash.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildBinary, freePort, startServer, stopServer, waitHealthy } from "./support.ts";

const TIMEOUT = 60_000;
const PAK = `pcft_live_${"S".repeat(43)}`;
const ALICE_PASSWORD = "Velvet-Harbour-73-Quill";
const WEBHOOK_SECRET = `whsec_${Buffer.alloc(32, 5).toString("base64")}`;

const work = mkdtempSync(join(tmpdir(), "heimdall-seed-"));
const runDir = join(work, "run");
let binary = "";
let port = 0;
let baseUrl = "";

const env = (): Record<string, string> => ({
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: process.env.HOME ?? work,
  HEIMDALL_PUBLIC_URL: baseUrl,
  HEIMDALL_BOOTSTRAP_PAK: PAK,
  HEIMDALL_LOG_LEVEL: "warn",
  DEMO_ALICE_PASSWORD: ALICE_PASSWORD,
  DEMO_WEBHOOK_SECRET: WEBHOOK_SECRET,
});

async function cli(args: string[], dataDir = "./data") {
  const proc = Bun.spawn([binary, ...args, "--data-dir", dataDir], {
    cwd: runDir,
    env: env(),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { stdout, stderr, code };
}

const SEED = `
version = 1

[[apps]]
slug = "demo"
display_name = "Demo"
auth_config = { signup_enabled = false, password_min_length = 14 }

[[apps.permissions]]
name = "invoice.read"
description = "Read invoices"

[[apps.roles]]
name = "billing"
description = "Billing staff"
permissions = ["invoice.read", "user.read"]

[[apps.m2m_clients]]
name = "backend"
scopes = ["invoice.read"]

[[apps.api_keys]]
name = "ci"
permissions = ["user.list"]

[[apps.users]]
email = "alice@example.com"
username = "alice"
display_name = "Alice"
role = "billing"
email_verified = true
password_env = "DEMO_ALICE_PASSWORD"

[[apps.tenants]]
slug = "acme"
display_name = "Acme"
metadata = { plan = "pro" }

[[apps.tenants.members]]
email = "alice@example.com"
role = "owner"

[apps.webhook]
url = "https://hooks.example.com/heimdall"
event_types = ["tenant.created", "user.signup"]
signing_secret_env = "DEMO_WEBHOOK_SECRET"
`;

/** The `m2m demo/backend client_id=… client_secret=…` line of the first apply. */
let clientId = "";
let clientSecret = "";

beforeAll(async () => {
  binary = buildBinary(work, runDir);
  port = freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  expect((await cli(["init"])).code).toBe(0);
  expect((await cli(["init"], "./copy")).code).toBe(0);
  writeFileSync(join(runDir, "seed.toml"), SEED);
}, TIMEOUT);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("heimdall seed apply / export", () => {
  test(
    "a malformed file: exit 2, every problem with its path, nothing applied",
    async () => {
      writeFileSync(
        join(runDir, "bad.json"),
        JSON.stringify({
          version: 1,
          apps: [
            { slug: "bad", display_name: "Bad", roles: [{ name: "x1", colour: "red" }] },
            { slug: "NO", display_name: "" },
          ],
        }),
      );
      const out = await cli(["seed", "apply", "bad.json"]);
      expect(out.code).toBe(2);
      expect(out.stderr).toContain("nothing applied");
      expect(out.stderr).toContain("apps[0].roles[0].colour: unknown key");
      expect(out.stderr).toContain("apps[1].slug:");
      expect(out.stderr).toContain("apps[1].display_name:");
      expect(out.stderr).not.toContain("    at ");
      writeFileSync(join(runDir, "broken.toml"), "version = 1\n[[apps]\n");
      const broken = await cli(["seed", "apply", "broken.toml"]);
      expect(broken.code).toBe(2);
      expect(broken.stderr).toContain("not valid TOML");
      const exported = await cli(["export"]);
      expect(exported.code).toBe(0);
      expect(JSON.parse(exported.stdout).apps).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "applies a TOML file, prints the generated secrets once; the second apply says 0 changes",
    async () => {
      const dry = await cli(["seed", "apply", "--dry-run", "seed.toml"]);
      expect(dry.code).toBe(0);
      expect(dry.stdout).toContain("+ app demo");
      expect(dry.stdout).toContain("nothing changed");

      const first = await cli(["seed", "apply", "seed.toml"]);
      expect(first.stderr).toBe("");
      expect(first.code).toBe(0);
      expect(first.stdout).toContain("+ role demo/billing");
      expect(first.stdout).toContain("+ tenant_member demo/acme alice@example.com (owner)");
      expect(first.stdout).toContain("+ webhook demo https://hooks.example.com/heimdall");
      // The given webhook secret is not printed.
      expect(first.stdout).not.toContain("whsec_");
      expect(first.stdout).toMatch(/seed apply: \d+ created, \d+ updated, 0 deleted/);
      const m = first.stdout.match(/^m2m demo\/backend client_id=(m2m_\w+) client_secret=(hcs_[\w-]+)$/m);
      expect(m).not.toBeNull();
      [, clientId, clientSecret] = m as unknown as [string, string, string];
      expect(first.stdout).toMatch(/^api_key demo\/ci key=hdk_live_[\w-]{43}$/m);

      const second = await cli(["seed", "apply", "seed.toml"]);
      expect(second.code).toBe(0);
      expect(second.stdout.trim()).toBe("seed apply: 0 changes");

      const json = await cli(["seed", "apply", "--json", "seed.toml"]);
      expect(JSON.parse(json.stdout)).toMatchObject({
        created: 0,
        updated: 0,
        deleted: 0,
        changes: [],
        secrets: [],
      });
    },
    TIMEOUT,
  );

  test(
    "export → seed apply into an empty data dir → the same export (users with their hashes, file mode 0600)",
    async () => {
      const exported = await cli(["export", "--with-users", "export.json"]);
      expect(exported.code).toBe(0);
      expect(exported.stderr).toContain("password hashes");
      expect(statSync(join(runDir, "export.json")).mode & 0o777).toBe(0o600);
      const first = readFileSync(join(runDir, "export.json"), "utf8");
      expect(first).not.toContain(clientSecret);

      const applied = await cli(["seed", "apply", "export.json"], "./copy");
      expect(applied.stderr).toBe("");
      expect(applied.code).toBe(0);
      // The copy's credentials are new ones, printed once.
      expect(applied.stdout).toMatch(/^m2m demo\/backend client_id=m2m_\w+ client_secret=hcs_/m);
      expect(applied.stdout).not.toContain(clientId);
      expect(applied.stdout).toMatch(/^webhook demo signing_secret=whsec_\S+$/m);
      expect(first).not.toContain(WEBHOOK_SECRET);
      expect(JSON.parse(first).apps[0]).toMatchObject({
        tenants: [
          {
            slug: "acme",
            display_name: "Acme",
            status: "active",
            metadata: { plan: "pro" },
            members: [{ email: "alice@example.com", role: "owner" }],
          },
        ],
        webhook: {
          url: "https://hooks.example.com/heimdall",
          event_types: ["user.signup", "tenant.created"],
        },
      });

      const second = await cli(["export", "--with-users"], "./copy");
      expect(second.code).toBe(0);
      expect(JSON.parse(second.stdout)).toEqual(JSON.parse(first));

      const toml = await cli(["export", "--format", "toml", "--app", "demo"]);
      expect(toml.code).toBe(0);
      expect(toml.stdout).toContain('[[apps]]\nslug = "demo"');
      expect(toml.stdout).not.toContain("password_hash");
    },
    TIMEOUT,
  );

  test(
    "over HTTP: the printed M2M secret mints a token, the Admin API shows the seeded role",
    async () => {
      const server = startServer({ binary, cwd: runDir, port, env: env() });
      try {
        await waitHealthy(baseUrl, server);
        const token = await fetch(`${baseUrl}/demo/v1/oauth/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({
            grant_type: "client_credentials",
            client_id: clientId,
            client_secret: clientSecret,
          }),
        });
        expect(token.status).toBe(200);
        expect(typeof ((await token.json()) as { access_token: string }).access_token).toBe("string");
        const role = await fetch(`${baseUrl}/v1/apps/demo/roles/billing`, {
          headers: { authorization: `Bearer ${PAK}` },
        });
        expect(role.status).toBe(200);
        const body = (await role.json()) as {
          description: string;
          permissions: { resource: string; action: string }[];
        };
        expect(body.description).toBe("Billing staff");
        expect(body.permissions.map((p) => `${p.resource}.${p.action}`)).toEqual([
          "invoice.read",
          "user.read",
        ]);
        const hook = await fetch(`${baseUrl}/v1/apps/demo/webhook`, {
          headers: { authorization: `Bearer ${PAK}` },
        });
        expect(hook.status).toBe(200);
        expect(await hook.json()).toMatchObject({
          url: "https://hooks.example.com/heimdall",
          signing_secret_hint: WEBHOOK_SECRET.slice(-4),
        });
        const tenants = await fetch(`${baseUrl}/v1/apps/demo/tenants`, {
          headers: { authorization: `Bearer ${PAK}` },
        });
        expect(tenants.status).toBe(200);
        const list = (await tenants.json()) as { data: { slug: string; id: string }[] };
        expect(list.data.map((t) => t.slug)).toEqual(["acme"]);
        const members = await fetch(`${baseUrl}/v1/apps/demo/tenants/${list.data[0]!.id}/members`, {
          headers: { authorization: `Bearer ${PAK}` },
        });
        expect(members.status).toBe(200);
        expect(((await members.json()) as { data: { role_name: string }[] }).data).toEqual([
          expect.objectContaining({ role_name: "owner" }),
        ]);
        // Beside the running server the apply is refused (it holds the data-dir lock for one transaction).
        const refused = await cli(["seed", "apply", "seed.toml"]);
        expect(refused.code).toBe(1);
      } finally {
        expect(await stopServer(server)).toBe(0);
      }
    },
    TIMEOUT,
  );

  test(
    "the copy: alice signs in with her password through the exported hash",
    async () => {
      const server = Bun.spawn(
        [binary, "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", "./copy"],
        { cwd: runDir, env: env(), stdin: "ignore", stdout: "pipe", stderr: "pipe" },
      );
      const running = {
        proc: server,
        stdout: new Response(server.stdout).text(),
        stderr: new Response(server.stderr).text(),
      };
      try {
        await waitHealthy(baseUrl, running);
        const res = await fetch(`${baseUrl}/demo/v1/auth/signin`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ identifier: "alice@example.com", password: ALICE_PASSWORD }),
        });
        expect(res.status).toBe(200);
      } finally {
        expect(await stopServer(running)).toBe(0);
      }
    },
    TIMEOUT,
  );
});

/** @module PAKs with an optional expiry: accepted until `expires_at`, then 401 INVALID_TOKEN like a revoked key; `heimdall pak create --expires-in`. */
import { beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { Io } from "../../../src/cli/args.ts";
import { runCli } from "../../../src/cli/index.ts";
import { DAY, HOUR, SECOND } from "../../../src/core/clock.ts";
import { MAX_KEY_LIFETIME_MS } from "../../../src/core/expiry.ts";
import { auditRows } from "../../support/fixtures.ts";
import { createTestContext, type TestContext } from "../../support/harness.ts";

const WS = { workspace_slug: "default" };
const KEYS = "/v1/workspaces/{workspace_slug}/api-keys";
const KEY = "/v1/workspaces/{workspace_slug}/api-keys/{id}";
const POLICIES = "/v1/workspaces/{workspace_slug}/policies";

let ctx: TestContext;
let cookie: string;
let adminPolicy: string;

beforeEach(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  const res = await ctx.call("GET", POLICIES, { params: WS });
  adminPolicy = res.body.data.find((p: { name: string }) => p.name === "heimdall-admin").id;
});

const at = (ms: number) => new Date(ms).toISOString();
const rowOf = async (id: string) => {
  const { paks } = ctx.deps.db.tables;
  return (await ctx.deps.db.select().from(paks).where(eq(paks.id, id)).limit(1))[0];
};
const pakCount = async () => (await ctx.deps.db.select().from(ctx.deps.db.tables.paks)).length;

function mint(body: Record<string, unknown>) {
  return ctx.call("POST", KEYS, {
    params: WS,
    body: { name: "expiring", policy_ids: [adminPolicy], ...body },
    auth: { cookie },
  });
}

const listApps = (pak: string) => ctx.call("GET", "/v1/apps", { auth: { pak } });

describe("minting a PAK with expires_at", () => {
  test("201: the record shows expires_at; stored; audited; GET and the list show it too", async () => {
    const expiresAt = at(ctx.clock.now() + 30 * DAY);
    const res = await mint({ expires_at: expiresAt });
    expect(res.status).toBe(201);
    expect(res.body.record.expires_at).toBe(expiresAt);
    const id = res.body.record.id;
    expect((await rowOf(id))!.expiresAt).toBe(Date.parse(expiresAt));
    expect((await auditRows(ctx, { action: "pak.created", resource_id: id })).at(-1)!.details).toMatchObject({
      expires_at: expiresAt,
    });

    const one = await ctx.call("GET", KEY, { params: { ...WS, id }, auth: { cookie } });
    expect(one.body.expires_at).toBe(expiresAt);
    const list = await ctx.call("GET", KEYS, { params: WS, auth: { cookie } });
    expect(list.body.find((k: { id: string }) => k.id === id).expires_at).toBe(expiresAt);
  });

  test("without expires_at the key never expires (expires_at: null)", async () => {
    const res = await mint({});
    expect(res.status).toBe(201);
    expect(res.body.record.expires_at).toBeNull();
    expect((await rowOf(res.body.record.id))!.expiresAt).toBeNull();
  });

  test.each([
    ["in the past", () => at(ctx.clock.now() - SECOND)],
    ["more than 730 days ahead", () => at(ctx.clock.now() + MAX_KEY_LIFETIME_MS + SECOND)],
    ["not a date-time", () => "tomorrow"],
  ] as [string, () => unknown][])(
    "expires_at %s → 400 VALIDATION_ERROR, nothing minted",
    async (_n, value) => {
      const before = await pakCount();
      const res = await mint({ expires_at: value() });
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("VALIDATION_ERROR");
      expect(res.body.details.map((d: { field: string }) => d.field)).toEqual(["expires_at"]);
      expect(await pakCount()).toBe(before);
    },
  );
});

describe("using an expiring PAK", () => {
  test("works until expires_at, then 401 INVALID_TOKEN exactly like a revoked PAK", async () => {
    const res = await mint({ expires_at: at(ctx.clock.now() + HOUR) });
    const { token } = res.body;
    expect((await listApps(token)).status).toBe(200);

    ctx.clock.advance(HOUR - SECOND);
    expect((await listApps(token)).status).toBe(200);

    ctx.clock.advance(SECOND);
    const expired = await listApps(token);
    expect(expired.status).toBe(401);
    expect(expired.body.code).toBe("INVALID_TOKEN");

    const other = await mint({});
    await ctx.call("DELETE", KEY, { params: { ...WS, id: other.body.record.id }, auth: { cookie } });
    const revoked = await listApps(other.body.token);
    expect(revoked.status).toBe(401);
    expect(revoked.body.code).toBe(expired.body.code);
    expect(revoked.body.message).toBe(expired.body.message);
    expect(expired.headers.get("www-authenticate")).toBe(revoked.headers.get("www-authenticate"));
  });

  test("a PAK, expiring or not, is not one of the apps' API keys in /v1/stats/me", async () => {
    const active = async () =>
      (await ctx.call("GET", "/v1/stats/me", { auth: { cookie } })).body.api_keys_active as number;
    expect(await active()).toBe(0);
    expect((await mint({ expires_at: at(ctx.clock.now() + HOUR) })).status).toBe(201);
    expect((await mint({})).status).toBe(201);
    expect(await active()).toBe(0);
    ctx.clock.advance(HOUR);
    expect(await active()).toBe(0);
  });
});

describe("heimdall pak create --expires-in / --expires-at", () => {
  const capture = () => {
    const out: string[] = [];
    const err: string[] = [];
    const io: Io = { out: (l) => out.push(l), err: (l) => err.push(l) };
    return { io, out, err };
  };

  async function initDir(): Promise<string> {
    const dir = mkdtempSync(join(tmpdir(), "heimdall-pak-expiry-"));
    const c = capture();
    const code = await runCli(["init", "--data-dir", dir], c.io);
    if (code !== 0) throw new Error(`init failed: ${c.err.join("\n")}`);
    return dir;
  }

  test("--expires-in 30d sets an expiry 30 days ahead; --help documents both flags", async () => {
    const dir = await initDir();
    const c = capture();
    const before = Date.now();
    const code = await runCli(
      ["pak", "create", "--name", "ci", "--expires-in", "30d", "--json", "--data-dir", dir],
      c.io,
    );
    expect(code).toBe(0);
    const { record } = JSON.parse(c.out.join("\n"));
    const expiresAt = Date.parse(record.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 30 * DAY);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * DAY);

    const help = capture();
    expect(await runCli(["pak", "create", "--help"], help.io)).toBe(0);
    expect(help.out.join("\n")).toContain("--expires-in <duration>");
    expect(help.out.join("\n")).toContain("--expires-at <date-time>");
  });

  test("--expires-at sets that instant; a past one is refused (exit 1, names the field)", async () => {
    const dir = await initDir();
    const ok = capture();
    const when = new Date(Date.now() + 10 * DAY).toISOString();
    expect(
      await runCli(
        ["pak", "create", "--name", "a", "--expires-at", when, "--json", "--data-dir", dir],
        ok.io,
      ),
    ).toBe(0);
    expect(JSON.parse(ok.out.join("\n")).record.expires_at).toBe(when);

    const past = capture();
    const code = await runCli(
      ["pak", "create", "--name", "b", "--expires-at", "2020-01-01T00:00:00Z", "--data-dir", dir],
      past.io,
    );
    expect(code).toBe(1);
    expect(past.err.join("\n")).toContain("expires_at: must be in the future");
  });

  test.each([
    ["a bad duration", ["--expires-in", "30 days"]],
    ["a zero duration", ["--expires-in", "0d"]],
    ["both flags", ["--expires-in", "1d", "--expires-at", "2030-01-01T00:00:00Z"]],
  ])("%s → usage error (exit 2)", async (_n, flags) => {
    const c = capture();
    const code = await runCli(["pak", "create", "--name", "x", ...flags, "--data-dir", "/nonexistent"], c.io);
    expect(code).toBe(2);
    expect(c.err.join("\n")).toContain("--expires-");
  });
});

/** @module The app-outbound-webhooks routes (GET/PUT/DELETE …/webhook, …/attempts, …/rotate-secret) and the replay route: shapes, URL rules, scoping and audit rows. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Tables } from "../../../src/db/client.ts";
import { type AppBody, auditRows, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { type Auth, createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { allow, deny, detailFields, errCode, expectLastAudit, insertPak } from "./fixtures.ts";

const HOOK = "/v1/apps/{app_id}/webhook";
const URL_OK = "https://hooks.example.com/heimdall";

let ctx: TestContext;
// The context's tables (PostgreSQL's twins on a PostgreSQL run), taken once the context exists.
let { apps, vaultSecrets, webhookConfigs } = {} as Tables;
let app: AppBody;

beforeAll(async () => {
  ctx = await createTestContext();
  ({ apps, vaultSecrets, webhookConfigs } = ctx.deps.db.tables);
  app = await createApp(ctx, "hooked");
});

const get = (ref = app.id, auth?: Auth) => ctx.call("GET", HOOK, { params: { app_id: ref }, auth });
/** The contract describes "null if no webhook is configured" in prose; its schema has no null, so this is checked here. */
const getNone = async (ref = app.id) => {
  const res = await ctx.call("GET", HOOK, { params: { app_id: ref }, unchecked: true });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toContain("application/json");
  expect(res.text).toBe("null");
};
const put = (body: unknown, ref = app.id, auth?: Auth) =>
  ctx.call("PUT", HOOK, { params: { app_id: ref }, body, auth });
const del = (ref = app.id, auth?: Auth) => ctx.call("DELETE", HOOK, { params: { app_id: ref }, auth });
const rotate = (ref = app.id, auth?: Auth) =>
  ctx.call("POST", `${HOOK}/rotate-secret`, { params: { app_id: ref }, auth });
const attempts = (ref = app.id, auth?: Auth) =>
  ctx.call("GET", `${HOOK}/attempts`, { params: { app_id: ref }, auth });

const configRow = async (appId: string) =>
  (await ctx.deps.db.select().from(webhookConfigs).where(eq(webhookConfigs.appId, appId)).limit(1))[0];

describe("configuration", () => {
  let secret = "";

  test("GET answers null while none is configured", async () => {
    await getNone(app.id);
    await getNone(app.slug);
  });

  test("PUT creates it and returns a whsec_ secret once; GET shows only its last four characters", async () => {
    const res = await put({ url: URL_OK, event_types: ["user.signup", "tenant.created", "user.signup"] });
    expect(res.status).toBe(200);
    secret = res.body.signing_secret;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(secret.slice(6), "base64").length).toBe(32);
    expect(res.body).toMatchObject({
      app_id: app.id,
      url: URL_OK,
      // Deduplicated, in the catalogue's order.
      event_types: ["user.signup", "tenant.created"],
      signing_secret_hint: secret.slice(-4),
      disabled_at: null,
      disabled_reason: null,
      consecutive_failures: 0,
    });

    const read = await get();
    expect(read.status).toBe(200);
    expect(read.body.signing_secret).toBeUndefined();
    expect(read.body.signing_secret_hint).toBe(secret.slice(-4));
    expect(read.text).not.toContain(secret.slice(6));

    // Sealed by the vault: the plaintext is nowhere in the database.
    const row = (await configRow(app.id))!;
    const sealed = (
      await ctx.deps.db.select().from(vaultSecrets).where(eq(vaultSecrets.id, row.secretId)).limit(1)
    )[0];
    expect(sealed).toBeDefined();
    expect(JSON.stringify(sealed)).not.toContain(secret.slice(6, 20));

    const audit = await expectLastAudit(ctx, app.id, "webhook.created", "pak");
    expect(audit.resource_id).toBe(res.body.id);
    expect(audit.details).toEqual({ url: URL_OK, event_types: ["user.signup", "tenant.created"] });
    expect(JSON.stringify(await auditRows(ctx))).not.toContain(secret.slice(6));
  });

  test("PUT again replaces url and types, keeps the secret and the id, and clears the disabled state", async () => {
    const before = (await configRow(app.id))!;
    await ctx.deps.db
      .update(webhookConfigs)
      .set({
        disabledAt: ctx.clock.now(),
        disabledReason: "10 consecutive failed delivery attempts",
        consecutiveFailures: 10,
      })
      .where(eq(webhookConfigs.id, before.id));
    ctx.clock.advance(1000);
    const res = await put({ url: "https://other.example.com/in", event_types: [] });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(before.id);
    expect(res.body.signing_secret).toBe(secret);
    expect(res.body).toMatchObject({
      url: "https://other.example.com/in",
      event_types: [],
      disabled_at: null,
      disabled_reason: null,
      consecutive_failures: 0,
    });
    expect(res.body.updated_at).not.toBe(res.body.created_at);
    expect((await configRow(app.id))!.secretId).toBe(before.secretId);
    const audit = await expectLastAudit(ctx, app.id, "webhook.updated", "pak");
    expect(audit.details).toEqual({ url: "https://other.example.com/in", event_types: [], re_enabled: true });
  });

  test("rotate-secret returns a new secret once; the old one is destroyed", async () => {
    const old = (await configRow(app.id))!;
    const res = await rotate();
    expect(res.status).toBe(200);
    expect(res.body.signing_secret).toMatch(/^whsec_/);
    expect(res.body.signing_secret).not.toBe(secret);
    expect(res.body.signing_secret_hint).toBe(res.body.signing_secret.slice(-4));
    expect((await get()).body.signing_secret_hint).toBe(res.body.signing_secret.slice(-4));
    const row = (await configRow(app.id))!;
    expect(row.secretId).not.toBe(old.secretId);
    expect(
      async () => await ctx.deps.vault.open(old.secretId, `webhook_secret:${app.id}:${old.id}`),
    ).toThrow();
    const audit = await expectLastAudit(ctx, app.id, "webhook.secret_rotated", "pak");
    expect(audit.details).toEqual({ secret_hint: res.body.signing_secret_hint });
    // A later PUT hands back the rotated secret, not the first one.
    expect((await put({ url: URL_OK, event_types: [] })).body.signing_secret).toBe(res.body.signing_secret);
  });

  test("attempts is an empty list before anything was sent", async () => {
    const res = await attempts();
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });

  test("DELETE answers 204, removes the row and its secret, and is idempotent", async () => {
    const row = (await configRow(app.id))!;
    const res = await del();
    expect(res.status).toBe(204);
    expect(await configRow(app.id)).toBeUndefined();
    expect(
      (await ctx.deps.db.select().from(vaultSecrets).where(eq(vaultSecrets.id, row.secretId)).limit(1))[0],
    ).toBeUndefined();
    const audit = await expectLastAudit(ctx, app.id, "webhook.deleted", "pak");
    expect(audit.details).toEqual({ url: URL_OK });
    const rows = (await auditRows(ctx, { app_id: app.id })).length;
    const again = await del();
    expect(again.status).toBe(204);
    // Nothing happened, so nothing is audited.
    expect((await auditRows(ctx, { app_id: app.id })).length).toBe(rows);
    await getNone();
  });

  test("rotate-secret and replay without a webhook answer 404 WEBHOOK_NOT_FOUND", async () => {
    const res = await rotate();
    expect(res.status).toBe(404);
    expect(errCode(res)).toBe("WEBHOOK_NOT_FOUND");
    const replay = await ctx.call("POST", `${HOOK}/replay`, {
      params: { app_id: app.id },
      body: { since: "2026-01-01T00:00:00.000Z" },
      unchecked: true,
    });
    expect(replay.status).toBe(404);
    expect(errCode(replay)).toBe("WEBHOOK_NOT_FOUND");
  });
});

describe("bad input: 400 naming the field, nothing stored", () => {
  let target: AppBody;
  beforeAll(async () => {
    target = await createApp(ctx, "hook-rules");
  });

  const cases: [string, unknown, string][] = [
    ["a malformed URL", { url: "not a url", event_types: [] }, "url"],
    ["an ftp:// URL", { url: "ftp://files.example.com/in", event_types: [] }, "url"],
    ["plain http to a public host", { url: "http://hooks.example.com/in", event_types: [] }, "url"],
    ["the cloud metadata address", { url: "https://169.254.169.254/latest", event_types: [] }, "url"],
    ["a link-local IPv6 literal", { url: "https://[fe80::1]/in", event_types: [] }, "url"],
    [
      "an IPv4-mapped metadata address",
      { url: "https://[::ffff:169.254.169.254]/in", event_types: [] },
      "url",
    ],
    [
      "a private address without webhook_allow_private",
      { url: "https://10.0.0.1/in", event_types: [] },
      "url",
    ],
    ["credentials in the URL", { url: "https://user:pw@hooks.example.com/in", event_types: [] }, "url"],
    ["the server's own public URL", { url: `${PUBLIC_URL}/v1/apps`, event_types: [] }, "url"],
    [
      "a URL over 2048 characters",
      { url: `https://hooks.example.com/${"a".repeat(2048)}`, event_types: [] },
      "url",
    ],
    [
      "an unknown event type",
      { url: URL_OK, event_types: ["user.signup", "user.exploded"] },
      "event_types.1",
    ],
    ["event_types missing", { url: URL_OK }, "event_types"],
    ["url missing", { event_types: [] }, "url"],
    ["an unknown body field", { url: URL_OK, event_types: [], secret: "whsec_mine" }, "secret"],
  ];

  test.each(cases)("%s", async (_name, body, field) => {
    const before = (await auditRows(ctx, { app_id: target.id })).length;
    const res = await put(body, target.id);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toContain(field);
    expect(await configRow(target.id)).toBeUndefined();
    expect((await auditRows(ctx, { app_id: target.id })).length).toBe(before);
  });

  test("loopback over plain http is allowed (a receiver on the same machine), but not Heimdall's listen port", async () => {
    const ok = await put({ url: "http://127.0.0.1:9911/hook", event_types: [] }, target.id);
    expect(ok.status).toBe(200);
    const self = await put(
      { url: `http://127.0.0.1:${ctx.deps.config.port}/hook`, event_types: [] },
      target.id,
    );
    expect(self.status).toBe(400);
    expect(detailFields(self)).toEqual(["url"]);
    expect((await configRow(target.id))!.url).toBe("http://127.0.0.1:9911/hook");
  });

  test("replay: a since that is not a date, or an unknown event type, is a 400 naming it", async () => {
    for (const [body, field] of [
      [{ since: "yesterday" }, "since"],
      [{ since: "2026-01-01T00:00:00Z", event_types: ["nope"] }, "event_types"],
      [{}, "since"],
    ] as const) {
      const res = await ctx.call("POST", `${HOOK}/replay`, {
        params: { app_id: target.id },
        body,
        unchecked: true,
      });
      expect(res.status).toBe(400);
      expect(errCode(res)).toBe("VALIDATION_ERROR");
      expect(detailFields(res).some((f) => f.startsWith(field))).toBe(true);
    }
  });
});

describe("operator settings", () => {
  let widened: TestContext;
  afterAll(() => widened.deps.db.$client.close());

  test("webhook_allow_private and webhook_allow_http accept private and plain-http targets; link-local stays refused", async () => {
    widened = await createTestContext({
      HEIMDALL_WEBHOOK_ALLOW_PRIVATE: "true",
      HEIMDALL_WEBHOOK_ALLOW_HTTP: "true",
    });
    const a = await createApp(widened, "homelab");
    const call = (url: string) =>
      widened.call("PUT", HOOK, { params: { app_id: a.id }, body: { url, event_types: [] } });
    expect((await call("https://10.0.0.1/in")).status).toBe(200);
    expect((await call("http://192.168.1.20:8000/in")).status).toBe(200);
    expect((await call("http://hooks.example.com/in")).status).toBe(200);
    const metadata = await call("http://169.254.169.254/latest/meta-data");
    expect(metadata.status).toBe(400);
    expect(detailFields(metadata)).toEqual(["url"]);
  });
});

describe("scoping and permissions", () => {
  let foreign: { token: string };
  let readOnly: { token: string };
  let noRotate: { token: string };
  let guarded: AppBody;

  beforeAll(async () => {
    guarded = await createApp(ctx, "hook-guarded");
    expect((await put({ url: URL_OK, event_types: [] }, guarded.id)).status).toBe(200);
    foreign = await insertPak(ctx, [allow(["heimdall.*"])], await insertWorkspace(ctx, "hooks-elsewhere"));
    readOnly = await insertPak(ctx, [allow(["heimdall.read"])]);
    noRotate = await insertPak(ctx, [allow(["heimdall.*"]), deny(["heimdall.rotate-secret"])]);
  });

  test("another workspace's PAK gets 404 on every webhook route, and changes nothing", async () => {
    const auth = { pak: foreign.token };
    const before = (await configRow(guarded.id))!;
    for (const res of [
      await get(guarded.id, auth),
      await put({ url: "https://evil.example.com/in", event_types: [] }, guarded.id, auth),
      await del(guarded.id, auth),
      await rotate(guarded.id, auth),
      await attempts(guarded.id, auth),
    ]) {
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("APP_NOT_FOUND");
    }
    expect(await configRow(guarded.id)).toEqual(before);
  });

  test("no credential: 401", async () => {
    const res = await get(guarded.id, null);
    expect(res.status).toBe(401);
  });

  test("a read-only PAK reads but cannot change; rotation needs heimdall.rotate-secret", async () => {
    expect((await get(guarded.id, { pak: readOnly.token })).status).toBe(200);
    expect((await attempts(guarded.id, { pak: readOnly.token })).status).toBe(200);
    const write = await put({ url: URL_OK, event_types: [] }, guarded.id, { pak: readOnly.token });
    expect(write.status).toBe(403);
    const rot = await rotate(guarded.id, { pak: noRotate.token });
    expect(rot.status).toBe(403);
    expect((await put({ url: URL_OK, event_types: [] }, guarded.id, { pak: noRotate.token })).status).toBe(
      200,
    );
  });

  test("an archived app's webhook is read-only: 409 APP_ARCHIVED", async () => {
    const archived = await createApp(ctx, "hook-archived");
    expect((await put({ url: URL_OK, event_types: [] }, archived.id)).status).toBe(200);
    await ctx.deps.db.update(apps).set({ status: "archived" }).where(eq(apps.id, archived.id));
    expect((await get(archived.id)).status).toBe(200);
    for (const res of [
      await put({ url: URL_OK, event_types: [] }, archived.id),
      await rotate(archived.id),
      await del(archived.id),
    ]) {
      expect(res.status).toBe(409);
      expect(errCode(res)).toBe("APP_ARCHIVED");
    }
    expect(await configRow(archived.id)).toBeDefined();
  });
});

describe("first writes racing", () => {
  // On PostgreSQL each PUT's transaction reads "none yet" before either commits; the loser's insert must not
  // surface as a 500, but land as the update it would have been a moment later.
  test("concurrent PUTs on an app without a webhook all succeed: one row, one secret, one created row", async () => {
    const raced = await createApp(ctx, "hook-race");
    const results = await Promise.all(
      [0, 1, 2, 3].map((i) => put({ url: `${URL_OK}/${i}`, event_types: ["user.signup"] }, raced.id)),
    );
    expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Every answer carries the secret, and it is the one secret the surviving row holds.
    expect(new Set(results.map((r) => r.body.signing_secret)).size).toBe(1);
    const rows = await ctx.deps.db.select().from(webhookConfigs).where(eq(webhookConfigs.appId, raced.id));
    expect(rows).toHaveLength(1);
    const actions = (await auditRows(ctx, { app_id: raced.id }))
      .map((r) => r.action)
      .filter((a) => a.startsWith("webhook."))
      .sort();
    expect(actions).toEqual(["webhook.created", "webhook.updated", "webhook.updated", "webhook.updated"]);
  });
});

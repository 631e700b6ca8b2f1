/** @module POST /v1/apps: input validation, workspace resolution, slug conflicts, idempotency and all-or-nothing creation. */
import { beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createApp as createHttpApp } from "../../../src/app.ts";
import { createAppService } from "../../../src/apps/service.ts";
import { HOUR } from "../../../src/core/clock.ts";
import { type AppBody, createApp, insertWorkspace } from "../../support/fixtures.ts";
import { createTestContext, PUBLIC_URL, type TestContext } from "../../support/harness.ts";
import { expectErrorShape } from "../../support/openapi.ts";
import { auditCount, detailFields, errCode } from "./fixtures.ts";

let ctx: TestContext;
let cookie: string;

beforeAll(async () => {
  ctx = await createTestContext();
  cookie = await ctx.signIn();
  await createApp(ctx, "taken");
});

const tables = () => ctx.deps.db.tables;

type Counted = "apps" | "signingKeys" | "vaultSecrets" | "authConfigs";
const count = async (name: Counted) => (await ctx.deps.db.select().from(tables()[name])).length;

async function snapshot() {
  return {
    apps: await count("apps"),
    keys: await count("signingKeys"),
    secrets: await count("vaultSecrets"),
    configs: await count("authConfigs"),
    audit: await auditCount(ctx),
  };
}

describe("validation", () => {
  const ok = { slug: "fine-slug", display_name: "Fine" };
  test.each([
    ["slug missing", { display_name: "X" }, ["slug"]],
    ["slug too short", { ...ok, slug: "ab" }, ["slug"]],
    ["slug too long", { ...ok, slug: "a".repeat(65) }, ["slug"]],
    ["slug leading hyphen", { ...ok, slug: "-abc" }, ["slug"]],
    ["slug trailing hyphen", { ...ok, slug: "abc-" }, ["slug"]],
    ["slug upper case", { ...ok, slug: "Acme" }, ["slug"]],
    ["slug underscore", { ...ok, slug: "a_b_c" }, ["slug"]],
    ["slug with a dot", { ...ok, slug: "a.b.c" }, ["slug"]],
    ["slug not a string", { ...ok, slug: 123 }, ["slug"]],
    ["slug shaped like a UUID", { ...ok, slug: "01234567-89ab-cdef-0123-456789abcdef" }, ["slug"]],
    ...["admin", "api", "docs", "console", "static", "assets", "metrics", "healthz", "readyz"].map(
      (s) => [`reserved slug ${s}`, { ...ok, slug: s }, ["slug"]] as const,
    ),
    ["display_name missing", { slug: "fine-slug" }, ["display_name"]],
    ["display_name empty", { ...ok, display_name: "" }, ["display_name"]],
    ["display_name blank", { ...ok, display_name: "   " }, ["display_name"]],
    ["display_name too long", { ...ok, display_name: "x".repeat(121) }, ["display_name"]],
    ["display_name not a string", { ...ok, display_name: ["x"] }, ["display_name"]],
    ["workspace_id not a string", { ...ok, workspace_id: 5 }, ["workspace_id"]],
    ["both bad", { slug: "A", display_name: "" }, ["slug", "display_name"]],
  ] as const)("%s → 400 VALIDATION_ERROR", async (_name, body, fields) => {
    const before = await snapshot();
    const res = await ctx.call("POST", "/v1/apps", { body });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual([...fields]);
    expect(await snapshot()).toEqual(before);
  });

  test("boundary values are accepted: 3- and 64-character slugs, 120-character name", async () => {
    const short = await createApp(ctx, "a-1", { display_name: "x".repeat(120) });
    expect(short.display_name).toHaveLength(120);
    const long = await createApp(ctx, `a${"-".repeat(62)}z`);
    expect(long.slug).toHaveLength(64);
  });

  test.each([
    ["malformed JSON", { raw: "{not json" }, "INVALID_JSON"],
    ["no body", {}, "VALIDATION_ERROR"],
    ["JSON array body", { body: [] }, "VALIDATION_ERROR"],
  ])("%s → 400", async (_name, opts, code) => {
    const res = await ctx.call("POST", "/v1/apps", opts);
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe(code);
  });

  test("unknown fields → 400 VALIDATION_ERROR naming each, nothing written", async () => {
    const before = await snapshot();
    const res = await ctx.call("POST", "/v1/apps", {
      body: { slug: "extra-fields", display_name: "X", colour: "blue", status: "archived", displayName: "Y" },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(res.body.details).toEqual([
      { field: "colour", reason: "unknown field" },
      { field: "status", reason: "unknown field" },
      { field: "displayName", reason: "unknown field; did you mean display_name?" },
    ]);
    expect(await snapshot()).toEqual(before);
  });
});

describe("workspace resolution", () => {
  test("duplicate slug → 409 SLUG_TAKEN, nothing written", async () => {
    const before = await snapshot();
    const res = await ctx.call("POST", "/v1/apps", { body: { slug: "taken", display_name: "Again" } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("SLUG_TAKEN");
    expect(await snapshot()).toEqual(before);
  });

  test.each([
    [
      "a workspace the caller is not in",
      () => insertWorkspace(ctx, `other-${Math.random().toString(36).slice(2, 8)}`),
    ],
    ["an unknown workspace", () => "00000000-0000-7000-8000-00000000abcd"],
    ["a non-UUID", () => "default"],
  ])("workspace_id of %s → 404 WORKSPACE_NOT_FOUND (both lanes)", async (_name, ws) => {
    const id = await ws();
    for (const auth of [undefined, { cookie }]) {
      const res = await ctx.call("POST", "/v1/apps", {
        body: { slug: "nowhere", display_name: "X", workspace_id: id },
        auth,
      });
      expect(res.status).toBe(404);
      expect(errCode(res)).toBe("WORKSPACE_NOT_FOUND");
    }
  });

  test("a member of several workspaces must name one", async () => {
    const ctx2 = await createTestContext();
    const cookie2 = await ctx2.signIn();
    const second = await insertWorkspace(ctx2, "second", "admin");
    const res = await ctx2.call("POST", "/v1/apps", {
      body: { slug: "which-one", display_name: "X" },
      auth: { cookie: cookie2 },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
    expect(detailFields(res)).toEqual(["workspace_id"]);
    const named = await ctx2.call<AppBody>("POST", "/v1/apps", {
      body: { slug: "which-one", display_name: "X", workspace_id: second },
      auth: { cookie: cookie2 },
    });
    expect(named.status).toBe(201);
    expect(named.body.workspace_id).toBe(second);
    // The bootstrap PAK still belongs to exactly one workspace, so it may omit it.
    const byPak = await ctx2.call<AppBody>("POST", "/v1/apps", {
      body: { slug: "pak-default", display_name: "X" },
    });
    expect(byPak.status).toBe(201);
    expect(byPak.body.workspace_id).toBe(ctx2.workspaceId);
  });
});

describe("Idempotency-Key", () => {
  const body = { slug: "idem-app", display_name: "Idem" };
  const headers = { "idempotency-key": "create-idem-app-1" };

  test("same key and body replays the first response; one app exists", async () => {
    const first = await ctx.call<AppBody>("POST", "/v1/apps", { body, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const before = await snapshot();
    const again = await ctx.call<AppBody>("POST", "/v1/apps", { body, headers });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await snapshot()).toEqual(before);
    const { apps } = tables();
    expect(await ctx.deps.db.select().from(apps).where(eq(apps.slug, "idem-app"))).toHaveLength(1);
  });

  test("same key with another body → 409 IDEMPOTENCY_KEY_REUSE", async () => {
    const before = await snapshot();
    const res = await ctx.call("POST", "/v1/apps", { body: { ...body, display_name: "Different" }, headers });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("IDEMPOTENCY_KEY_REUSE");
    expect(await snapshot()).toEqual(before);
  });

  test("keys are per caller: the same key from a person runs afresh (and meets the taken slug)", async () => {
    const res = await ctx.call("POST", "/v1/apps", { body, headers, auth: { cookie } });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("SLUG_TAKEN");
  });

  test("a failed attempt does not consume the key", async () => {
    const key = { "idempotency-key": "retry-after-failure" };
    const bad = await ctx.call("POST", "/v1/apps", {
      body: { slug: "taken", display_name: "X" },
      headers: key,
    });
    expect(bad.status).toBe(409);
    const { idempotencyKeys } = tables();
    expect(
      await ctx.deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "retry-after-failure")),
    ).toEqual([]);
  });

  test("after 24 h the key is forgotten", async () => {
    ctx.clock.advance(25 * HOUR);
    const res = await ctx.call("POST", "/v1/apps", { body, headers });
    expect(res.status).toBe(409);
    expect(errCode(res)).toBe("SLUG_TAKEN");
  });

  test("a duplicate sent while the first is still running → 409 IDEMPOTENCY_KEY_IN_USE; one app", async () => {
    const req = {
      body: { slug: "in-flight", display_name: "X" },
      headers: { "idempotency-key": "in-flight-1" },
    };
    const [a, b] = await Promise.all([ctx.call("POST", "/v1/apps", req), ctx.call("POST", "/v1/apps", req)]);
    expect([a!.status, b!.status].sort()).toEqual([201, 409]);
    expect(errCode(a!.status === 409 ? a! : b!)).toBe("IDEMPOTENCY_KEY_IN_USE");
    const { apps } = tables();
    expect(await ctx.deps.db.select().from(apps).where(eq(apps.slug, "in-flight"))).toHaveLength(1);
  });

  test("an overlong key → 400 VALIDATION_ERROR", async () => {
    const res = await ctx.call("POST", "/v1/apps", {
      body: { slug: "long-key", display_name: "X" },
      headers: { "idempotency-key": "k".repeat(256) },
    });
    expect(res.status).toBe(400);
    expect(errCode(res)).toBe("VALIDATION_ERROR");
  });
});

describe("all or nothing", () => {
  test("two concurrent creates of one slug: one 201, one 409, one app with exactly two keys", async () => {
    const before = await snapshot();
    const [a, b] = await Promise.all([
      ctx.call("POST", "/v1/apps", { body: { slug: "race-app", display_name: "A" } }),
      ctx.call("POST", "/v1/apps", { body: { slug: "race-app", display_name: "B" }, auth: { cookie } }),
    ]);
    expect([a!.status, b!.status].sort()).toEqual([201, 409]);
    expect(errCode(a!.status === 409 ? a! : b!)).toBe("SLUG_TAKEN");
    const winner = (a!.status === 201 ? a! : b!).body as AppBody;
    const { signingKeys } = tables();
    expect(await ctx.deps.db.select().from(signingKeys).where(eq(signingKeys.appId, winner.id))).toHaveLength(
      2,
    );
    expect(await snapshot()).toEqual({
      apps: before.apps + 1,
      keys: before.keys + 2,
      secrets: before.secrets + 2,
      configs: before.configs + 1,
      audit: before.audit + 1,
    });
    expect((await ctx.deps.audit.verify()).ok).toBe(true);
  });

  test("a failure after the app row, config and keys are written rolls all of them back", async () => {
    const { deps } = ctx;
    const failingKeys = {
      ...deps.keys,
      async insertInitialKeys(...args: Parameters<typeof deps.keys.insertInitialKeys>) {
        await deps.keys.insertInitialKeys(...args);
        throw new Error("simulated failure after the keys were inserted");
      },
    };
    const broken = createHttpApp({
      ...deps,
      apps: createAppService({
        db: deps.db,
        clock: deps.clock,
        audit: deps.audit,
        keys: failingKeys,
        directory: deps.directory,
        log: deps.log,
        mfa: deps.mfa,
        events: deps.events,
      }),
    });
    const before = await snapshot();
    const res = await broken.handle(
      new Request(`${PUBLIC_URL}/v1/apps`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ctx.pak}`,
          "content-type": "application/json",
          "idempotency-key": "doomed-key",
        },
        body: JSON.stringify({ slug: "doomed-app", display_name: "Doomed" }),
      }),
    );
    expect(res.status).toBe(500);
    expectErrorShape(await res.json(), "INTERNAL_ERROR");
    expect(await snapshot()).toEqual(before);
    const { idempotencyKeys } = deps.db.tables;
    expect(await deps.db.select().from(idempotencyKeys).where(eq(idempotencyKeys.key, "doomed-key"))).toEqual(
      [],
    );
    // Nothing half-made blocks the slug.
    const ok = await createApp(ctx, "doomed-app");
    expect(ok.slug).toBe("doomed-app");
    expect((await deps.audit.verify()).ok).toBe(true);
  });
});
